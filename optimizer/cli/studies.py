"""Commands built from many solves: ``siting pareto``, ``sweep`` and ``sensitivity``."""

from __future__ import annotations

from pathlib import Path

import click
from click.exceptions import Exit

from optimizer.cli.app import PATH, command, err, guard, option, out, print_json


@command()
@click.argument("name", help="instance name or manifest path")
@option("--points", type=int, default=7, help="points on the front, end points included")
@option("--out", "out_dir", type=PATH, help="result folder (default results/NAME-pareto)")
@option("--time-limit", type=float, help="time limit per solve, seconds")
@option("--set", "set_", multiple=True, help="override a parameter: key=value (repeatable)")
@option("--json", "as_json", is_flag=True, help="print the front and the written files as JSON")
@guard
def pareto(name: str, points: int = 7, out_dir: Path | None = None, time_limit: float | None = None,
           set_: tuple[str, ...] = (), as_json: bool = False) -> None:
    """Trace transport cost against land take (ε-constraint), verify every point, write pareto.csv and pareto.png."""
    from rich.table import Table

    from optimizer.atomic import check_destination
    from optimizer.cli.app import check_solver_options
    from optimizer.cli.solve import default_out
    from optimizer.data.instance import instance_kind, load_instance, parse_overrides, resolve_instance_path
    from optimizer.errors import InputError
    from optimizer.studies import pareto as pareto_mod

    if points < 2:
        raise InputError("--points must be at least 2 (the two end points)", field="--points")
    check_solver_options(time_limit, None, None)
    overrides = parse_overrides(list(set_))
    path = resolve_instance_path(name)
    kind = instance_kind(name)
    if kind != "named":
        why = {"matrix": "a matrix instance has no land take to trade against transport",
               "chain": "the plastics chain has its own model, which has no such front yet: it prices its new land "
                        f"in its objective; solve it with `siting chain {name}` and vary --set "
                        "land_cost_eur_per_m2=... (or `siting sweep`) to trade land against transport",
               "periods": "a multi-period instance takes land period by period: trace the front of one period "
                          "(the instance without its [periods] table)"}[kind]
        raise InputError(f"siting pareto traces transport against land take for location instances; {why}",
                         file=path, field="programmes.place" if kind == "chain" else None)
    target = out_dir if out_dir is not None else default_out(name).with_name(f"{default_out(name).name}-pareto")
    check_destination(target, (path,), kind="pareto")  # before tracing: a refused --out costs no solve
    inst = load_instance(name, overrides)
    front = pareto_mod.trace(inst, points, time_limit_s=time_limit)
    files = pareto_mod.write(front, target, f"{inst.name}: transport vs land take", inst)
    if as_json:
        print_json({"front": front.to_dict("records"), "cost_unit": front.attrs.get("cost_unit"),
                    "files": {k: str(v) for k, v in files.items()}})
        return
    table = Table("point", "land take (ha)", f"transport ({front.attrs.get('cost_unit', '')})", "facilities",
                  title=f"{inst.name} — transport vs land take (every point verified)")
    for row in front.itertuples():
        table.add_row(str(row.point), f"{row.land_take_ha:.1f}", f"{row.transport:,.0f}", str(row.facilities))
    out.print(table)
    if front.attrs.get("note"):
        out.print(f"[yellow]note[/yellow]: {front.attrs['note']}")
    out.print(f"written {files['csv']} and {files['png']}")


@command()
@click.argument("file", type=PATH, help="sweep definition (TOML); see docs/sweeps.md")
@option("--scheduler", help="existing Dask scheduler, e.g. tcp://host:8786 (default: DASK_SCHEDULER_ADDRESS, else a "
        "local cluster)")
@option("--workers", type=int, help="local cluster worker processes (default: one per core); 0 runs in-process, one "
        "scenario after another")
@option("--sequential", is_flag=True, help="same as --workers 0")
@option("--out", "out_dir", type=PATH, help="sweep folder (default results/sweeps/NAME)")
@option("--threads-per-scenario", type=int, help="solver threads per scenario (default: cores / workers)")
@option("--quiet", "-q", is_flag=True, help="no progress bar or table")
@option("--json", "as_json", is_flag=True, help="print the comparison table and files as JSON")
@guard
def sweep(file: Path, scheduler: str | None = None, workers: int | None = None, sequential: bool = False,
          out_dir: Path | None = None, threads_per_scenario: int | None = None, quiet: bool = False,
          as_json: bool = False) -> None:
    """Run a scenario sweep on Dask and write the comparison table (CSV, Parquet) and plots."""
    from optimizer.atomic import check_destination
    from optimizer.studies.sweep import run_sweep
    from optimizer.studies.sweep_outputs import render_table
    from optimizer.studies.sweep_spec import load_sweep

    spec = load_sweep(file)
    target = out_dir if out_dir is not None else Path("results") / "sweeps" / spec.name
    check_destination(target, (file,), kind="sweep")  # before the first scenario: a refused --out costs nothing
    try:
        result = run_sweep(spec, target, workers=0 if sequential else workers, scheduler=scheduler,
                           threads_per_scenario=threads_per_scenario, console=None if quiet or as_json else err.console)
    except KeyboardInterrupt as e:
        done = e.args[0].table["result_dir"].notna().sum() if e.args else "the finished"
        err.print(f"interrupted — {done} scenario results are kept in {target}; run the same command to resume",
                  markup=False, highlight=False, soft_wrap=True)
        raise Exit(130) from None
    if as_json:
        print_json({"sweep": spec.name, "out_dir": str(result.out_dir), "table": result.table.to_dict("records"),
                    "files": {k: str(v) for k, v in result.files.items()}})
    elif not quiet:
        out.print(render_table(result))
        out.print(f"table: {result.files['csv']} (and .parquet); plots: {result.files['tradeoff_png'].name}, "
                  f"{result.files['facilities_png'].name}; scenario results in {result.out_dir / 'scenarios'}")


