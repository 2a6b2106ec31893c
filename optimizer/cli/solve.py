"""Commands that solve one instance: ``siting solve`` (named, manifest, matrix or chain instances) and ``chain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from optimizer.cli.app import gap_text, guard, nullcontext, out, print_json, print_tensions
from optimizer.cli.progress import Progress, progress_option


@guard
def solve(
    name: Annotated[str, typer.Argument(help="instance name (see `siting list`), manifest path, or matrix instance")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="result folder (default results/NAME)")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="solver time limit, seconds")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="relative MIP gap to stop at")] = None,
    threads: Annotated[int | None, typer.Option(help="solver threads")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: key=value (repeatable)")] = None,
    backend: Annotated[str, typer.Option(help="auto, pyomo or highspy")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    geoparquet: Annotated[bool, typer.Option("--geoparquet", help="also write every layer as GeoParquet")] = False,
    crs: Annotated[str | None, typer.Option("--crs", help="CRS of the GIS output, e.g. EPSG:4326 "
                                                          "(default EPSG:31370, Belgian Lambert 72)")] = None,
    progress: Annotated[str, typer.Option("--progress", help="none, or jsonl: JSON progress lines on stderr")] = "none",
) -> None:
    """Solve an instance, verify the result independently and write GeoPackage, CSV and summary.json."""
    from optimizer.atomic import check_destination
    from optimizer.cli.app import check_solver_options
    from optimizer.data.instance import is_chain_instance, is_periods_instance, parse_overrides, resolve_instance_path
    from optimizer.errors import InputError
    from optimizer.pipeline import run

    check_solver_options(time_limit, mip_gap, threads)
    overrides = parse_overrides(set_ or [])
    crs = _checked_crs(crs)
    _not_an_output(name)
    target = out_dir if out_dir is not None else default_out(name)
    if _is_matrix_instance(name):
        unsupported = [flag for flag, given in (("--set", overrides), ("--crs", crs), ("--geoparquet", geoparquet))
                       if given]
        if unsupported:
            msg = (f"{unsupported[0]} does not apply to a matrix instance (no parameters, no coordinates): its "
                   "settings are in its problem.toml; use --time-limit, --mip-gap and --threads for the solver")
            raise InputError(msg, field=unsupported[0])
        check_destination(target, (Path(name),))  # before solving: a refused --out costs no solve
        _solve_matrix(name, target, time_limit, mip_gap, threads, backend, quiet, as_json)
        return
    check_destination(target, (resolve_instance_path(name),))  # before solving: a refused --out costs no solve
    if is_periods_instance(name):  # multi-period (S6 over time, the P2C ramp-up): one MIP over all periods
        unsupported = [flag for flag, given in (("--crs", crs), ("--geoparquet", geoparquet),
                                                ("--backend", backend != "auto")) if given]
        if unsupported:
            msg = (f"{', '.join(unsupported)} not available for multi-period instances yet; drop the option "
                   "(they are solved by one HiGHS MIP and written in EPSG:31370)")
            raise InputError(msg, field=unsupported[0])
        _run_periods(name, overrides, target, time_limit, mip_gap, threads, quiet, as_json, progress)
        return
    if is_chain_instance(name):  # S2b, S5, S8: the multi-echelon chain has its own model and verifier
        unsupported = [flag for flag, given in (("--crs", crs), ("--geoparquet", geoparquet), ("--mip-gap", mip_gap),
                                                ("--threads", threads), ("--backend", backend != "auto")) if given]
        if unsupported:
            msg = (f"{', '.join(unsupported)} not available for the plastics-chain model yet; drop the option "
                   "(the chain uses the manifest's mip_gap and writes EPSG:31370)")
            raise InputError(msg, field=unsupported[0])
        _run_chain(name, overrides, target, time_limit, quiet, as_json)
        return
    show_progress = not (quiet or as_json) and progress_option(progress) == "none"
    with out.status("starting", spinner="dots") if show_progress else nullcontext() as status:
        report = Progress(progress, quiet=quiet or as_json, status=status)
        result = run(name, overrides=overrides, out_dir=target, time_limit_s=time_limit, mip_gap=mip_gap,
                     threads=threads, backend=backend, progress=report.stage, geoparquet=geoparquet, crs=crs)
        report.stage("done")
    if as_json:
        print_json({**result.summary, "out_dir": str(result.out_dir)})
    elif not quiet:
        print_summary(result.summary, result.out_dir)


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


def _checked_crs(crs: str | None) -> str | None:
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


def _is_matrix_instance(name: str) -> bool:
    """A folder, or a TOML file with a ``[problem]`` table (a named-instance manifest has none)."""
    p = Path(name)
    if not p.exists():
        return False
    if p.is_dir():
        return True
    if p.suffix == ".toml":
        from optimizer.data.tomlfile import peek_toml

        return "problem" in (peek_toml(p) or {})
    return False


def _solve_matrix(name: str, out_dir: Path, time_limit: float | None, mip_gap: float | None,
                  threads: int | None, backend: str, quiet: bool, as_json: bool) -> None:
    from optimizer.pipeline import run_matrix

    summary = run_matrix(Path(name), out_dir=out_dir, time_limit_s=time_limit, mip_gap=mip_gap, threads=threads,
                         backend=backend)
    if as_json:
        print_json(summary)
    elif not quiet:
        model = summary.get("model", {})
        name = model.get("name", "pmedian")
        service = f", service {model['service']:g}" if model.get("service") is not None else ""
        out.print(f"{summary['instance']}: {name}{service}: status [bold]{summary['status']}[/bold], objective "
                  f"{summary['objective']:,.6f} {model.get('objective_unit', '')}, gap {gap_text(summary['gap'], 4)}, "
                  f"open {summary['open_facilities']}")
        print_models(summary)
        out.print(f"written to {summary['out_dir']}")


def print_summary(s: dict, where: Path | None) -> None:
    """The result of a solve for people: facilities per programme, objective, gap, timings, where it was written."""
    status = s["status"]
    if status != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {status}, proven gap {gap_text(s['gap'])} "
                  "(time limit reached; the best solution found is reported)")
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
    out.print(f"status [bold]{status}[/bold], gap {gap_text(s['gap'], 4)}, objective {obj['total']:,.2f} {obj['unit']} "
              f"(transport {obj['transport']:,.2f}, land {obj['land']:,.2f}); land take {s['land_take_ha']:.1f} ha")
    split = s.get("modal_split")
    if split:
        parts = [f"{m} {split['tkm'][m]:,.0f} t·km ({100 * split['tkm_share'][m]:.1f}%)" for m in ("road", "water", "rail")]
        out.print("modal split: " + ", ".join(parts) + f"; transhipped {split['transhipped_t']:,.0f} t; EUR "
                  + ", ".join(f"{m} {v:,.0f}" for m, v in split["eur"].items()))
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
        out.print(f"sparsified: {sparse['pairs']:,} pairs → {sparse['arcs_final']:,} k-nearest arcs (k {k['min']}–{k['max']}, "
                  f"median {k['median']:g}) in {sparse['rounds']} certificate round(s); "
                  + ("[bold]certified[/bold]: equal to the dense optimum" if sparse["certified"]
                     else "[bold red]NOT certified[/bold red]: the gap is against the dense bound"))
    t = s["timings_s"]
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in t.items()) + "; verified: "
              + ("yes" if s["verification"]["passed"] else "NO"))
    if where is not None:
        out.print(f"written to {where} (result.gpkg, allocations.csv, facilities.csv, demand.csv, summary.json)")


def print_models(s: dict) -> None:
    """The coverage models (model, service distance and the assumption behind it, objective, coverage), the counts
    per region when a coverage model placed something, and the equity figures of every programme."""
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


@guard
def chain(
    name: Annotated[str, typer.Argument(help="chain instance (e.g. s2b-plastics-chain) or manifest path")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="result folder (default results/NAME)")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="solver time limit, seconds")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: key=value (repeatable)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Solve a multi-echelon plastics-chain instance (S2b, S5, S8), verify it and write GeoPackage, CSV, summary."""
    from optimizer.atomic import check_destination
    from optimizer.cli.app import check_solver_options
    from optimizer.data.instance import (is_chain_instance, is_periods_instance, load_instance, parse_overrides,
                                         resolve_instance_path)
    from optimizer.errors import InputError

    check_solver_options(time_limit, None, None)
    overrides = parse_overrides(set_ or [])
    path = resolve_instance_path(name)
    if not is_chain_instance(name):
        inst = load_instance(name, overrides)  # a broken manifest is reported as such, not as "not a chain"
        msg = (f"{inst.name} is not a plastics-chain instance (it places {', '.join(p.id for p in inst.programmes)}): "
               f"solve it with `siting solve {name}`; chain instances are s2b-plastics-chain, s5-*, s8-*")
        raise InputError(msg, file=path, field="programmes.place")
    target = out_dir if out_dir is not None else default_out(name)
    check_destination(target, (path,))
    if is_periods_instance(name):  # the chain over periods (s2e-p2c-rampup): one MIP over all periods
        _run_periods(name, overrides, target, time_limit, None, None, quiet=quiet, as_json=as_json)
        return
    _run_chain(name, overrides, target, time_limit, quiet=quiet, as_json=as_json)


