"""``siting bench``: public benchmark sets against their published optima (and baselines)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.app import guard


@guard
def bench(
    set_name: Annotated[str, typer.Argument(help="benchmark set, e.g. ci, orlib-cflp, orlib-capabc, pmed, holmberg")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds per instance and method")] = 60.0,
    baselines: Annotated[str, typer.Option(help="comma-separated baselines, 'all' or 'none'")] = "none",
    out: Annotated[Path, typer.Option("--out", help="folder for SET.csv and SET.md")] = Path("results/bench"),
) -> None:
    """Solve a public benchmark set and compare with the published optima (and baselines)."""
    from optimizer.bench.harness import bench_command

    raise typer.Exit(bench_command(set_name, time_limit, baselines, out))
