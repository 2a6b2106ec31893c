"""Solve a :class:`~optimizer.model.periods.MultiPeriodProblem` with HiGHS: one MIP over all periods.

Each period's block is built by the builder its model already has — :func:`optimizer.solver.matrices.build_matrices`
for a :class:`~optimizer.problem.LocationProblem` (with its strengthened link rows), :func:`optimizer.model.chain.
build_matrix` for a chain — and :func:`optimizer.model.periods.stack_periods` couples them. The HiGHS adapter
(:mod:`optimizer.solver.highs`) is the only code that talks to HiGHS.
"""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import numpy as np

from optimizer.model.chain import ChainProblem, ChainSolution, build_matrix
from optimizer.model.periods import MultiPeriodProblem, MultiPeriodSolution, PeriodBlock, stack_periods
from optimizer.problem import LocationProblem, Solution, objective_parts
from optimizer.solver.highs import new_highs, pass_arrays, status_of
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import SolveOptions
from optimizer.solver.result import clean_solution


def period_block(problem: LocationProblem | ChainProblem) -> PeriodBlock:
    """One period's MIP as a :class:`PeriodBlock` (its own model's matrices)."""
    if isinstance(problem, ChainProblem):
        cost, a, lo, up, col_lo, col_up, integer = build_matrix(problem)
        return PeriodBlock(cost, a, lo, up, col_lo, col_up, integer.astype(np.int32), np.arange(problem.n_fac))
    mm = build_matrices(problem)
    return PeriodBlock(mm.col_cost, mm.matrix.tocsc(), mm.row_lower, mm.row_upper, mm.col_lower, mm.col_upper,
                       mm.integrality, np.arange(mm.n_x, mm.n_x + mm.n_y))


def solve_periods(mp: MultiPeriodProblem, options: SolveOptions) -> MultiPeriodSolution:
    """Build and solve the multi-period MIP; each period's solution carries its yearly cost as objective."""
    t0 = time.perf_counter()
    blocks = [period_block(p) for p in mp.periods]
    model = stack_periods(mp, blocks)
    h = new_highs(bool(options.log))
    if options.time_limit_s is not None:
        h.setOptionValue("time_limit", float(max(options.time_limit_s, 0.0)))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.threads is not None:
        h.setOptionValue("threads", int(options.threads))
    for option, values, target in (("user_objective_scale", model.cost, 1e4),
                                   ("user_bound_scale", np.concatenate([model.row_lower, model.row_upper]), 1e5)):
        # one-off costs (EUR millions) beside costs per tonne: HiGHS' own power-of-two scaling keeps it well posed
        top = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
        if top > 100 * target:
            h.setOptionValue(option, -int(np.ceil(np.log2(top / target))))
    pass_arrays(h, model.cost, model.col_lower, model.col_upper, model.row_lower, model.row_upper, model.matrix,
                model.integrality)
    t1 = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        h.run()
    status = status_of(h)
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if status.has_solution else np.zeros(len(model.cost))
    y = values[model.y_index] > 0.5
    solutions: list = []
    for t, (p, b) in enumerate(zip(mp.periods, blocks)):
        v = values[model.block_cols[t]]
        if isinstance(p, ChainProblem):
            flow = np.maximum(v[p.n_fac:], 0.0)
            yearly = float(np.dot(b.cost[: p.n_fac], y[t]) + np.dot(b.cost[p.n_fac:], flow))
            solutions.append(ChainSolution(y[t], flow, yearly, float("-inf"), status))
        else:
            open_t, share = clean_solution(p, y[t], v[: p.n_arcs])
            yearly = objective_parts(p, open_t, share)["total"]
            solutions.append(Solution(open_t, share, yearly, float("-inf"), status, solver="highspy-periods"))
    sol = MultiPeriodSolution(y, solutions, float("nan"), float("-inf"), status)
    if status.has_solution:  # the objective recomputed from the cleaned values, never the solver's own figure
        sol.objective = float(sum(mp.years[t] * s_.objective for t, s_ in enumerate(solutions))
                              + np.sum(mp.open_cost * sol.opened(mp.initially_open))
                              + np.sum(mp.close_cost * sol.closed(mp.initially_open)))
        bound = float(info.mip_dual_bound)
        sol.bound = min(bound, sol.objective) if np.isfinite(bound) else float("-inf")
    sol.timings_s = {"build": t1 - t0, "solve": time.perf_counter() - t1}
    return sol
