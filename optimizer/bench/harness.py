"""Benchmark harness: solve a benchmark set, verify every result, compare with published optima and baselines.

Each case of :func:`optimizer.bench.readers.benchmark_set` is solved with
:func:`optimizer.solver.solve.solve_problem` (the project's solver, whatever backend it picks) and checked with
:func:`optimizer.check.verify.verify_problem`; a result that fails verification or disagrees with a proven optimum is
flagged loudly (``MISMATCH``). Baselines (:mod:`optimizer.bench.baselines`) run in the same process, one after the
other, with the same time limit, and are verified against the same problem; tables: :mod:`optimizer.bench.report`.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.bench.baselines import (
    ALL_BASELINES,
    BASELINE_KINDS,
    BASELINES,
    parse_baselines,
    require_baselines,
)
from optimizer.bench.readers import BenchmarkCase, benchmark_set
from optimizer.bench.report import summary_markdown, write_markdown
from optimizer.check.verify import verify_problem
from optimizer.errors import InputError
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

MATCH_REL_TOL = 1e-6


def compare(objective: float, bound: float, status: str, known: float | None, known_kind: str) -> str:
    """Classify a result against the published value.

    Returns
    -------
    str
        ``yes`` (optimal and equal to the known optimum within 1e-6 relative), ``better`` (below a best known
        upper bound), ``open`` (not proven optimal, consistent with the known value), ``-`` (no known value or no
        solution), or a loud ``MISMATCH …`` when a proven value disagrees or the bound exceeds a known optimum.
    """
    if known is None or not math.isfinite(known):
        return "-"
    tol = MATCH_REL_TOL * max(1.0, abs(known))
    if status not in (Status.OPTIMAL, Status.FEASIBLE) or not math.isfinite(objective):
        return "-"
    if known_kind == "optimal":
        if objective < known - tol:
            return "MISMATCH (below the published optimum)"
        if math.isfinite(bound) and bound > known + tol:
            return "MISMATCH (bound above the published optimum)"
        if status == Status.OPTIMAL:
            return "yes" if abs(objective - known) <= tol else "MISMATCH"
        return "open"
    # best known upper bound
    if objective < known - tol:
        return "better"
    if abs(objective - known) <= tol:
        return "yes"
    if status == Status.OPTIMAL:
        return "MISMATCH (optimal above the best known value)"
    return "open"


def _verified(problem: LocationProblem, solution: Solution) -> tuple[bool, float, str]:
    if not solution.has_solution:
        return True, math.nan, ""
    report = verify_problem(problem, solution)
    return report.ok, report.objective, "; ".join(report.violations[:3])


def run_case(case: BenchmarkCase, *, time_limit_s: float, baselines: Iterable[str] = (),
             threads: int | None = None, on_stage: Callable[[str], None] | None = None) -> dict:
    """Solve one case with our solver and the applicable baselines; return one result row (a dict)."""
    stage = on_stage or (lambda _s: None)
    stage("reading")
    t0 = time.perf_counter()
    problem = case.load()
    row: dict = {
        "set": case.set_name,
        "instance": case.name,
        "kind": case.problem_kind,
        "n_clients": problem.n_clients,
        "n_facilities": problem.n_options,
        "n_arcs": problem.n_arcs,
        "known": case.known,
        "known_kind": case.known_kind,
        "read_s": time.perf_counter() - t0,
    }
    stage("solving")
    t1 = time.perf_counter()
    try:
        solution = solve_problem(problem, SolveOptions(time_limit_s=time_limit_s, threads=threads))
        elapsed = time.perf_counter() - t1
        ok, _, why = _verified(problem, solution)
        row |= {
            "objective": solution.objective,
            "bound": solution.bound,
            "gap": solution.gap if solution.has_solution else math.inf,
            "status": solution.status,
            "time_s": elapsed,
            "solver": solution.solver,
            "verified": ok,
            "verify_note": why,
        }
        row["match"] = compare(solution.objective, solution.bound, solution.status, case.known, case.known_kind)
        if not ok:
            row["match"] = "MISMATCH (verification failed)"
    except Exception as e:  # noqa: BLE001 - a crash is a result to report, the run goes on
        row |= {"objective": math.nan, "bound": math.nan, "gap": math.inf, "status": f"error: {e}"[:200],
                "time_s": time.perf_counter() - t1, "solver": "", "verified": False,
                "verify_note": traceback.format_exc(limit=2)[-300:], "match": "MISMATCH (solver error)"}

    for name in baselines:
        if case.problem_kind not in BASELINE_KINDS[name]:
            continue
        stage(f"baseline {name}")
        try:
            res = BASELINES[name](problem, time_limit_s)
            sol = Solution(
                open_options=res.open_options if res.open_options is not None else np.zeros(problem.n_options, bool),
                arc_share=res.arc_share if res.arc_share is not None else np.zeros(problem.n_arcs),
                objective=res.objective, bound=res.bound, status=res.status,
            )
            ok, _, why = _verified(problem, sol)
            match = compare(res.objective, res.bound, res.status, case.known, case.known_kind)
            row |= {
                f"{name}_objective": res.objective,
                f"{name}_status": res.status,
                f"{name}_gap": sol.gap if sol.has_solution and math.isfinite(res.bound) else math.nan,
                f"{name}_time_s": res.time_s,
                f"{name}_match": match if ok else "MISMATCH (verification failed)",
                f"{name}_verified": ok,
            }
            if not ok:
                row[f"{name}_note"] = why
        except Exception as e:  # noqa: BLE001
            row |= {f"{name}_status": f"error: {type(e).__name__}: {e}"[:200], f"{name}_time_s": math.nan}
        if row.get("time_s"):
            row[f"{name}_ratio"] = row.get(f"{name}_time_s", math.nan) / max(row["time_s"], 1e-9)
    return row


def run_bench(
    set_name: str,
    *,
    time_limit_s: float = 60.0,
    baselines: Iterable[str] = ALL_BASELINES,
    progress: bool = True,
    threads: int | None = None,
    instances: Iterable[str] | None = None,
    baseline_instances: dict[str, Iterable[str]] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Solve every case of a benchmark set, verify it, compare with the published value and the baselines.

    Parameters
    ----------
    set_name
        A set of :func:`optimizer.bench.readers.benchmark_sets` (``ci``, ``orlib-cflp``, ``pmed``, …; ``a+b`` joins).
    time_limit_s
        Solver time limit per instance and per method, in seconds.
    baselines
        Any of ``highs``, ``spopt``, ``cbc`` (each runs only on the problem kinds it applies to).
    progress
        Show a ``rich`` progress display and one line per instance.
    threads
        Solver threads for our solver (``None``: default).
    instances
        Restrict to these instance names.
    baseline_instances
        Per baseline, the instance names to run it on (a baseline not in the dict, or ``None``: all instances).
    on_row
        Called with each result row as soon as it is ready (e.g. to save partial results).

    Returns
    -------
    pandas.DataFrame
        One row per instance; see :func:`result_columns` for the main columns.
    """
    baselines = tuple(baselines)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        msg = f"unknown baseline(s) {sorted(unknown)}; choose from {list(BASELINES)}"
        raise InputError(msg, field="baselines")
    require_baselines(baselines)
    cases = benchmark_set(set_name)
    if instances is not None:
        wanted = set(instances)
        cases = [c for c in cases if c.name in wanted]
    base_only = {b: set(names) for b, names in (baseline_instances or {}).items() if names is not None}
    rows: list[dict] = []

    def solve(case: BenchmarkCase, stage: Callable[[str], None]) -> dict:
        chosen = tuple(b for b in baselines if b not in base_only or case.name in base_only[b])
        return run_case(case, time_limit_s=time_limit_s, baselines=chosen, threads=threads, on_stage=stage)

    if not progress:
        for case in cases:
            rows.append(solve(case, lambda _s: None))
            if on_row:
                on_row(rows[-1])
        return pd.DataFrame(rows)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[stage]}"))
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(set_name, total=len(cases), stage="")
        for case in cases:
            row = solve(case, lambda s, c=case: bar.update(task, stage=f"{c.name}: {s}"))
            rows.append(row)
            if on_row:
                on_row(row)
            bar.console.print(_line(row), highlight=False, soft_wrap=True)
            bar.advance(task)
    frame = pd.DataFrame(rows)
    bad = frame[frame["match"].astype(str).str.startswith("MISMATCH")]
    if len(bad):
        console.print(f"[bold red]{len(bad)} MISMATCH(ES): {', '.join(bad['instance'])}[/]")
    return frame


