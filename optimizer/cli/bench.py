"""``siting bench``: public benchmark sets against their published optima (and baselines)."""

from __future__ import annotations

from pathlib import Path

import click
from click.exceptions import Exit

from optimizer.cli.app import PATH, command, guard, option


@command()
@click.argument("set_name", metavar="SET", help="benchmark set, e.g. ci, orlib-cflp, orlib-capabc, pmed, holmberg")
@option("--time-limit", type=float, default=60.0, help="seconds per instance and method")
@option("--baselines", default="none", help="comma-separated baselines, 'all' or 'none'")
@option("--out", type=PATH, default=Path("results/bench"), help="folder for SET.csv and SET.md")
@guard
def bench(set_name: str, time_limit: float = 60.0, baselines: str = "none", out: Path = Path("results/bench")) -> None:
    """Solve a public benchmark set and compare with the published optima (and baselines)."""
    from optimizer.bench.harness import bench_command
    from optimizer.bench.readers import benchmark_sets
    from optimizer.cli.app import check_solver_options
    from optimizer.errors import InputError
    from optimizer.settings import BENCHMARKS_DIR_ENV, benchmarks_dir

    check_solver_options(time_limit, None, None)
    sets = benchmark_sets()
    if not sets:
        raise InputError(f"no benchmark data in {benchmarks_dir()}: put the benchmark libraries there (one folder per "
                         f"library with its SOURCE.txt and INDEX.txt, see benchmarks/README.md) or set "
                         f"${BENCHMARKS_DIR_ENV} to their folder", file=benchmarks_dir(), field=BENCHMARKS_DIR_ENV)
    unknown = [part for part in set_name.split("+") if part not in sets]
    if unknown:
        raise InputError(f"unknown benchmark set {unknown[0]!r}; known: {', '.join(sorted(sets))}", field="SET")

    raise Exit(bench_command(set_name, time_limit, baselines, out))
