"""Commands about instances and programmes: ``siting list``, ``programmes``, ``show`` and ``validate``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from optimizer.cli.app import command, guard, option, out

if TYPE_CHECKING:
    from optimizer.data.instance import InstanceSpec


@command("list")
@option("--json", "as_json", is_flag=True, help="print the instances as JSON")
@guard
def list_cmd(as_json: bool = False) -> None:
    """List the named instances."""
    from rich.table import Table

    from optimizer.data.catalogue import list_instances

    if as_json:
        print(json.dumps(list_instances(), indent=2))
        return
    table = Table("name", "title", title="named instances (instances/*.toml)")
    for row in list_instances():
        table.add_row(row["name"], row["title"])
    out.print(table)


@command()
@option("--json", "as_json", is_flag=True, help="print the programmes as JSON")
@guard
def programmes(as_json: bool = False) -> None:
    """List the facility programmes of models/: what `siting locate --programme` accepts."""
    from rich.table import Table

    from optimizer.data.programmes import programme_catalogue

    rows = programme_catalogue()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("programme", "name", "model", "count", "sizes (m²)", "size rule", "locate",
                  title="programmes (models/*.toml)")
    for r in rows:
        if r["count"] is None:
            count = f"set by the model, per {r['region']}"
        elif r["region"] != "flanders":
            count = f"{r['per_region']} per {r['region']}"
        else:
            count = f"{r['count']:g} in total" if not isinstance(r["count"], str) else f"{r['count']} in total"
        sizes = ", ".join(f"{k} {v:,.0f}" if v is not None else f"{k} (assumption)" for k, v in r["sizes_m2"].items())
        table.add_row(r["id"], r["name"], r.get("model", "pmedian"), count, sizes, r["size_rule"],
                      "yes" if r["locate"] else "no (chain)")
    out.print(table)


@command()
@click.argument("name", help="instance name or manifest path")
@guard
def show(name: str) -> None:
    """Show an instance: description, programmes, parameters and the assumptions it uses."""
    from rich.table import Table

    from optimizer.data.instance import PARAMETERS, existing_rows, read_spec
    from optimizer.geo.access_rules import effective_rule, load_mode_rules

    # the manifest, checked, and the tables' row counts: a description reads no table (`siting validate` checks them)
    inst = read_spec(name)
    out.print(f"[bold]{inst.name}[/bold] — {inst.meta.get('title', '')}")
    out.print(str(inst.meta.get("description", "")), markup=False)
    out.print(f"source: {study_citation(str(inst.meta.get('source', '')))}", markup=False, highlight=False,
              soft_wrap=True)
    for line in _table_lines(inst):
        out.print(line, markup=False, highlight=False)
    rules = load_mode_rules() if inst.parameters["access_rules"] != "none" else None
    for prog in inst.programmes:
        sizes = ", ".join(f"{k} {v:,.0f} m²" for k, v in prog.sizes_for(str(inst.parameters["size_variant"])).items())
        model = prog.model
        if prog.is_coverage and prog.service_km is not None:
            named = f" = assumption {prog.references['service_km']}" if "service_km" in prog.references else ""
            model += f", service distance {prog.service_km:g} km{named}, cover {prog.cover}"
        out.print(f"programme [bold]{prog.id}[/bold]: {prog.name}; per {prog.region}; sizes {sizes}; rule {prog.size_rule}; "
                  f"model {model}; transport {' / '.join(prog.transport_modes)}", markup=True)
        for size, code in prog.access_codes.items():
            rule = effective_rule(rules, str(inst.parameters["access_rules"]), code, prog.id, inst.parameters)
            kv = rule.get("min_knooppuntwaarde", 0.0)
            out.print(f"  {size}: access rule {inst.parameters['access_rules']}.{code}; minimum knooppuntwaarde {kv:g}"
                      + (" (--set)" if rule.get("min_knooppuntwaarde_source") else ""))
    table = Table("parameter", "value", "meaning", title="parameters (change with --set key=value)")
    for key, spec in PARAMETERS.items():
        table.add_row(key, str(inst.parameters[key]), spec.doc)
    for key in sorted(k for k in inst.parameters if k.startswith("min_knooppuntwaarde.")):
        table.add_row(key, str(inst.parameters[key]), "minimum knooppuntwaarde of one programme")
    out.print(table)
    used = {a for p in inst.programmes for a in (p.demand_per_inhabitant, p.capacity_per_m2) if a}
    used |= {a for p in inst.programmes for a in p.references.values()}  # service distances, counts
    used |= {"access_circuity", "cost_road_eur_per_tkm", "cost_water_eur_per_tkm", "cost_rail_eur_per_tkm",
             "transhipment_eur_per_t", "local_trip_max_km", "intrazonal_distance_factor", "seaport_free_share",
             "zone_free_land_allocation", "seaport_zone_min_share", "water_min_cemt", "rail_freight_categories",
             "utilisation_floor"}
    if any(p.kind == "chain" for p in inst.programmes):  # yields, streams, imports, water transport
        used |= {k for k in inst.assumptions if k.startswith("chain_") and not k.endswith("_by_period")}
        used |= {"sorting_throughput_t_per_m2_yr", "cost_water_eur_per_tkm", "transhipment_eur_per_t",
                 "link_detour_water"} & set(inst.assumptions)
    if "existing" in inst.tables:  # figures of the existing-facility table given as assumption names
        placed = {p.id for p in inst.programmes} | ({"sorteercentrum"} if any(p.kind == "chain" for p in inst.programmes)
                                                     else set())
        rows = [r for r in existing_rows(inst) if r["programme"] in placed]
        used |= {a for r in rows for a in r["assumptions_used"]}
        out.print(f"existing facilities: {len(rows)} ({', '.join(r['facility_id'] for r in rows)}); "
                  "docs/existing-facilities.md")
    if inst.generator.get("parcel_sizes") == "lognormal":  # generated plots (optimizer.data.generate.parcel_land)
        used.add("parcel_size_lognormal_sigma")
    if inst.generator.get("demand_units") == "neighbourhoods":  # demand below the municipality
        used.add("neighbourhood_population_rule")
    periods = inst.periods()
    if periods is not None:
        used |= set(periods.assumptions_used)
        out.print(f"periods: {', '.join(periods.labels)} (docs/periods.md)")
    atable = Table(title="named assumptions used (models/*.toml)")
    atable.add_column("assumption", no_wrap=True)
    atable.add_column("value", overflow="fold")
    atable.add_column("unit", overflow="fold")
    for key in sorted(used):
        a = inst.assumptions[key]
        atable.add_row(key, str(a.value), a.unit)
    out.print(atable)


def _table_lines(inst: InstanceSpec) -> list[str]:
    """How many demand units and candidate sites the instance's tables hold (counted, not read), or what its
    generator draws."""
    from optimizer.data.manifest_tables import table_rows

    if inst.generator:
        g = inst.generator
        return [f"demand units: {g['demand_points']:,} generated points ({g.get('demand_units', 'municipalities')})   "
                f"candidate sites: {g['candidate_parcels']:,} generated parcels (seed {g['seed']})"]
    demand, _ = table_rows(inst.tables["demand"], inst.path, "demand", inst.roots)
    given = inst.tables["candidates"]
    counts = [table_rows(t, inst.path, "candidates" if not isinstance(given, list) else f"candidates[{k}]", inst.roots)
              for k, t in enumerate(given if isinstance(given, list) else [given])]
    sites, zones = sum(n for n, _ in counts), sum(z for _, z in counts)
    return [f"demand units: {demand}   candidate sites: {sites}",
            f"candidate zones (polygons): {zones}   point candidates: {sites - zones}"]


STUDY = "Sweco for Departement Omgeving, \"Een passende omgeving voor circulaire economie\""


def study_citation(source: str) -> str:
    """A manifest's ``source`` as a reader can follow it: the study's lines (``L1234-1240``, line numbers of the
    study's text), not the sections of this project's digest, which a user does not have."""
    import re

    parts = [p.strip() for p in source.split(";") if p.strip()]
    lines = [ref for p in parts if not p.upper().startswith("DIGEST") for ref in re.findall(r"L\d+(?:-\d+)?", p)]
    other = [p for p in parts if not p.upper().startswith("DIGEST") and not re.search(r"L\d+", p)]
    if lines:
        return f"the study ({STUDY}), lines {', '.join(lines)}" + (f"; {'; '.join(other)}" if other else "")
    return "; ".join(other) or "not given"


@command()
@click.argument("path", help="instance name, manifest, matrix folder or TOML, or a result folder (then it is verified)")
@guard
def validate(path: str) -> None:
    """Check an instance (manifest, tables, programmes, or a matrix instance) without solving it; given a result
    folder, verify the stored result (as `siting verify`)."""
    from pathlib import Path

    from optimizer.atomic import folder_marker
    from optimizer.data.instance import is_matrix_instance

    given = Path(path)
    if given.is_dir() and folder_marker(given) == "result":
        from optimizer.cli.verify import verify

        verify.callback.__wrapped__(given)  # type: ignore[union-attr]  # the command body, under this command's guard
        return
    if is_matrix_instance(path):
        from optimizer.data.matrix_files import load_matrix_instance

        problem = load_matrix_instance(given)
        out.print(f"ok: {problem.name} — matrix instance, {problem.n_clients} clients, {problem.n_options} "
                  f"facilities, {problem.n_arcs} allowed pairs", markup=False, highlight=False, soft_wrap=True)
        return
    from optimizer.data.instance import is_chain_instance, load_instance

    inst = load_instance(path)
    if is_chain_instance(path):
        from optimizer.model.chain_compile import compile_chain

        cc = compile_chain(inst)  # the chain's own checks (variants, existing sites, gateways)
        out.print(f"ok: {inst.name} — plastics chain, {len(inst.demand)} municipalities, {cc.problem.n_fac} "
                  f"candidate facilities, {cc.problem.n_arcs} arcs", markup=False, highlight=False, soft_wrap=True)
        return
    out.print(f"ok: {inst.name} — {len(inst.demand)} demand units, {len(inst.candidates)} candidate sites, "
              f"programmes {', '.join(p.id for p in inst.programmes)}", markup=False, highlight=False, soft_wrap=True)
