"""The multi-source capacitated scheme: Lagrangian bound → fixing → Lagrangian branch and bound → HiGHS on the rest.

The bound, the Lagrangian heuristic and the tree are in :mod:`optimizer.solver.lagrangian.cflp`.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from optimizer.model.arcs import restrict_arcs
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.assign import ArcIndex
from optimizer.solver.heuristics import incumbent_for, solution_cost
from optimizer.solver.highs import highs_version, run_highs
from optimizer.solver.lagrangian.cflp import (
    NODE_ITER,
    CflpLagrangian,
    cflp_branch_and_bound,
    lagrangian_local_search,
    start_multipliers,
)
from optimizer.solver.lagrangian.common import FIX_TOL
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import HIGHS_SETUP_S_PER_NNZ, MIN_HIGHS_S, Deadline, SolveOptions
from optimizer.solver.result import clean_solution, finish


def solve_cflp(problem: LocationProblem, options: SolveOptions, *, branch_time_share: float = 0.9) -> Solution:
    """Lagrangian bound → fixing → Lagrangian branch and bound → HiGHS on what is left (multi-source CFLP).

    Parameters
    ----------
    problem
        A multi-source problem with finite capacities (count rows, land and required options allowed).
    options
        The time limit covers all phases.
    branch_time_share
        Share of the remaining time for the Lagrangian tree before HiGHS takes over.

    Returns
    -------
    Solution
        ``timings_s`` has ``build``, ``heuristic``, ``bound`` and ``solve`` seconds.
    """
    deadline = Deadline.after(options.time_limit_s)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    index = ArcIndex.of(problem)
    lag = CflpLagrangian(problem, index)
    timings["build"] = time.perf_counter() - t0
    solver = f"HiGHS {highs_version()} via highspy (CFLP Lagrangian branch and bound)"
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=options.warm_start, index=index,
                          time_limit_s=deadline.share(0.1, cap=1.0))  # fmt: skip
    if start is not None:
        lag.ub, lag.best_solution = solution_cost(problem, *start), start
    timings["heuristic"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    root = lag.run(start_multipliers(problem, start), time_limit_s=deadline.share(0.3))
    if lag.best_solution is not None and not deadline.expired():
        lagrangian_local_search(lag, root.values, time_limit_s=deadline.share(0.3))
    gap = options.mip_gap
    log = f"lagrangian bound {root.bound:.10g} after {root.iterations} it, incumbent {lag.ub:.10g}\n"
    bound = root.bound
    if lag.best_solution is not None and root.bound < lag.ub - max(gap, 1e-9) * max(1.0, abs(lag.ub)):
        fix = (root.bound + root.flip_cost > lag.ub * (1 + FIX_TOL)) & ~problem.required_mask()
        fix &= root.y == lag.best_solution[0]  # never cut the incumbent off (it can only tie, within round-off)
        forced_open, forced_closed = fix & root.y, fix & ~root.y
        log += f"root fixing: {int(forced_closed.sum())} closed, {int(forced_open.sum())} open of {problem.n_options}\n"
        # the tree never opens a root-closed option: drop its arcs (the relaxation is unchanged otherwise)
        kept = np.flatnonzero(~forced_closed[problem.arc_option])
        sub = restrict_arcs(problem, kept)
        sub_lag = CflpLagrangian(sub)
        sub_lag.ub = lag.ub
        sub_lag.best_solution = (lag.best_solution[0], lag.best_solution[1][kept])
        # the tree's share, or all the time left when HiGHS could not even set up the model in the rest
        setup = HIGHS_SETUP_S_PER_NNZ * 4 * problem.n_arcs
        share = 1.0 if deadline.expired(1.5 * setup / max(1e-9, 1.0 - branch_time_share)) else branch_time_share
        tree = cflp_branch_and_bound(
            sub, replace(root, multipliers=root.multipliers), lagrangian=sub_lag, forced_open=forced_open,
            forced_closed=forced_closed, gap=gap, node_iter=NODE_ITER, time_limit_s=deadline.share(share),
        )  # fmt: skip
        if sub_lag.ub < lag.ub:
            x = np.zeros(problem.n_arcs)
            x[kept] = sub_lag.best_solution[1]
            lag.ub, lag.best_solution = sub_lag.ub, (sub_lag.best_solution[0], x)
        bound = max(bound, tree.bound)
        log += f"lagrangian branch and bound: {tree.nodes} nodes, {'finished' if tree.finished else 'stopped'}\n"
        timings["bound"] = time.perf_counter() - t2
        model = None
        if not tree.finished and not deadline.expired(MIN_HIGHS_S):
            model = build_matrices(problem, strengthen=True)
        if model is not None and deadline.too_short_for(model.matrix.nnz):
            log += "time limit: HiGHS not started\n"
        elif model is not None:
            t3 = time.perf_counter()
            k = model.n_x
            upper, lower = model.col_upper.copy(), model.col_lower.copy()
            upper[k + np.flatnonzero(forced_closed)] = 0.0
            lower[k + np.flatnonzero(forced_open)] = 1.0
            upper[:k][forced_closed[problem.arc_option]] = 0.0
            model = replace(model, col_upper=upper, col_lower=lower)
            status, y, x, mip_bound, hlog = run_highs(problem, model, deadline.options(options),
                                                      incumbent=lag.best_solution)  # fmt: skip
            log += hlog
            if status.has_solution:
                x = clean_solution(problem, y, x)[1]
                if solution_cost(problem, y > 0.5, x) < lag.ub:
                    lag.ub, lag.best_solution = solution_cost(problem, y > 0.5, x), (y > 0.5, x)
            if np.isfinite(mip_bound):  # valid for the fixed model, i.e. for every solution below the incumbent
                bound = max(bound, min(mip_bound, lag.ub))
            timings["solve"] = time.perf_counter() - t3
    timings.setdefault("bound", time.perf_counter() - t2)
    timings.setdefault("solve", 0.0)
    if lag.best_solution is None:
        status = Status.INFEASIBLE if not np.isfinite(root.bound) and root.bound > 0 else Status.NO_SOLUTION
        empty = (np.zeros(problem.n_options), np.zeros(problem.n_arcs))
        return finish(problem, status, *empty, bound, solver=solver, timings_s=timings, log=log)
    y, x = lag.best_solution
    return finish(problem, Status.OPTIMAL, y, x, min(bound, lag.ub), solver=solver, timings_s=timings, log=log,
                  gap_tol=options.mip_gap)