def _line(row: dict) -> str:
    match = str(row.get("match", ""))
    colour = "red" if match.startswith("MISMATCH") else "green" if match in ("yes", "better") else "yellow"
    base = "".join(
        f"  {b} {row[f'{b}_time_s']:.1f}s ({row.get(f'{b}_status', '')})"
        for b in BASELINES if isinstance(row.get(f"{b}_time_s"), float) and math.isfinite(row[f"{b}_time_s"])
    )
    return (f"{row['instance']:>10} {row['status']:<9} obj {row['objective']:.6g} known {row['known']:.6g} "
            f"gap {row['gap']:.2e} {row['time_s']:.1f}s [{colour}]{match}[/]{base}")


def bench_command(set_name: str, time_limit: float, baselines: str, out: Path) -> int:
    """CLI entry (``siting bench SET``): run a set, write ``OUT/SET.csv`` and ``OUT/SET.md``, print the summary.

    Parameters
    ----------
    set_name
        Benchmark set name (see :func:`optimizer.bench.readers.benchmark_sets`).
    time_limit
        Time limit per instance and method, seconds.
    baselines
        Comma-separated baselines (``highs,spopt,cbc``), ``all`` or ``none``.
    out
        Output directory, or a ``.csv`` path.

    Returns
    -------
    int
        Exit status: 0 when every result verified and matched, 1 on any mismatch.
    """
    from optimizer.atomic import check_destination, write_output_file

    out = Path(out)
    csv_path = out if out.suffix == ".csv" else out / f"{set_name}.csv"
    md_name = csv_path.with_suffix(".md").name
    folder = check_destination(csv_path.parent, kind="files", names=[csv_path.name, md_name])  # before any solve
    frame = run_bench(set_name, time_limit_s=time_limit, baselines=parse_baselines(baselines), progress=True)
    csv_path = write_output_file(folder, csv_path.name, lambda p: frame.to_csv(p, index=False))
    md_path = write_output_file(folder, md_name, lambda p: write_markdown(frame, p, set_name))
    print(summary_markdown(frame, set_name))
    print(f"wrote {csv_path} and {md_path}")
    return 1 if frame["match"].astype(str).str.startswith("MISMATCH").any() else 0