def _run_chain(name: str, overrides: dict[str, str], target: Path, time_limit: float | None, quiet: bool,
               as_json: bool) -> None:
    from optimizer.pipeline import run_chain

    with out.status("solving the chain", spinner="dots") if not (quiet or as_json) else nullcontext():
        s = run_chain(name, overrides, target, time_limit)
    if as_json:
        print_json(s)
        return
    if quiet:
        return
    if s["status"] != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {s['status']}, proven gap {gap_text(s['gap'])}")
    table = Table("echelon", "existing", "new", "new land (ha)", title=f"{s['instance']} — {s['title']}")
    for e, n in s["facilities_per_echelon"].items():
        table.add_row(e, str(n["existing"]), str(n["new"]), f"{s['land_take_per_echelon_ha'].get(e, 0.0):.1f}")
    out.print(table)
    t = s["tonnes"]
    out.print(f"status [bold]{s['status']}[/bold], gap {gap_text(s['gap'], 4)}, objective {s['objective_eur_per_yr']:,.0f} EUR/yr "
              f"(transport {s['transport_eur_per_yr']:,.0f}, land {s['land_cost_eur_per_yr']:,.0f}); new land take "
              f"{s['new_land_take_ha']:.1f} ha; PMD {t['pmd_collected']:,.0f} t, imports {t['imports']:,.0f} t, "
              f"into mechanical {t['into_mechanical']:,.0f} t, into chemical {t['into_chemical']:,.0f} t; verified: yes")
    print_models(s)
    out.print(f"written to {s['out_dir']} (result.gpkg, facilities.csv, flows.csv, summary.json)")


def _run_periods(name: str, overrides: dict[str, str], target: Path, time_limit: float | None, mip_gap: float | None,
                 threads: int | None, quiet: bool, as_json: bool, progress: str = "none") -> None:
    from optimizer.pipeline import run_periods

    show = not (quiet or as_json) and progress_option(progress) == "none"
    with out.status("starting", spinner="dots") if show else nullcontext() as status:
        report = Progress(progress, quiet=quiet or as_json, status=status)
        s = run_periods(name, overrides, target, time_limit, mip_gap, threads, progress=report.stage)
        report.stage("done")
    if as_json:
        print(json.dumps(s, indent=2, default=str))
        return
    if quiet:
        return
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
    out.print(f"written to {s['out_dir']} (result.gpkg with a layer per period, summary.json)")
