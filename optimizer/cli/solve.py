"""Commands that solve one instance: ``siting solve`` (named, manifest, matrix or chain instances) and ``chain``.

Every kind goes through the one pipeline (:func:`optimizer.pipeline.run`); an option that has no meaning for a
kind is refused in one line (exit 2) before any work, never ignored.
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli.app import PATH, command, gap_text, guard, nullcontext, option, out, print_json, print_tensions
from optimizer.cli.progress import Progress, progress_option


@command()
@click.argument("name", help="instance name (see `siting list`), manifest path, or matrix instance")
@option("--out", "out_dir", type=PATH, help="result folder (default results/NAME)")
@option("--time-limit", type=float, help="solver time limit, seconds")
@option("--mip-gap", type=float, help="relative MIP gap to stop at")
@option("--threads", type=int, help="solver threads")
@option("--set", "set_", multiple=True, help="override a parameter: key=value (repeatable)")
@option("--backend", default="auto", help="auto, pyomo or highspy")
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@option("--geoparquet", is_flag=True, help="also write every layer as GeoParquet")
@option("--crs", help="CRS of the GIS output, e.g. EPSG:4326 (default EPSG:31370, Belgian Lambert 72)")
@option("--progress", default="none", help="none, or jsonl: JSON progress lines on stderr")
@guard
def solve(name: str, out_dir: Path | None = None, time_limit: float | None = None, mip_gap: float | None = None,
          threads: int | None = None, set_: tuple[str, ...] = (), backend: str = "auto", quiet: bool = False,
          as_json: bool = False, geoparquet: bool = False, crs: str | None = None, progress: str = "none") -> None:
    """Solve an instance, verify the result independently and write GeoPackage, CSV and summary.json."""
    from optimizer.cli.app import check_solver_options
    from optimizer.data.instance import parse_overrides

    check_solver_options(time_limit, mip_gap, threads)
    _solve(name, out_dir, time_limit=time_limit, mip_gap=mip_gap, threads=threads,
           overrides=parse_overrides(list(set_)), backend=backend, quiet=quiet, as_json=as_json,
           geoparquet=geoparquet, crs=checked_crs(crs), progress=progress_option(progress))


@command()
@click.argument("name", help="chain instance (e.g. s2b-plastics-chain) or manifest path")
@option("--out", "out_dir", type=PATH, help="result folder (default results/NAME)")
@option("--time-limit", type=float, help="solver time limit, seconds")
@option("--set", "set_", multiple=True, help="override a parameter: key=value (repeatable)")
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@guard
def chain(name: str, out_dir: Path | None = None, time_limit: float | None = None, set_: tuple[str, ...] = (),
          quiet: bool = False, as_json: bool = False) -> None:
    """Solve a multi-echelon plastics-chain instance (S2b, S5, S8); the same as `siting solve` on it."""
    from optimizer.cli.app import check_solver_options
    from optimizer.data.instance import is_chain_instance, load_instance, parse_overrides, resolve_instance_path
    from optimizer.errors import InputError

    check_solver_options(time_limit, None, None)
    overrides = parse_overrides(list(set_))
    if not is_chain_instance(name):  # a chain instance, or the chain over periods (s2e-p2c-rampup)
        inst = load_instance(name, overrides)  # a broken manifest is reported as such, not as "not a chain"
        msg = (f"{inst.name} is not a plastics-chain instance (it places {', '.join(p.id for p in inst.programmes)}): "
               f"solve it with `siting solve {name}`; chain instances are s2b-plastics-chain, s5-*, s8-*")
        raise InputError(msg, file=resolve_instance_path(name), field="programmes.place")
    _solve(name, out_dir, time_limit=time_limit, overrides=overrides, quiet=quiet, as_json=as_json)


def _solve(name: str, out_dir: Path | None, *, time_limit: float | None = None, mip_gap: float | None = None,
           threads: int | None = None, overrides: dict[str, str] | None = None, backend: str = "auto",
           quiet: bool = False, as_json: bool = False, geoparquet: bool = False, crs: str | None = None,
           progress: str = "none") -> None:
    from optimizer.atomic import check_destination
    from optimizer.data.instance import resolve_instance_path
    from optimizer.pipeline import run

    _not_an_output(name)
    target = out_dir if out_dir is not None else default_out(name)
    # before solving, for every kind (named, matrix, chain, periods): a refused --out costs no solve
    check_destination(target, (resolve_instance_path(name),))
    show_progress = not (quiet or as_json) and progress == "none"
    with out.status("starting", spinner="dots") if show_progress else nullcontext() as status:
        report = Progress(progress, quiet=quiet or as_json, status=status)
        result = run(name, overrides=overrides, out_dir=target, time_limit_s=time_limit, mip_gap=mip_gap,
                     threads=threads, backend=backend, progress=report.stage, geoparquet=geoparquet, crs=crs)
        report.stage("done")
    if as_json:
        print_json({**result.summary, "out_dir": str(result.folder)})
    elif not quiet:
        print_summary(result.summary, result.folder)


def print_summary(s: dict, where: Path | None) -> None:
    """The result of a solve for people, for every kind: what was placed, objective, gap, where it was written."""
    from optimizer.output.summary import kind_of

    kind = kind_of(s)
    {"named": _print_named, "matrix": _print_matrix, "chain": _print_chain, "periods": _print_periods,
     "chain_periods": _print_periods}[kind](s)
    if where is not None:
        files = {"named": "result.gpkg, allocations.csv, facilities.csv, demand.csv",
                 "chain": "result.gpkg, facilities.csv, flows.csv", "matrix": "facilities.csv, assignments.csv, "
                 "clients.csv", "periods": "result.gpkg with a layer per period, allocations.csv, facilities.csv, "
                 "demand.csv", "chain_periods": "result.gpkg with a layer per period, "
                 "facilities.csv, flows.csv, transitions.csv"}[kind]
        out.print(f"written to {where} ({files}, summary.json)", markup=False)


def _not_an_output(name: str) -> None:
    """A folder siting wrote (a result, a front, a sweep) is not an instance: say so instead of a missing table."""
    from optimizer.atomic import folder_marker
    from optimizer.errors import InputError

    kind = folder_marker(Path(name)) if Path(name).is_dir() else None
    if kind is not None:
        raise InputError(f"is a siting {kind} folder, not an instance: solve the instance it came from "
                         "(`siting verify` re-checks a result)", file=name)


def default_out(name: str) -> Path:
    """``results/NAME``: the instance's name, or the name of the folder or file given (never ``results/`` itself,
    which ``siting solve .`` once gave)."""
    p = Path(name)
    stem = (p.resolve().stem if p.exists() else p.stem) or "result"
    return Path("results") / stem


def checked_crs(crs: str | None) -> str | None:
    """Validate ``--crs`` before any solving, so a typo costs no solve time."""
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    from optimizer.errors import InputError

    try:
        return CRS.from_user_input(crs).to_string()
    except CRSError:
        msg = f"unknown CRS {crs!r}; use an EPSG code such as EPSG:31370 (Lambert 72) or EPSG:4326 (WGS 84)"
        raise InputError(msg, field="--crs") from None


def _not_optimal(s: dict) -> None:
    if s["status"] != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {s['status']}, proven gap {gap_text(s['gap'])} "
                  "(time limit reached; the best solution found is reported)")


def _print_matrix(s: dict) -> None:
    _not_optimal(s)
    model = s.get("model") or {}
    name = model.get("name", "pmedian")
    service = f", service {model['service']:g}" if model.get("service") is not None else ""
    objective = model.get("objective", s["objective"]["total"])
    out.print(f"{s['instance']}: {name}{service}: status [bold]{s['status']}[/bold], objective {objective:,.6f} "
              f"{model.get('objective_unit', s['objective']['unit'])}, gap {gap_text(s['gap'], 4)}, "
              f"open {s['facilities']}; verified: yes")
    print_models(s)


def _print_named(s: dict) -> None:
    from rich.table import Table

    _not_optimal(s)
    table = Table(title=f"{s['instance']} — {s['title']}")
    table.add_column("programme")
    table.add_column("facilities", justify="right")
    table.add_column("per size")
    table.add_column("land take (ha)", justify="right")
    units = {p.get("model", {}).get("demand_unit", "t/yr") for p in s["programmes"].values()}
    residents = units == {"residents"}  # S3c: coverage of people, not tonnes
    table.add_column("residents" if residents else "t/yr", justify="right")
    table.add_column("resident·km" if residents else "t·km/yr", justify="right")
    for pid, p in s["programmes"].items():
        sizes = ", ".join(f"{v} {k}" for k, v in sorted(p["count_per_size"].items()))
        table.add_row(pid, str(p["facilities"]), sizes, f"{p['land_take_ha']:.1f}", f"{p['tonnes_per_yr']:,.0f}",
                      f"{p['tkm_per_yr']:,.0f}")
    out.print(table)
    obj = s["objective"]
    out.print(f"status [bold]{s['status']}[/bold], gap {gap_text(s['gap'], 4)}, objective {obj['total']:,.2f} "
              f"{obj['unit']} (transport {obj['transport']:,.2f}, land {obj['land']:,.2f}); land take "
              f"{s['land_take_ha']:.1f} ha")
    print_modal_split(s)
    geo = s.get("geography")
    if geo:
        out.print(f"sites: {geo['zones']} candidate zones + {geo['candidates'] - geo['zones']} point candidates "
                  f"({geo['aggregate_candidates']} aggregates); costs on the networks (local trips up to "
                  f"{geo.get('local_trip_max_km', 0):g} km)")
    print_tensions(s.get("rule_tensions") or [])
    print_models(s)
    sparse = s.get("sparsify") or {}
    if sparse.get("sparse"):
        k = sparse["k_final"]
        if sparse["rounds"] == 0 and sparse["certified"]:  # rows that separate: solved by evaluating every pair
            out.print(f"sparsified: {sparse['pairs']:,} pairs → {sparse['arcs_final']:,} arcs kept; [bold]certified"
                      f"[/bold]: {sparse['guarantee']}")
        else:
            out.print(f"sparsified: {sparse['pairs']:,} pairs → {sparse['arcs_final']:,} k-nearest arcs (k {k['min']}–{k['max']}, "
                      f"median {k['median']:g}) in {sparse['rounds']} certificate round(s); "
                      + ("[bold]certified[/bold]: equal to the dense optimum" if sparse["certified"]
                         else "[bold red]NOT certified[/bold red]: the gap is against the dense bound"))
    t = s["timings_s"]
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in t.items()) + "; verified: "
              + ("yes" if s["verification"]["passed"] else "NO"))


def print_modal_split(s: dict) -> None:
    """Demand × km per mode and their shares; for tonnes also transhipped tonnes and (named results) EUR per mode
    (docs/geography.md). Residents' trips (S3c) have no price per mode and no transhipment."""
    split = s.get("modal_split")
    if not split:
        return
    unit = split.get("unit", "t·km")
    parts = [f"{m} {split['tkm'][m]:,.0f} {unit} ({100 * split['tkm_share'][m]:.1f}%)" for m in ("road", "water", "rail")]
    line = "modal split: " + ", ".join(parts)
    if split.get("transhipped_t") is not None:
        line += f"; transhipped {split['transhipped_t']:,.0f} t"
    eur = split.get("eur")
    out.print(line + ("; EUR " + ", ".join(f"{m} {v:,.0f}" for m, v in eur.items()) if eur else ""))


