"""Command line: thin — parse, call :mod:`optimizer.pipeline`, print.

Exit codes: 0 solved (optimal, or feasible with its proven gap when the time limit was hit), 1 internal error,
2 bad input (one line naming file, row and field), 3 infeasible (with the reason in the instance's terms),
4 no feasible solution within the time limit, 5 a result failed independent verification (nothing written).
"""

from __future__ import annotations

import json
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
) -> None:
    """Solve an instance, verify the result independently and write GeoPackage, CSV and summary.json."""
    from optimizer.instance import parse_overrides
    from optimizer.pipeline import run

    overrides = parse_overrides(set_ or [])
    if _is_matrix_instance(name):
        _solve_matrix(name, out_dir, time_limit, mip_gap, threads, backend, quiet, as_json)
        return
    target = out_dir if out_dir is not None else Path("results") / Path(name).stem
    show_progress = not (quiet or as_json)
    with out.status("starting", spinner="dots") if show_progress else _nullcontext() as status:

        def progress(stage: str) -> None:
            if status is not None:
                status.update(stage)

        result = run(name, overrides=overrides, out_dir=target, time_limit_s=time_limit, mip_gap=mip_gap,
                     threads=threads, backend=backend, progress=progress)
    if as_json:
        print(json.dumps(result.summary, indent=2, default=str))
    elif not quiet:
        _print_summary(result.summary, result.out_dir)


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
                  f"{summary['objective']:,.6f}, gap {summary['gap']:.2e}, open {summary['open_facilities']}")
        out.print(f"written to {summary['out_dir']}")


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _print_summary(s: dict, where: Path | None) -> None:
    status = s["status"]
    if status != "optimal":
        out.print(f"[bold red]NOT OPTIMAL[/bold red]: status {status}, proven gap {100 * (s['gap'] or 0):.3f}% "
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
    out.print(f"status [bold]{status}[/bold], gap {100 * (s['gap'] or 0):.4f}%, objective {obj['total']:,.2f} {obj['unit']} "
              f"(transport {obj['transport']:,.2f}, land {obj['land']:,.2f}); land take {s['land_take_ha']:.1f} ha")
    for pid, p in s["programmes"].items():
        if p["over_nominal_capacity"]:
            out.print(f"[yellow]note[/yellow]: {pid} above its assumed throughput in {', '.join(p['over_nominal_capacity'])} "
                      f"(max {100 * p['max_utilisation_nominal']:.0f}%; capacity enforced: {s['parameters']['enforce_capacity']})")
    t = s["timings_s"]
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in t.items()) + "; verified: "
              + ("yes" if s["verification"]["passed"] else "NO"))
    if where is not None:
        out.print(f"written to {where} (result.gpkg, allocations.csv, facilities.csv, summary.json)")


def main() -> None:
    """Entry point for ``python -m optimizer.cli``."""
    app()


if __name__ == "__main__":
    sys.exit(main())
