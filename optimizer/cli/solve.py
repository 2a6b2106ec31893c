"""Command line: thin — parse, call :mod:`optimizer.pipeline`, print.

Exit codes: 0 solved (optimal, or feasible with its proven gap when the time limit was hit), 1 internal error,
2 bad input (one line naming file, row and field), 3 infeasible (with the reason in the instance's terms),
4 no feasible solution within the time limit, 5 a result failed independent verification (nothing written).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="siting",
    help="circular-siting: where should Flanders put the infrastructure of its circular economy?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_VERIFY = 2, 3, 4, 5


def _guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one line on stderr and the documented exit code (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from optimizer.diagnose import InfeasibleError
        from optimizer.errors import InputError
        from optimizer.pipeline import NoSolutionError
        from optimizer.verify import VerificationError

        try:
            return func(*args, **kwargs)
        except InputError as e:
            err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INPUT) from None
        except InfeasibleError as e:
            err.print("infeasible: the instance has no solution:", markup=False)
            for reason in e.reasons:
                err.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        except NoSolutionError as e:
            err.print(f"no solution: {e}", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_NO_SOLUTION) from None
        except VerificationError as e:
            err.print(f"{e} — nothing was written", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_VERIFY) from None
        except KeyboardInterrupt:
            err.print("interrupted — no result was written", markup=False)
            raise typer.Exit(130) from None

    return wrapper


@app.command("list")
@_guard
def list_cmd() -> None:
    """List the named instances."""
    from optimizer.instance import list_instances

    table = Table("name", "title", title="named instances (instances/*.toml)")
    for row in list_instances():
        table.add_row(row["name"], row["title"])
    out.print(table)


@app.command()
@_guard
def show(name: Annotated[str, typer.Argument(help="instance name or manifest path")]) -> None:
    """Show an instance: description, programmes, parameters and the assumptions it uses."""
    from optimizer.instance import PARAMETERS, load_instance

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


@app.command()
@_guard
def validate(path: Annotated[str, typer.Argument(help="instance name or manifest path")]) -> None:
    """Check an instance (manifest, tables, programmes) without solving it."""
    from optimizer.instance import load_instance

    inst = load_instance(path)
    out.print(f"ok: {inst.name} — {len(inst.demand)} demand units, {len(inst.candidates)} candidate sites, "
              f"programmes {', '.join(p.id for p in inst.programmes)}")


@app.command()
@_guard
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
) -> None:
    """Solve an instance, verify the result independently and write GeoPackage, CSV and summary.json."""
    from optimizer.instance import is_chain_instance, parse_overrides
    from optimizer.pipeline import run

    overrides = parse_overrides(set_ or [])
    crs = _checked_crs(crs)
    if _is_matrix_instance(name):
        _solve_matrix(name, out_dir, time_limit, mip_gap, threads, backend, quiet, as_json)
        return
    target = out_dir if out_dir is not None else Path("results") / Path(name).stem
    if is_chain_instance(name):  # S2b, S5, S8: the multi-echelon chain has its own model and verifier
        unsupported = [flag for flag, given in (("--crs", crs), ("--geoparquet", geoparquet), ("--mip-gap", mip_gap),
                                                ("--threads", threads), ("--backend", backend != "auto")) if given]
        if unsupported:
            from optimizer.errors import InputError

            msg = (f"{', '.join(unsupported)} not available for the plastics-chain model yet; drop the option "
                   "(the chain uses the manifest's mip_gap and writes EPSG:31370)")
            raise InputError(msg, field=unsupported[0])
        _run_chain(name, overrides, target, time_limit, quiet, as_json)
        return
    show_progress = not (quiet or as_json)
    with out.status("starting", spinner="dots") if show_progress else _nullcontext() as status:

        def progress(stage: str) -> None:
            if status is not None:
                status.update(stage)

        result = run(name, overrides=overrides, out_dir=target, time_limit_s=time_limit, mip_gap=mip_gap,
                     threads=threads, backend=backend, progress=progress, geoparquet=geoparquet, crs=crs)
    if as_json:
        print(json.dumps(result.summary, indent=2, default=str))
    elif not quiet:
        _print_summary(result.summary, result.out_dir)


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
    p = Path(name)
    if not p.exists():
        return False
    if p.is_dir():
        return True
    if p.suffix == ".toml":
        import tomllib

        try:
            with p.open("rb") as fh:
                return "problem" in tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return False
    return False


def _solve_matrix(name: str, out_dir: Path | None, time_limit: float | None, mip_gap: float | None,
                  threads: int | None, backend: str, quiet: bool, as_json: bool) -> None:
    from optimizer.matrix_run import run_matrix

    summary = run_matrix(Path(name), out_dir=out_dir or Path("results") / Path(name).stem, time_limit_s=time_limit,
                         mip_gap=mip_gap, threads=threads, backend=backend)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    elif not quiet:
        out.print(f"{summary['instance']}: status [bold]{summary['status']}[/bold], objective "
                  f"{summary['objective']:,.6f}, gap {_gap_text(summary['gap'], 4)}, open {summary['open_facilities']}")
        out.print(f"written to {summary['out_dir']}")


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _gap_text(gap: float | None, digits: int = 3) -> str:
    """A gap as a percentage, or 'unknown' when no bound was proven (never a silent 0 %)."""
    if gap is None or not math.isfinite(gap):
        return "unknown (no bound proven)"
    return f"{100 * gap:.{digits}f}%"


def _print_summary(s: dict, where: Path | None) -> None:
    status = s["status"]
    if status != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {status}, proven gap {_gap_text(s['gap'])} "
                  "(time limit reached; the best solution found is reported)")
    table = Table(title=f"{s['instance']} — {s['title']}")
    table.add_column("programme")
    table.add_column("facilities", justify="right")
    table.add_column("per size")
    table.add_column("land take (ha)", justify="right")
    table.add_column("t/yr", justify="right")
    table.add_column("t·km/yr", justify="right")
    for pid, p in s["programmes"].items():
        sizes = ", ".join(f"{v} {k}" for k, v in sorted(p["count_per_size"].items()))
        table.add_row(pid, str(p["facilities"]), sizes, f"{p['land_take_ha']:.1f}", f"{p['tonnes_per_yr']:,.0f}",
                      f"{p['tkm_per_yr']:,.0f}")
    out.print(table)
    obj = s["objective"]
    out.print(f"status [bold]{status}[/bold], gap {_gap_text(s['gap'], 4)}, objective {obj['total']:,.2f} {obj['unit']} "
              f"(transport {obj['transport']:,.2f}, land {obj['land']:,.2f}); land take {s['land_take_ha']:.1f} ha")
    for pid, p in s["programmes"].items():
        if p["over_nominal_capacity"]:
            out.print(f"[yellow]note[/yellow]: {pid} above its assumed throughput in {', '.join(p['over_nominal_capacity'])} "
                      f"(max {100 * p['max_utilisation_nominal']:.0f}%; capacity enforced: {s['parameters']['enforce_capacity']})")
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
        out.print(f"written to {where} (result.gpkg, allocations.csv, facilities.csv, summary.json)")


@app.command()
@_guard
def pareto(
    name: Annotated[str, typer.Argument(help="instance name or manifest path")],
    points: Annotated[int, typer.Option("--points", help="points on the front, end points included")] = 7,
    out_dir: Annotated[Path | None, typer.Option("--out", help="result folder (default results/NAME-pareto)")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="time limit per solve, seconds")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: key=value (repeatable)")] = None,
) -> None:
    """Trace transport cost against land take (ε-constraint), verify every point, write pareto.csv and pareto.png."""
    from optimizer import pareto as pareto_mod
    from optimizer.errors import InputError
    from optimizer.instance import load_instance, parse_overrides

    if points < 2:
        raise InputError("--points must be at least 2 (the two end points)", field="--points")
    inst = load_instance(name, parse_overrides(set_ or []))
    front = pareto_mod.trace(inst, points, time_limit_s=time_limit)
    target = out_dir if out_dir is not None else Path("results") / f"{Path(name).stem}-pareto"
    files = pareto_mod.write(front, target, f"{inst.name}: transport vs land take")
    table = Table("point", "land take (ha)", f"transport ({front.attrs.get('cost_unit', '')})", "facilities",
                  title=f"{inst.name} — transport vs land take (every point verified)")
    for row in front.itertuples():
        table.add_row(str(row.point), f"{row.land_take_ha:.1f}", f"{row.transport:,.0f}", str(row.facilities))
    out.print(table)
    out.print(f"written {files['csv']} and {files['png']}")


@app.command()
@_guard
def sweep(
    file: Annotated[Path, typer.Argument(help="sweep definition (TOML); see docs/sweeps.md")],
    scheduler: Annotated[str | None, typer.Option(help="existing Dask scheduler, e.g. tcp://host:8786 "
                                                       "(default: DASK_SCHEDULER_ADDRESS, else a local cluster)")] = None,
    workers: Annotated[int | None, typer.Option(help="local cluster worker processes (default: one per core); "
                                                     "0 runs in-process, one scenario after another")] = None,
    sequential: Annotated[bool, typer.Option("--sequential", help="same as --workers 0")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="sweep folder (default results/sweeps/NAME)")] = None,
    threads_per_scenario: Annotated[int | None, typer.Option(help="solver threads per scenario "
                                                                  "(default: cores / workers)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or table")] = False,
) -> None:
    """Run a scenario sweep on Dask and write the comparison table (CSV, Parquet) and plots."""
    from optimizer.sweep import load_sweep, render_table, run_sweep

    spec = load_sweep(file)
    target = out_dir if out_dir is not None else Path("results") / "sweeps" / spec.name
    try:
        result = run_sweep(spec, target, workers=0 if sequential else workers, scheduler=scheduler,
                           threads_per_scenario=threads_per_scenario, console=None if quiet else err)
    except KeyboardInterrupt as e:
        done = e.args[0].table["result_dir"].notna().sum() if e.args else "the finished"
        err.print(f"interrupted — {done} scenario results are kept in {target}; run the same command to resume",
                  markup=False)
        raise typer.Exit(130) from None
    if not quiet:
        out.print(render_table(result))
        out.print(f"table: {result.files['csv']} (and .parquet); plots: {result.files['tradeoff_png'].name}, "
                  f"{result.files['facilities_png'].name}; scenario results in {result.out_dir / 'scenarios'}")


@app.command("map")
@_guard
def map_cmd(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for map.png / map.html (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw (any GIS file with a CRS)")] = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="static PNG map")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="interactive HTML map (folium)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
    """Draw a result: static PNG map (EPSG:31370) and interactive HTML map."""
    from optimizer.maps import make_maps

    with out.status("drawing maps", spinner="dots") if not (quiet or as_json) else _nullcontext():
        written = make_maps(result, out_dir, boundaries, png=png, html=html)
    _print_written(written, quiet=quiet, as_json=as_json)


def _print_written(written: dict, *, quiet: bool, as_json: bool) -> None:
    """Report the files a command wrote: JSON for scripts, one line for people, nothing when quiet."""
    if as_json:
        print(json.dumps({k: str(v) for k, v in written.items()}))
    elif not quiet:
        out.print("written " + ", ".join(str(p) for p in written.values()), markup=False)


@app.command()
@_guard
def report(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for report.html / report.md (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw on the map")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
    """Write a self-contained HTML report (and Markdown) of a result for policy makers."""
    from optimizer.report import make_report

    with out.status("writing report", spinner="dots") if not (quiet or as_json) else _nullcontext():
        written = make_report(result, out_dir, boundaries)
    _print_written(written, quiet=quiet, as_json=as_json)


@app.command()
@_guard
def compare(
    a: Annotated[Path, typer.Argument(help="first result folder (before)")],
    b: Annotated[Path, typer.Argument(help="second result folder (after)")],
    markdown: Annotated[Path | None, typer.Option("--markdown", help="also write the comparison as Markdown")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Show what changed between two results: status, objective, land take, moved facilities, reassignments."""
    from optimizer.compare import compare_results, rich_tables, to_markdown

    diff = compare_results(a, b)
    if markdown is not None:
        markdown.write_text(to_markdown(diff), encoding="utf-8")
    if as_json:
        print(json.dumps(diff, indent=2, default=str))
    elif not quiet:
        for table in rich_tables(diff):
            out.print(table)
        if markdown is not None:
            out.print(f"written {markdown}", markup=False)


