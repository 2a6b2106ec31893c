"""Parity and speed of the coverage models against PySAL spopt 0.7 (LSCP, MCLP, PCenter), side by side in one run.

Each seeded instance: clients and candidate facilities uniform in a 100 km × 100 km square, Euclidean distance
(km) as the cost matrix both solvers get; integer weights 1..100 for MCLP. spopt solves with PuLP's bundled CBC
(``pulp.PULP_CBC_CMD``, its default in spopt's documentation and tests), ours with HiGHS via highspy
(``optimizer.solver.coverage.solve_coverage``, through the HiGHS adapter ``optimizer.solver.highs``); every one of our solutions is checked by the independent verifier.
Both get the same wall-clock limit. Times include building the model (spopt: ``from_cost_matrix`` + ``solve``;
ours: arrays + HiGHS); verification is timed apart. The two run one after the other on the same instance, so the
ratio shares the machine's load (``os.getloadavg`` is recorded before each pair).

Equality: LSCP (facilities) and MCLP (covered weight) are integers and must be equal; for p-center we compare our
objective with the largest client→nearest-open distance of spopt's open set (its ``W`` variable is reported too).

Usage::

    python benchmarks/coverage/run_parity.py                 # all models, writes results.csv + prints the table
    python benchmarks/coverage/run_parity.py --models pcenter --time-limit 300 --max-n 1000
    python benchmarks/coverage/run_parity.py --pmed 1-10      # p-center on OR-Library pmed vs published optima
    python benchmarks/coverage/run_parity.py --models pcenter --spopt-pcenter lscp   # spopt's LSCP, bisection
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from optimizer.check.verify_coverage import verify_coverage  # noqa: E402
from optimizer.data.matrix import matrix_problem  # noqa: E402
from optimizer.model.coverage import CoverageSpec  # noqa: E402
from optimizer.solver.coverage import solve_coverage  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402

SIDE_KM = 100.0
MODELS = ("lscp", "mclp", "pcenter")  # the order fixes each instance's seed: 1000 × (index + 1) + size index

SIZES = {  # (clients, facilities): small to a few thousand × a few hundred
    "lscp": [(50, 10), (100, 20), (200, 30), (300, 50), (500, 60), (800, 100), (1000, 120), (1500, 150),
             (2000, 200), (3000, 300)],
    "mclp": [(50, 10), (100, 20), (200, 30), (300, 50), (500, 60), (800, 100), (1000, 120), (1500, 150),
             (2000, 200), (3000, 300)],
    "pcenter": [(30, 8), (50, 10), (80, 15), (100, 20), (150, 25), (200, 30), (250, 35), (300, 40), (400, 45),
                (500, 50), (600, 60), (800, 80), (1000, 100)],
}  # fmt: skip
# Published vertex p-center optima of OR-Library pmed1-40 as listed in github.com/timothy-ch-cheung/k-center
# (commit 6d9f3e34, src/server/dataset/ORLIB/kcenteropt.txt), which attributes them to W. Pullan (2008),
# "A memetic genetic algorithm for the vertex p-center problem", Evolutionary Computation 16(3):417-436.
PMED_PCENTER_OPT = {1: 127, 2: 98, 3: 93, 4: 74, 5: 48, 6: 84, 7: 64, 8: 55, 9: 37, 10: 20, 11: 59, 12: 51,
                    13: 36, 14: 26, 15: 18}  # fmt: skip


def instance(model: str, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, float | None, int | None]:
    """Distance matrix (km), weights, service radius and p of one seeded instance."""
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, SIDE_KM, (n, 2))
    sites = rng.uniform(0, SIDE_KM, (m, 2))
    dist = np.hypot(*(clients[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    weight = rng.integers(1, 101, n).astype(float)
    floor = float(dist.min(axis=1).max())  # every client needs some facility within the radius
    p = max(2, m // 10)
    if model == "lscp":  # rounded up to the metre, so that the radius never drops below the floor
        return dist, weight, float(np.ceil(max(floor, 1.3 * SIDE_KM / np.sqrt(m)) * 1000) / 1000), None
    if model == "mclp":
        return dist, weight, round(0.5 * SIDE_KM / np.sqrt(p), 3), p
    return dist, weight, None, p


def warm_start_pcenter(obj, dist: np.ndarray, open_options: np.ndarray) -> None:
    """Give spopt's p-center model our open facilities as its start (y, nearest-open z, W = their radius).

    Only a start: spopt's model and its solver must still prove that nothing better exists, so an equal objective
    with status optimal is spopt's proof, not a copy of ours.
    """
    is_open = np.asarray(open_options, dtype=bool)
    idx = np.flatnonzero(is_open)
    nearest = idx[np.argmin(dist[:, idx], axis=1)]
    for j, var in enumerate(obj.fac_vars):
        var.setInitialValue(1 if is_open[j] else 0)
    for i, row in enumerate(obj.cli_assgn_vars):
        for j, var in enumerate(row):
            var.setInitialValue(1 if j == nearest[i] else 0)
    obj.weight_var.setInitialValue(float(dist[np.arange(len(nearest)), nearest].max()))


def spopt_solver(name: str, time_limit: float, warm: bool = False):
    """The PuLP solver spopt is given: its documented default CBC, or HiGHS (PuLP's ``HiGHS`` through highspy).

    HiGHS is for instances CBC does not finish: spopt's own model and formulation, a stronger MIP solver, so that
    its objective exists to compare with ours.
    """
    import pulp

    if name == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit, warmStart=warm)
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, warmStart=warm)


def spopt_pcenter_by_lscp(dist: np.ndarray, p: int, time_limit: float, solver_name: str = "cbc") -> dict:
    """The p-center optimum from spopt's own ``LSCP``, by bisection over the distinct distances of the matrix.

    The smallest radius r whose LSCP needs at most p facilities is the p-center optimum (a set of at most p
    facilities within r of every client is a p-center solution of value <= r, and conversely). Every LSCP is
    solved to optimality by spopt; below the largest nearest-facility distance no cover exists, so the search
    starts there. Independent of our solver: it neither reads our solution nor our bound. Used where spopt's
    ``PCenter`` model does not finish (its LP bound is weak at 1000 × 100).
    """
    import pulp
    import spopt.locate as sl

    values = np.unique(dist)
    lo = int(np.searchsorted(values, dist.min(axis=1).max()))  # first radius at which every client is coverable
    hi = len(values) - 1  # every facility covers every client: one facility suffices (p >= 1)
    t0 = time.perf_counter()
    solves, best_open = 0, None
    while lo < hi:  # invariant: LSCP(values[hi]) needs <= p facilities; values below lo were shown to need > p
        mid = (lo + hi) // 2
        left = max(1.0, time_limit - (time.perf_counter() - t0))
        solver = spopt_solver(solver_name, left)
        try:  # spopt raises on any status but Optimal
            obj = sl.LSCP.from_cost_matrix(dist, float(values[mid])).solve(solver)
        except RuntimeError as e:
            return {"status": f"LSCP error: {e}".split(".")[0], "time": time.perf_counter() - t0}
        solves += 1
        if obj.problem.sol_status != 1:
            return {"status": f"stopped (LSCP sol_status {obj.problem.sol_status})",
                    "time": time.perf_counter() - t0}  # fmt: skip
        y = np.array([(v.value() or 0.0) > 0.5 for v in obj.fac_vars])
        if y.sum() <= p:
            hi, best_open = mid, y
        else:
            lo = mid + 1
    elapsed = time.perf_counter() - t0
    if best_open is None:  # never tested: the answer is the largest distance itself, one facility
        best_open = np.zeros(dist.shape[1], dtype=bool)
        best_open[int(np.argmin(dist.max(axis=0)))] = True
    value = float(dist[:, best_open].min(axis=1).max())
    return {"status": "optimal", "time": elapsed, "value": value, "reported": float(values[hi]),
            "lscp_solves": solves}  # fmt: skip


def spopt_run(model: str, dist: np.ndarray, weight: np.ndarray, radius, p, time_limit: float,
              solver_name: str = "cbc", start: np.ndarray | None = None, pcenter_via: str = "model") -> dict:
    import spopt.locate as sl

    if model == "pcenter" and pcenter_via == "lscp":
        return spopt_pcenter_by_lscp(dist, p, time_limit, solver_name)
    solver = spopt_solver(solver_name, time_limit, warm=start is not None)
    t0 = time.perf_counter()
    try:
        if model == "lscp":
            obj = sl.LSCP.from_cost_matrix(dist, radius)
        elif model == "mclp":
            obj = sl.MCLP.from_cost_matrix(dist, weight, radius, p)
        else:
            obj = sl.PCenter.from_cost_matrix(dist, p)
            if start is not None:
                warm_start_pcenter(obj, dist, start)
        obj = obj.solve(solver)
    except RuntimeError as e:  # spopt raises on any status but Optimal
        return {"status": f"error: {e}".split(".")[0], "time": time.perf_counter() - t0}
    elapsed = time.perf_counter() - t0
    y = np.array([(v.value() or 0.0) > 0.5 for v in obj.fac_vars])
    status = "optimal" if obj.problem.sol_status == 1 else f"stopped (sol_status {obj.problem.sol_status})"
    reported = float(obj.problem.objective.value())
    if model == "lscp":
        value = float(y.sum())
    elif model == "mclp":
        value = float(weight[(dist[:, y] <= radius).any(axis=1)].sum())
    else:
        value = float(dist[:, y].min(axis=1).max())
    return {"status": status, "time": elapsed, "value": value, "reported": reported}


def ours_run(model: str, dist: np.ndarray, weight: np.ndarray, radius, p, time_limit: float) -> dict:
    problem = matrix_problem(weight, None, np.zeros(dist.shape[1]), dist)
    spec = CoverageSpec(model, service_km=radius, p=p)
    t0 = time.perf_counter()
    sol = solve_coverage(problem, spec, SolveOptions(time_limit_s=time_limit, mip_gap=0.0))
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    check = verify_coverage(problem, spec, sol) if sol.has_solution else None
    verify_s = time.perf_counter() - t1
    return {
        "status": sol.status, "time": elapsed, "value": sol.objective, "bound": sol.bound, "verify_s": verify_s,
        "verified": bool(check and check.ok), "open": sol.n_open, "open_options": sol.open_options,
    }  # fmt: skip


def same(model: str, a: float, b: float) -> bool:
    if model in ("lscp", "mclp"):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def run(models: list[str], time_limit: float, max_n: int, out: Path, solver_name: str = "cbc",
        seeds: set[int] | None = None, start_from_ours: bool = False, pcenter_via: str = "model") -> list[dict]:
    rows = []
    for model in models:
        for k, (n, m) in enumerate(SIZES[model]):
            seed = 1000 * (MODELS.index(model) + 1) + k
            if n > max_n or (seeds is not None and seed not in seeds):
                continue
            dist, weight, radius, p = instance(model, n, m, seed)
            load = os.getloadavg()[0]
            ours = ours_run(model, dist, weight, radius, p, time_limit)
            start = ours.get("open_options") if start_from_ours and model == "pcenter" else None
            theirs = spopt_run(model, dist, weight, radius, p, time_limit, solver_name, start, pcenter_via)
            equal = "yes" if ("value" in theirs and theirs["status"] == "optimal" and ours["status"] == "optimal"
                              and same(model, ours["value"], theirs["value"])) else "NO"  # fmt: skip
            if theirs["status"] != "optimal":
                equal = f"spopt {theirs['status']}"
            row = {
                "model": model, "seed": seed, "clients": n, "facilities": m, "radius_km": radius, "p": p,
                "ours": ours["value"], "ours_status": ours["status"], "verified": ours["verified"],
                "spopt": theirs.get("value", float("nan")), "spopt_reported": theirs.get("reported", float("nan")),
                "spopt_status": theirs["status"], "equal": equal, "ours_s": round(ours["time"], 3),
                "verify_s": round(ours["verify_s"], 3), "spopt_s": round(theirs["time"], 3),
                "ratio": round(theirs["time"] / max(ours["time"], 1e-9), 1), "load1": round(load, 2),
                "spopt_solver": solver_name, "spopt_start": "ours" if start is not None else "none",
                "spopt_pcenter": pcenter_via if model == "pcenter" else "", "lscp_solves": theirs.get("lscp_solves", ""),
            }  # fmt: skip
            rows.append(row)
            print(" | ".join(str(v) for v in row.values()), flush=True)
            write(rows, out)
    return rows


def run_pmed(spec_range: str, time_limit: float) -> None:
    from optimizer.bench.readers import read_pmed
    from optimizer.settings import benchmarks_dir

    lo, hi = (int(v) for v in spec_range.split("-"))
    print("| instance | n | p | ours | published (Pullan 2008) | equal | status | time s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in range(lo, hi + 1):
        problem = read_pmed(benchmarks_dir() / "orlib-pmed" / f"pmed{k}.txt")
        spec = CoverageSpec("pcenter")  # p from the problem's count row
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        sol = solve_coverage(problem, spec, SolveOptions(time_limit_s=time_limit, mip_gap=0.0))
        elapsed = time.perf_counter() - t0
        verify_coverage(problem, spec, sol).raise_if_failed()
        pub = PMED_PCENTER_OPT.get(k)
        p = int(problem.counts.upper[0])
        print(f"| pmed{k} | {problem.n_clients} | {p} | {sol.objective:g} | {pub} | "
              f"{'yes' if pub is not None and sol.objective == pub else 'NO'} | {sol.status} | {elapsed:.2f} | {load:.1f} |",
              flush=True)  # fmt: skip


def write(rows: list[dict], out: Path) -> None:
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)


def markdown(rows: list[dict]) -> str:
    head = ("| model | seed | clients × facilities | radius km | p | ours | spopt | equal | ours s | spopt s | "
            "spopt/ours | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [head]
    for r in rows:
        fmt = (lambda v: f"{v:.6f}") if r["model"] == "pcenter" else (lambda v: f"{v:g}")
        lines.append(f"| {r['model']} | {r['seed']} | {r['clients']} × {r['facilities']} | {r['radius_km'] or '–'} | "
                     f"{r['p'] or '–'} | {fmt(r['ours'])} | {fmt(r['spopt'])} | {r['equal']} | {r['ours_s']:.2f} | "
                     f"{r['spopt_s']:.2f} | {r['ratio']:g} | {r['load1']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lscp,mclp,pcenter")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per solve, both solvers")
    parser.add_argument("--max-n", type=int, default=10**9, help="skip instances with more clients")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.csv"))
    parser.add_argument("--pmed", default=None, help="range such as 1-10: p-center on OR-Library pmed instead")
    parser.add_argument("--spopt-solver", choices=("cbc", "highs"), default="cbc",
                        help="PuLP solver for spopt: CBC (its default) or HiGHS for instances CBC does not finish")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds: run only these instances")
    parser.add_argument("--spopt-start", choices=("none", "ours"), default="none",
                        help="p-center: start spopt's model from our solution (spopt must still prove optimality)")
    parser.add_argument("--spopt-pcenter", choices=("model", "lscp"), default="model",
                        help="p-center: spopt's PCenter model, or the optimum from spopt's LSCP by bisection "
                             "over the distinct distances (for instances its PCenter does not finish)")
    args = parser.parse_args()
    if args.pmed:
        run_pmed(args.pmed, args.time_limit)
        return
    seeds = {int(v) for v in args.seeds.split(",")} if args.seeds else None
    rows = run(args.models.split(","), args.time_limit, args.max_n, args.out, args.spopt_solver, seeds,
               args.spopt_start == "ours", args.spopt_pcenter)
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
