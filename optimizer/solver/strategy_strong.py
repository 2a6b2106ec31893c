"""HiGHS on the extensive formulation: plain (the benchmarks' baseline), LP first (small problems) or strengthened
with a heuristic start."""

from __future__ import annotations

import time

import numpy as np

from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.heuristics import incumbent_for, solution_cost
from optimizer.solver.highs import highs_version, make_highs, run_highs, run_lp, status_of
from optimizer.solver.lagrangian.cflp import cflp_lagrangian
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import Deadline, SolveOptions
from optimizer.solver.result import finish


def solve_plain(problem: LocationProblem, options: SolveOptions) -> Solution:
    """Default HiGHS on the plain extensive formulation (the Pyomo model's rows): the baseline of benchmarks."""
    t0 = time.perf_counter()
    model = build_matrices(problem, strengthen=False)
    t_build = time.perf_counter() - t0
    status, y, x, bound, log = run_highs(problem, model, options)
    t_solve = time.perf_counter() - t0 - t_build
    return finish(
        problem,
        status,
        y,
        x,
        bound,
        solver=f"HiGHS {highs_version()} via highspy (plain)",
        timings_s={"build": t_build, "solve": t_solve},
        log=log,
        gap_tol=options.mip_gap,
    )


def solve_lp_first(problem: LocationProblem, options: SolveOptions) -> Solution:
    """The plain formulation's LP first; HiGHS' MIP (presolve off) on the same model only if it is fractional.

    For small problems, where HiGHS' fixed set-up (presolve, symmetry detection, cut pools) is most of a MIP solve:
    on OR-Library cap41–cap134 (800–2,500 arcs) the strong LP is integral for 19 of 37 instances and solves in
    3–30 ms, where the MIP takes 25–170 ms; the fractional ones then re-use the solved LP and skip presolve
    (measured 1.2–1.5× faster than a fresh default MIP at load 7, benchmarks/perf/README.md "Fixed costs").
    """
    deadline = Deadline.after(options.time_limit_s)
    t0 = time.perf_counter()
    model = build_matrices(problem, strengthen=False)
    h = make_highs(model, options, relax=True)
    t_build = time.perf_counter() - t0
    solver = f"HiGHS {highs_version()} via highspy (LP first)"
    status = run_lp(h)
    integer = np.flatnonzero(model.integrality == 1)
    if status == Status.INFEASIBLE:
        return finish(problem, status, np.zeros(problem.n_options), np.zeros(problem.n_arcs), np.inf, solver=solver,
                      timings_s={"build": t_build, "solve": time.perf_counter() - t0 - t_build})  # fmt: skip
    values = np.asarray(h.getSolution().col_value)
    whole = np.all(np.abs(values[integer] - np.round(values[integer])) <= 1e-9)
    if status == Status.OPTIMAL and whole:  # the LP optimum is integral: optimal for the MIP
        bound = float(h.getInfo().objective_function_value)
        return finish(problem, Status.OPTIMAL, values[model.n_x :], values[: model.n_x], bound, solver=solver,
                      timings_s={"build": t_build, "solve": time.perf_counter() - t0 - t_build}, gap_tol=options.mip_gap)  # fmt: skip
    h.changeColsIntegrality(len(integer), integer.astype(np.int32), np.ones(len(integer), dtype=np.uint8))
    h.setOptionValue("presolve", "off")
    left = deadline.left()
    if left is not None:
        h.setOptionValue("time_limit", float(left))
    lp_bound = float(h.getInfo().objective_function_value) if status == Status.OPTIMAL else float("-inf")
    h.run()
    status = status_of(h)
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if status.has_solution else np.zeros(model.n_cols)
    bound = max(float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("-inf"), lp_bound)
    y, x = values[model.n_x :], values[: model.n_x]
    if status == Status.NO_SOLUTION:  # the limit came first: a heuristic incumbent with the LP bound
        start = incumbent_for(problem, warm_start=options.warm_start, time_limit_s=0.1)
        if start is not None:
            status, (y, x) = Status.FEASIBLE, start
    return finish(problem, status, y, x, bound, solver=solver,
                  timings_s={"build": t_build, "solve": time.perf_counter() - t0 - t_build}, gap_tol=options.mip_gap)  # fmt: skip


def solve_strong(problem: LocationProblem, options: SolveOptions) -> Solution:
    """Strengthened formulation plus a heuristic (or the user's warm start) as HiGHS' first incumbent.

    With a time limit on a capacitated problem the Lagrangian bound of :mod:`optimizer.solver.lagrangian.cflp` (for
    single-source problems that of the multi-source relaxation, still valid) is computed first with a small share
    of the time: HiGHS may stop before its own root bound, and a time-limited result must still carry an honest,
    finite gap. The reported bound is the larger of the two.
    """
    deadline = Deadline.after(options.time_limit_s)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    model = build_matrices(problem, strengthen=True)
    timings["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=options.warm_start, time_limit_s=deadline.share(0.1))
    timings["heuristic"] = time.perf_counter() - t1
    solver = f"HiGHS {highs_version()} via highspy (strong)"
    t2 = time.perf_counter()
    lag_bound, log = float("-inf"), ""
    if options.time_limit_s is not None and np.isfinite(problem.capacity).any():
        ub = solution_cost(problem, *start) if start is not None else float("inf")
        lr = cflp_lagrangian(problem, upper_bound=ub, time_limit_s=deadline.share(0.15), heuristic_every=0)
        lag_bound = lr.bound
        log += f"lagrangian bound {lag_bound:.10g} after {lr.iterations} it\n"
        timings["bound"] = time.perf_counter() - t2
        if start is not None and lag_bound >= ub - max(options.mip_gap, 1e-6) * max(1.0, abs(ub)):
            timings["solve"] = 0.0
            return finish(problem, Status.OPTIMAL, *start, lag_bound, solver=solver, timings_s=timings, log=log,
                          gap_tol=options.mip_gap)  # fmt: skip
    t3 = time.perf_counter()
    if start is not None and deadline.too_short_for(model.matrix.nnz):
        status, (y, x), bound = Status.FEASIBLE, start, float("-inf")
    else:
        status, y, x, bound, hlog = run_highs(problem, model, deadline.options(options), incumbent=start)
        log += hlog
    timings["solve"] = time.perf_counter() - t3
    if status == Status.NO_SOLUTION and start is not None:  # HiGHS stopped before accepting the incumbent
        status, (y, x) = Status.FEASIBLE, start
    if status != Status.INFEASIBLE:
        bound = max(bound, lag_bound)
    return finish(problem, status, y, x, bound, solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)
