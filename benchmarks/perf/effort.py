"""Solver effort of the Lagrangian schemes, independent of the clock: iterations, fixings, tree nodes, bounds.

Run from the project root (needs ``../shared/benchmarks``)::

    python benchmarks/perf/effort.py capa8000,capb6000,pmed16,pmed26 > effort.jsonl

Each instance is solved with the highspy backend and no time limit, so nothing depends on the load; one JSON line
per instance holds the objective, the bound, the open facilities and the effort lines of the solver log. Two trees
that print the same lines ran the same algorithm (``benchmarks/perf/README.md``, "Issue 14 restructuring").
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from any folder

from optimizer.bench.readers import benchmark_sets  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402

EFFORT_LINES = ("lagrangian", "root fixing", "time limit", "HiGHS obj")


def main() -> None:
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else ["capa8000", "capb6000", "pmed16", "pmed26"]
    cases = {c.name: c for set_name, cs in benchmark_sets().items() if set_name != "ci" for c in cs}
    for name in names:
        problem = cases[name].load()
        t0 = time.perf_counter()
        sol = solve_problem(problem, SolveOptions(time_limit_s=None, backend="highspy"))
        print(json.dumps({"case": name, "objective": sol.objective, "bound": sol.bound, "status": str(sol.status),
                          "seconds": round(time.perf_counter() - t0, 2),
                          "effort": [ln for ln in sol.log.splitlines() if ln.startswith(EFFORT_LINES)],
                          "open": [int(j) for j in sol.open_options.nonzero()[0]]}), flush=True)


if __name__ == "__main__":
    main()