@command()
@click.argument("name", help="instance name or manifest path")
@option("--vary", multiple=True, help="NAME=LOW:HIGH, values or -25%:+25% of the run's value (repeatable; default: "
        "the preset, see docs/sensitivity.md)")
@option("--set", "set_", multiple=True, help="override of the base run: key=value (repeatable)")
@option("--samples", type=int, default=0, help="joint Latin-hypercube variants over all varied assumptions")
@option("--seed", type=int, default=0, help="seed of the joint sample")
@option("--scheduler", help="existing Dask scheduler, e.g. tcp://host:8786")
@option("--workers", type=int, help="local cluster worker processes (default: one per core); 0 runs in-process")
@option("--out", "out_dir", type=PATH, help="folder (default results/NAME-sensitivity)")
@option("--quiet", "-q", is_flag=True, help="no progress bar or table")
@guard
def sensitivity(name: str, vary: tuple[str, ...] = (), set_: tuple[str, ...] = (), samples: int = 0, seed: int = 0,
                scheduler: str | None = None, workers: int | None = None, out_dir: Path | None = None,
                quiet: bool = False) -> None:
    """Vary named assumptions (tonnages, costs, capacities), solve each variant and draw a tornado chart and a
    robust-site map."""
    from rich.table import Table

    from optimizer.atomic import check_destination
    from optimizer.cli.solve import default_out
    from optimizer.data.instance import load_instance, parse_overrides, resolve_instance_path
    from optimizer.errors import InputError
    from optimizer.studies import sensitivity as sens

    if samples < 0:
        raise InputError("must be ≥ 0", field="--samples")
    base_set = parse_overrides(list(set_))
    target = out_dir if out_dir is not None else default_out(name).with_name(f"{default_out(name).name}-sensitivity")
    check_destination(target, (resolve_instance_path(name),), kind="sweep")  # before any solve
    inst = load_instance(name, base_set)
    variations = sens.parse_vary(list(vary), inst) if vary else sens.default_variations(inst)
    instance = name if not (Path(name).suffix == ".toml" or Path(name).exists()) else str(resolve_instance_path(name))
    spec = sens.SensitivitySpec(instance, inst.name, base_set, tuple(variations), samples, seed)
    try:
        result = sens.run_sensitivity(spec, target, workers=workers, scheduler=scheduler,
                                      console=None if quiet else err.console)
    except KeyboardInterrupt:
        err.print(f"interrupted — the solved variants are kept in {target}; run the same command to resume",
                  markup=False, highlight=False, soft_wrap=True)
        raise Exit(130) from None
    if quiet:
        return
    rows = sens.tornado_rows(result.table, spec.variations)
    base = result.table[result.table["scenario"] == sens.BASE]
    unit = str(base["objective_unit"].iat[0]) if len(base) else ""
    table = Table("assumption", "low … high", f"objective at low / high ({unit})", "land take at low / high (ha)",
                  title=f"{inst.name} — sensitivity, one at a time ({len(result.table)} variants, "
                        f"{result.wall_s:.0f} s; base objective "
                        + (f"{float(base['objective_total'].iat[0]):,.0f}" if len(base) else "?") + ")")
    for r in rows.itertuples():
        table.add_row(r.assumption, f"{r.low:g} … {r.high:g} {r.unit}",
                      f"{_num(r.objective_low, r.status_low)} / {_num(r.objective_high, r.status_high)}",
                      f"{_num(r.land_take_low_ha, r.status_low, 2)} / {_num(r.land_take_high_ha, r.status_high, 2)}")
    out.print(table)
    counts = result.robust["class"].value_counts()
    out.print(f"sites: {counts.get('robust', 0)} robust, {counts.get('often', 0)} often, {counts.get('rare', 0)} rare "
              f"over {int(result.table['result_dir'].notna().sum())} solved variants")
    out.print(f"written {result.files['csv']}, {result.files['tornado_png'].name}, {result.files['robust_png'].name}, "
              f"{result.files['robust_csv'].name}, {result.files['manifest'].name}; variants in "
              f"{result.out_dir / 'scenarios'}", markup=False)


def _num(value: float, status: str, digits: int = 0) -> str:
    import math

    return f"{value:,.{digits}f}" if math.isfinite(value) else (status or "not solved")
