"""Solve a generic matrix instance (no geometry): load → solve → verify → write CSV + summary.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import atomic_directory
from optimizer.export import _json_default, versions
from optimizer.solve import SolveOptions, solve_problem
from optimizer.verify import verify_problem


def run_matrix(
    path: Path,
    *,
    out_dir: Path | None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    backend: str = "auto",
) -> dict:
    """Solve the matrix instance at ``path``; write ``facilities.csv``, ``assignments.csv`` and ``summary.json``."""
    import hashlib

    from optimizer.diagnose import InfeasibleError
    from optimizer.matrix import load_matrix_instance
    from optimizer.pipeline import NoSolutionError

    t0 = time.perf_counter()
    problem = load_matrix_instance(path)
    t_load = time.perf_counter() - t0
    options = SolveOptions(time_limit_s=time_limit_s, mip_gap=1e-6 if mip_gap is None else mip_gap, threads=threads,
                           backend=backend)
    solution = solve_problem(problem, options)
    if solution.status == "infeasible":
        raise InfeasibleError([f"{problem.name}: capacities, counts or required facilities cannot all hold"])
    if not solution.has_solution:
        raise NoSolutionError(f"no feasible solution within {time_limit_s} s")
    report = verify_problem(problem, solution).raise_if_failed()
    files = sorted(Path(path).rglob("*")) if Path(path).is_dir() else [Path(path)]
    digest = hashlib.sha256()
    for f in files:
        if f.is_file():
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    used = np.flatnonzero(solution.arc_share > 1e-9)
    assignments = pd.DataFrame(
        {
            "client": problem.client_ids[problem.arc_client[used]],
            "facility": problem.option_ids[problem.arc_option[used]],
            "share": solution.arc_share[used],
            "cost": problem.arc_cost[used] * solution.arc_share[used],
        }
    )
    facilities = pd.DataFrame({"facility": problem.option_ids, "open": solution.open_options})
    summary = {
        "instance": problem.name,
        "instance_hash": digest.hexdigest(),
        "status": solution.status,
        "optimal": solution.status == "optimal",
        "objective": solution.objective,
        "objective_recomputed": report.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "open_facilities": int(solution.open_options.sum()),
        "size": {"clients": problem.n_clients, "facilities": problem.n_options, "arcs": problem.n_arcs},
        "solver": solution.solver,
        "timings_s": {"load": t_load, **solution.timings_s},
        "verification": {"passed": True, "checks": report.checks},
        "solve_options": options.__dict__,
        "versions": versions(),
    }
    if out_dir is not None:
        out_dir = Path(out_dir).resolve()
        with atomic_directory(out_dir) as tmp:
            facilities.to_csv(tmp / "facilities.csv", index=False)
            assignments.to_csv(tmp / "assignments.csv", index=False)
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
        summary["out_dir"] = str(out_dir)
    return summary