def print_models(s: dict) -> None:
    """The coverage models (model, service distance and the assumption behind it, objective, coverage), the counts
    per region when a coverage model placed something, and the equity figures of every programme."""
    from rich.table import Table

    from optimizer.output.equity import equity_lines

    progs = s.get("programmes", {})
    coverage = {pid: p["model"] for pid, p in progs.items() if p.get("model", {}).get("name", "pmedian") != "pmedian"}
    for pid, m in coverage.items():
        service = m.get("service_km")
        named = f" (assumption {m['service_assumption']})" if m.get("service_assumption") else ""
        distance = f"service distance {service:g} km{named}" if service is not None else "no service distance"
        objective = (f"{m['objective']:,.6g} {m.get('objective_unit', '')}" if m.get("objective") is not None
                     else "see its group")
        reach = (f", {m['beyond_reach_demand']:,.0f} {m['demand_unit']} beyond reach of every candidate"
                 if m.get("beyond_reach_demand") else "")
        share = m.get("covered_share")
        out.print(f"{pid}: [bold]{m['name']}[/bold], {distance}: objective {objective}, {m.get('status', '')}; "
                  f"covered {m['covered_demand']:,.0f} {m['demand_unit']}"
                  + (f" ({100 * share:.1f} %)" if share is not None else "") + reach)
    if coverage:
        regions = sorted({r for p in progs.values() for r in p.get("facilities_per_region", {})})
        table = Table("region", *progs, title="facilities per region")
        for r in regions:
            table.add_row(r, *(str(p.get("facilities_per_region", {}).get(r, 0)) for p in progs.values()))
        table.add_row("[bold]total[/bold]", *(f"[bold]{p['facilities']}[/bold]" for p in progs.values()))
        out.print(table)
    equity = s.get("equity")
    if equity:
        out.print("equity (distance to the serving facility, demand-weighted):")
        for line in equity_lines(equity):
            out.print(f"  {line}")