@app.command()
@_guard
def chain(
    name: Annotated[str, typer.Argument(help="chain instance (e.g. s2b-plastics-chain) or manifest path")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="result folder (default results/NAME)")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="solver time limit, seconds")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: key=value (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Solve a multi-echelon plastics-chain instance (S2b, S5, S8), verify it and write GeoPackage, CSV, summary."""
    from optimizer.instance import parse_overrides

    target = out_dir if out_dir is not None else Path("results") / Path(name).stem
    _run_chain(name, parse_overrides(set_ or []), target, time_limit, quiet=False, as_json=as_json)


def _run_chain(name: str, overrides: dict[str, str], target: Path, time_limit: float | None, quiet: bool,
               as_json: bool) -> None:
    from optimizer.chain import run_chain

    with out.status("solving the chain", spinner="dots") if not (quiet or as_json) else _nullcontext():
        s = run_chain(name, overrides, target, time_limit)
    if as_json:
        print(json.dumps(s, indent=2, default=str))
        return
    if quiet:
        return
    if s["status"] != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {s['status']}, proven gap {_gap_text(s['gap'])}")
    table = Table("echelon", "existing", "new", "new land (ha)", title=f"{s['instance']} — {s['title']}")
    for e, n in s["facilities_per_echelon"].items():
        table.add_row(e, str(n["existing"]), str(n["new"]), f"{s['land_take_per_echelon_ha'].get(e, 0.0):.1f}")
    out.print(table)
    t = s["tonnes"]
    out.print(f"status [bold]{s['status']}[/bold], gap {_gap_text(s['gap'], 4)}, objective {s['objective_eur_per_yr']:,.0f} EUR/yr "
              f"(transport {s['transport_eur_per_yr']:,.0f}, land {s['land_cost_eur_per_yr']:,.0f}); new land take "
              f"{s['new_land_take_ha']:.1f} ha; PMD {t['pmd_collected']:,.0f} t, imports {t['imports']:,.0f} t, "
              f"into mechanical {t['into_mechanical']:,.0f} t, into chemical {t['into_chemical']:,.0f} t; verified: yes")
    out.print(f"written to {s['out_dir']} (result.gpkg, facilities.csv, flows.csv, summary.json)")


@app.command()
@_guard
def bench(
    set_name: Annotated[str, typer.Argument(help="benchmark set, e.g. ci, orlib-cflp, orlib-capabc, pmed, holmberg")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds per instance and method")] = 60.0,
    baselines: Annotated[str, typer.Option(help="comma-separated baselines, 'all' or 'none'")] = "none",
    out: Annotated[Path, typer.Option("--out", help="folder for SET.csv and SET.md")] = Path("results/bench"),
) -> None:
    """Solve a public benchmark set and compare with the published optima (and baselines)."""
    from optimizer.bench import bench_command

    raise typer.Exit(bench_command(set_name, time_limit, baselines, out))


def main() -> None:
    """Entry point for ``python -m optimizer.cli``."""
    app()


if __name__ == "__main__":
    sys.exit(main())
