"""Commands about instances: ``siting list``, ``show`` and ``validate``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from optimizer.cli.app import guard, out


@guard
def list_cmd() -> None:
    """List the named instances."""
    from optimizer.data.instance import list_instances

    table = Table("name", "title", title="named instances (instances/*.toml)")
    for row in list_instances():
        table.add_row(row["name"], row["title"])
    out.print(table)


@guard
def show(name: Annotated[str, typer.Argument(help="instance name or manifest path")]) -> None:
    """Show an instance: description, programmes, parameters and the assumptions it uses."""
    from optimizer.data.instance import PARAMETERS, load_instance

    inst = load_instance(name)
    out.print(f"[bold]{inst.name}[/bold] — {inst.title}")
    out.print(inst.description, markup=False)
    out.print(f"source: {inst.source}", markup=False)
    out.print(f"demand units: {len(inst.demand)}   candidate sites: {len(inst.candidates)}")
    for prog in inst.programmes:
        sizes = ", ".join(f"{k} {v:,.0f} m²" for k, v in prog.sizes_for(str(inst.parameters["size_variant"])).items())
        out.print(f"programme [bold]{prog.id}[/bold]: {prog.name}; per {prog.region}; sizes {sizes}; rule {prog.size_rule}")
    table = Table("parameter", "value", "meaning", title="parameters (change with --set key=value)")
    for key, spec in PARAMETERS.items():
        table.add_row(key, str(inst.parameters[key]), spec.doc)
    out.print(table)
    used = {a for p in inst.programmes for a in (p.demand_per_inhabitant, p.capacity_per_m2) if a}
    used |= {"access_circuity", "cost_road_eur_per_tkm", "intrazonal_distance_factor", "seaport_free_share"}
    atable = Table("assumption", "value", "unit", title="named assumptions used (models/*.toml)")
    for key in sorted(used):
        a = inst.assumptions[key]
        atable.add_row(key, str(a.value), a.unit)
    out.print(atable)


@guard
def validate(path: Annotated[str, typer.Argument(help="instance name or manifest path")]) -> None:
    """Check an instance (manifest, tables, programmes) without solving it."""
    from optimizer.data.instance import load_instance

    inst = load_instance(path)
    out.print(f"ok: {inst.name} — {len(inst.demand)} demand units, {len(inst.candidates)} candidate sites, "
              f"programmes {', '.join(p.id for p in inst.programmes)}")