def _print_periods(s: dict) -> None:
    from rich.table import Table

    if s["status"] != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {s['status']}, proven gap {gap_text(s['gap'])}")
    chain = s.get("kind") == "chain_periods"
    table = Table("period", "years", "facilities" if not chain else "new (sort/mech/chem)", "opened", "closed",
                  "new land (ha)", "on reserve (ha)", "yearly cost (EUR)", "one-off (EUR)",
                  title=f"{s['instance']} — {s['title']}")
    for p in s["periods"]:
        if chain:
            n = "/".join(str(v["new"]) for v in p["facilities_per_echelon"].values())
            land, yearly, reserve = p["new_land_take_ha"], p["yearly_cost_eur"], "–"
        else:
            n, land, yearly = str(p["facilities"]), p["land_take_ha"], p["objective"]["total"]
            reserve = f"{p['land_take_by_kind_ha'].get('reserve', 0.0):.1f}"
        table.add_row(p["period"], f"{p['years']:g}", n, str(len(p["opened"])), str(len(p["closed"])), f"{land:.1f}",
                      reserve, f"{yearly:,.0f}", f"{p['opening_cost_eur'] + p['closing_cost_eur']:,.0f}")
    out.print(table)
    obj = s["objective"]
    out.print(f"status [bold]{s['status']}[/bold], gap {gap_text(s['gap'], 4)}, objective {obj['total']:,.0f} "
              f"{obj['unit']} (yearly costs × years {obj['yearly_costs_over_periods']:,.0f}, opening "
              f"{obj['opening']:,.0f}, closing {obj['closing']:,.0f}); verified per period: yes")
    t = s["timings_s"]
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in t.items()))


def _print_chain(s: dict) -> None:
    from rich.table import Table

    _not_optimal(s)
    table = Table("echelon", "existing", "new", "new land (ha)", title=f"{s['instance']} — {s['title']}")
    for e, n in s["facilities_per_echelon"].items():
        table.add_row(e, str(n["existing"]), str(n["new"]), f"{s['land_take_per_echelon_ha'].get(e, 0.0):.1f}")
    out.print(table)
    t = s["tonnes"]
    out.print(f"status [bold]{s['status']}[/bold], gap {gap_text(s['gap'], 4)}, objective {s['objective_eur_per_yr']:,.0f} EUR/yr "
              f"(transport {s['transport_eur_per_yr']:,.0f}, land {s['land_cost_eur_per_yr']:,.0f}); new land take "
              f"{s['new_land_take_ha']:.1f} ha; PMD {t['pmd_collected']:,.0f} t, imports {t['imports']:,.0f} t, "
              f"into mechanical {t['into_mechanical']:,.0f} t, into chemical {t['into_chemical']:,.0f} t; verified: yes")
    print_modal_split(s)
    print_models(s)
