"""The uncapacitated scheme: incumbent → Lagrangian bound → reduced-cost fixing → Lagrangian tree → HiGHS.

For p-median, UFLP and their variants (count rows, land, required options); the bound, fixing and tree are in
:mod:`optimizer.solver.lagrangian.uflp`.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from optimizer.model.arcs import restrict_arcs
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.assign import ArcIndex, assign_nearest
from optimizer.solver.heuristics import Feasibility, incumbent_for, local_search, solution_cost
from optimizer.solver.highs import highs_version, run_highs
from optimizer.solver.lagrangian.uflp import lagrangian_bound, reduced_cost_fixing
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import HIGHS_SETUP_S_PER_NNZ, MIN_HIGHS_S, Deadline, SolveOptions
from optimizer.solver.result import finish
from optimizer.solver.uncapacitated_tree import branch_and_bound  # node-level arcs, early stop, row branching

# Lagrangian branching only when the incumbent opens at most this many options: with many medians the tree
# wanders and HiGHS on the reduced model is the better tool (benchmarks/perf/README.md, "Constants behind the code")
BRANCH_MAX_OPEN = 25


def solve_with_fixing(problem: LocationProblem, options: SolveOptions, *, branch: bool = True) -> Solution | None:
    """Incumbent → Lagrangian bound → reduced-cost fixing → Lagrangian branch and bound → HiGHS if needed.

    For uncapacitated problems; ``None`` when no heuristic finds an incumbent to start from (the dispatcher,
    :func:`optimizer.solver.strategies.solve_highspy`, then solves the strengthened model instead). The heuristic
    incumbent (:func:`optimizer.solver.heuristics.incumbent_for`) seeds the
    subgradient target; if the bound meets it the incumbent is returned as optimal without a MIP. Otherwise the
    options and arcs that cannot improve on the incumbent are removed, and the Lagrangian branch and bound
    (:func:`optimizer.solver.uncapacitated_tree.branch_and_bound`; if ``branch`` and the incumbent opens at most :data:`BRANCH_MAX_OPEN` options) gets half of the remaining
    time to close the gap; what it leaves open goes to HiGHS on the
    strengthened model of the reduced problem, with the incumbent passed in. The returned bound is
    ``max(Lagrangian bound, min(incumbent, MIP bound))``.
    """
    deadline = Deadline.after(options.time_limit_s)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    index = ArcIndex.of(problem)
    timings["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=options.warm_start, index=index,
                          time_limit_s=deadline.share(0.2))  # fmt: skip
    timings["heuristic"] = time.perf_counter() - t1
    solver = f"HiGHS {highs_version()} via highspy (Lagrangian fixing)"
    if start is None:  # no incumbent to fix against: the dispatcher solves the strengthened model
        return None
    y0, x0 = start
    ub = solution_cost(problem, y0, x0)
    t2 = time.perf_counter()
    d1, _, _, _ = index.nearest_two(y0)
    lr = lagrangian_bound(problem, ub, multipliers=d1, index=index, time_limit_s=deadline.share(0.3))
    # the Lagrangian open set is often a better start for the local search
    y_lr = np.asarray(lr.y) > 0.5
    feasibility = Feasibility(problem)
    if not deadline.expired() and (problem.counts.n_rows == 0 or feasibility.feasible(y_lr)):
        y1 = local_search(problem, y_lr, index, time_limit_s=deadline.share(0.2))
        x1 = assign_nearest(problem, y1, index)
        if x1 is not None and feasibility.feasible(y1) and solution_cost(problem, y1, x1) < ub - 1e-9 * max(1.0, abs(ub)):
            y0, x0, ub = y1, x1, solution_cost(problem, y1, x1)
    timings["bound"] = time.perf_counter() - t2
    gap_tol = max(options.mip_gap, 1e-6)
    if lr.bound >= ub - gap_tol * max(1.0, abs(ub)):
        timings["solve"] = 0.0
        return finish(problem, Status.OPTIMAL, y0, x0, lr.bound, solver=solver, timings_s=timings,
                      gap_tol=options.mip_gap)
    if deadline.expired(MIN_HIGHS_S):  # no time for fixing, tree or HiGHS: the incumbent and the Lagrangian bound
        timings["solve"] = 0.0
        return finish(problem, Status.FEASIBLE, y0, x0, lr.bound, solver=solver, timings_s=timings,
                      log="time limit after the Lagrangian bound\n", gap_tol=options.mip_gap)  # fmt: skip
    t3 = time.perf_counter()
    fix_closed, fix_open, keep = reduced_cost_fixing(problem, lr, ub)
    keep |= x0 > 0  # the incumbent stays feasible
    kept = np.flatnonzero(keep)
    sub = restrict_arcs(problem, kept)
    forced_closed, forced_open = fix_closed & ~y0, fix_open & y0
    timings["build"] += time.perf_counter() - t3
    t4 = time.perf_counter()
    log = f"lagrangian bound {lr.bound:.10g} after {lr.iterations} it; kept {len(kept)}/{problem.n_arcs} arcs, "
    log += f"{int((~fix_closed).sum())}/{problem.n_options} options\n"
    if branch and int(y0.sum()) <= BRANCH_MAX_OPEN:
        # half of the time left, or all of it when the other half would not clearly cover HiGHS' set-up of the
        # reduced model (3 nonzeros per arc; 1.5 × the estimate, so that HiGHS is not skipped after all)
        share = 1.0 if deadline.expired(3 * HIGHS_SETUP_S_PER_NNZ * 3 * len(kept)) else 0.5
        bb = branch_and_bound(
            sub, (y0, x0[kept]), lr.multipliers, forced_open=forced_open, forced_closed=forced_closed,
            gap=options.mip_gap, time_limit_s=deadline.share(share),
        )  # fmt: skip
        y0 = bb.incumbent[0]
        x0 = np.zeros(problem.n_arcs)
        x0[kept] = bb.incumbent[1]
        ub = bb.upper_bound
        log += f"lagrangian branch and bound: {bb.nodes} nodes, {'finished' if bb.finished else 'stopped'}\n"
        if bb.finished:
            timings["bound"] += time.perf_counter() - t4
            timings["solve"] = 0.0
            bound = max(lr.bound, min(bb.bound, ub))
            return finish(problem, Status.OPTIMAL, y0, x0, bound, solver=solver, timings_s=timings, log=log,
                          gap_tol=options.mip_gap)
        lr = replace(lr, bound=max(lr.bound, bb.bound))
    timings["bound"] += time.perf_counter() - t4
    t5 = time.perf_counter()
    model = build_matrices(sub, strengthen=True) if not deadline.expired(MIN_HIGHS_S) else None
    if model is None or deadline.too_short_for(model.matrix.nnz):  # the time is up: the incumbent, Lagrangian bound
        timings["solve"] = time.perf_counter() - t5
        log += "time limit: HiGHS not started\n"
        return finish(problem, Status.FEASIBLE, y0, x0, lr.bound, solver=solver, timings_s=timings, log=log,
                      gap_tol=options.mip_gap)  # fmt: skip
    k = model.n_x
    upper = model.col_upper.copy()
    lower = model.col_lower.copy()
    upper[k + np.flatnonzero(forced_closed)] = 0.0
    lower[k + np.flatnonzero(forced_open)] = 1.0
    model = replace(model, col_upper=upper, col_lower=lower)
    status, y, xs, bound, hlog = run_highs(sub, model, deadline.options(options), incumbent=(y0, x0[kept]))
    timings["solve"] = time.perf_counter() - t5
    log += hlog
    if status.has_solution:
        x = np.zeros(problem.n_arcs)
        x[kept] = xs
        mip_obj = solution_cost(problem, y > 0.5, x)
        if mip_obj > ub:  # HiGHS stopped on something worse than our incumbent
            y, x = y0, x0
    else:
        y, x = y0, x0
        status = Status.FEASIBLE
    if np.isfinite(bound) and status == Status.OPTIMAL:
        bound = max(lr.bound, min(bound, ub))
    else:
        bound = max(lr.bound, min(bound, ub)) if np.isfinite(bound) else lr.bound
    return finish(problem, status, y, x, bound, solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)
