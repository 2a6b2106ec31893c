"""Solve on k-nearest arcs and certify the result against the dense problem (the argument: :mod:`optimizer.model.arcs`).

Each round solves the beyond relaxation of the current arcs; when no client uses its beyond arc the sparse
optimum is the dense optimum, otherwise ``k`` grows for the clients that did and the round repeats.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.model.arcs import (
    CostBlock,
    beyond_relaxation,
    nearest_arcs,
    rank_of_open,
    with_arcs,
)
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.options import SPARSIFY_ROUND_MIN_S, SolveOptions, with_time_left
from optimizer.solver.solve import solve_problem

BEYOND_SHARE_TOL = 1e-7  # a beyond-arc share above this counts as used
# a client that went beyond gets k ≥ this × the rank of its cheapest open option: fewer rounds for a few more arcs
# (measured on fine-10k-3k: benchmarks/perf/README.md, "Constants behind the code")
RANK_MARGIN = 2.0


@dataclass
class SparseResult:
    """Outcome of :func:`solve_sparsified`.

    Attributes
    ----------
    problem
        The sparse problem (the template with the final arcs) that ``solution`` refers to.
    solution
        Solution of ``problem``; its ``bound`` is valid for the *dense* problem.
    certified
        ``True`` when the sparse optimum is proven equal to the dense optimum (within the MIP gap).
    k
        Options kept per client in the final round.
    rounds
        Relaxations solved.
    history
        Per round: arcs, clients that used their beyond arc, relaxation objective and bound, seconds.
    """

    problem: LocationProblem
    solution: Solution
    certified: bool
    k: np.ndarray
    rounds: int
    history: list[dict] = field(default_factory=list)


def solve_sparsified(
    template: LocationProblem,
    cost_block: CostBlock,
    *,
    k: int = 16,
    growth: int = 4,
    max_rounds: int = 8,
    options: SolveOptions | None = None,
) -> SparseResult:
    """Solve on the ``k`` cheapest options per client and certify (or grow ``k``) as in the module docstring.

    Parameters
    ----------
    template
        The problem without arcs (its arc arrays are ignored): clients, options, counts, land, required.
    cost_block
        Cost source for blocks of clients (see :data:`CostBlock`).
    k
        Initial options per client.
    growth
        Factor by which ``k`` grows for a client that used its beyond arc.
    max_rounds
        Relaxations to solve at most; if the last one still uses beyond arcs, the sparse problem is solved as is
        (widened while it is infeasible only for lack of arcs) and returned with ``certified=False``; its bound
        is then the relaxations' bound, still valid for the dense problem.
    options
        :class:`~optimizer.solver.options.SolveOptions` for every solve.

    Returns
    -------
    SparseResult
        Solution of the final sparse problem, with a dense-valid bound and the certificate status.
    """
    options = options or SolveOptions()
    n, m = template.n_clients, template.n_options
    k_i = np.full(n, max(1, int(k)), dtype=np.int64)
    history: list[dict] = []
    relaxed_bound = -np.inf
    timings = {"sparsify": 0.0}
    t_start = time.perf_counter()
    for round_ in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        arcs = nearest_arcs(cost_block, n, m, k_i)
        relaxation = beyond_relaxation(template, arcs)
        t_arcs = time.perf_counter() - t0
        timings["sparsify"] += t_arcs
        # no start from the last round's open set: measured slower on fine-10k-3k than the backend's own heuristic
        sol = solve_problem(relaxation, with_time_left(options, time.perf_counter() - t_start, floor_s=SPARSIFY_ROUND_MIN_S))
        for key, value in sol.timings_s.items():
            timings[key] = timings.get(key, 0.0) + value
        n_sparse = len(arcs.arc_client)
        beyond_share = sol.arc_share[n_sparse:] if sol.has_solution else np.zeros(0)
        beyond_clients = relaxation.arc_client[n_sparse:][beyond_share > BEYOND_SHARE_TOL]
        history.append(
            {
                "round": round_,
                "arcs": n_sparse,
                "beyond_clients": int(len(beyond_clients)),
                "objective": sol.objective,
                "bound": sol.bound,
                "status": sol.status,
                "k_max": int(k_i.max()),
                "arcs_s": t_arcs,
                "seconds": time.perf_counter() - t0,
            }
        )
        if np.isfinite(sol.bound):
            relaxed_bound = max(relaxed_bound, sol.bound)
        if sol.status == Status.INFEASIBLE:
            break  # the relaxation contains every dense solution: the dense problem is infeasible too
        if sol.has_solution and not len(beyond_clients):
            # a dense solution with a dense-valid bound; certified when the relaxation was solved to the gap (a
            # time-limited relaxation returns its solution with the proven gap instead of growing k further)
            certified = sol.status == Status.OPTIMAL
            problem = with_arcs(template, arcs)
            final = replace(
                sol,
                open_options=sol.open_options[:m],
                arc_share=sol.arc_share[:n_sparse],
                solver=sol.solver + (" (sparsified, certified)" if certified else " (sparsified, time limit)"),
                timings_s=timings,
            )
            return SparseResult(problem, final, certified, k_i, round_, history)
        if not sol.has_solution or k_i.min() >= m:
            break
        t_grow = time.perf_counter()
        grow = np.unique(beyond_clients) if len(beyond_clients) else np.arange(n)
        new_k = k_i[grow] * growth
        if sol.has_solution and len(beyond_clients):  # reach at least the relaxation's cheapest open option
            rank = rank_of_open(cost_block, grow, m, np.asarray(sol.open_options, dtype=bool))
            new_k = np.maximum(new_k, np.ceil(RANK_MARGIN * rank).astype(np.int64))
        k_i[grow] = np.minimum(new_k, m)
        timings["sparsify"] += time.perf_counter() - t_grow
    while True:  # rounds exhausted: solve the sparse problem, widening it while it is infeasible only by sparsity
        problem = with_arcs(template, nearest_arcs(cost_block, n, m, k_i))
        sol = solve_problem(problem, with_time_left(options, time.perf_counter() - t_start, floor_s=SPARSIFY_ROUND_MIN_S))
        if sol.status != Status.INFEASIBLE or k_i.min() >= m:
            break
        k_i = np.minimum(k_i * max(growth, 2), m)
    if sol.has_solution:  # only the relaxations' bound is valid for the dense problem
        sol = replace(sol, bound=min(sol.objective, relaxed_bound))
        if sol.gap > options.mip_gap:  # optimal for the sparse problem is not proven optimal for the dense one
            sol = replace(sol, status=Status.FEASIBLE)
    for key, value in sol.timings_s.items():
        timings[key] = timings.get(key, 0.0) + value
    sol = replace(sol, timings_s=timings)
    return SparseResult(problem, sol, False, k_i, len(history), history)
