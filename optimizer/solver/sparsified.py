"""Solve on k-nearest arcs and certify the result against the dense problem (the argument: :mod:`optimizer.model.arcs`).

Each round solves the beyond relaxation of the current arcs; when no client uses its beyond arc the sparse
optimum is the dense optimum, otherwise ``k`` grows for the clients that did and the round repeats.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.model.arcs import (
    BLOCK_ENTRIES,
    CostBlock,
    PointArcSource,
    SparseArcs,
    beyond_relaxation,
    count_within,
    nearest_arcs,
    nearest_open_arcs,
    rank_of_open,
    with_arcs,
    with_assignment,
)
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.options import SolveOptions
from optimizer.solver.partition import (
    partition_groups,
    region_descent,
    separate_regions,
    solve_separate_regions,
    source_columns,
)
from optimizer.solver.solve import solve_problem

BEYOND_SHARE_TOL = 1e-7  # a beyond-arc share above this counts as used
# a client that went beyond gets k ≥ this × the rank of its cheapest open option: fewer rounds for a few more arcs
# (measured on fine-10k-3k: benchmarks/perf/README.md, "Constants behind the code")
RANK_MARGIN = 2.0
MIN_ROUND_S = 0.5  # no relaxation round is started with less time left than this (the deadline is shared)
FINISH_SHARE = 0.15  # share of the limit (at most 10 s) an uncapacitated solve keeps for its time-limit finish
# one-per-region problems: arcs reach this × each client's second-cheapest open option of the region-move incumbent
# (fine-10k-3k any: at the Lagrangian optimum λ_i ≤ 1.27 × that for every client, so the beyond arcs stay unused)
RADIUS_MARGIN = 1.3
DESCENT_SHARE = 0.15  # share of the time left that the region moves of the incumbent may take


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
    guarantee
        What proves the result when no relaxation round does (the rows separate: every pair evaluated once).
    """

    problem: LocationProblem
    solution: Solution
    certified: bool
    k: np.ndarray
    rounds: int
    history: list[dict] = field(default_factory=list)
    guarantee: str | None = None  # what proves the result, when it is not the relaxation rounds


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

    Notes
    -----
    Time limit: the rounds and the final solve share one deadline; a round gets what is left and no round is
    started with less than :data:`MIN_ROUND_S` left (the old "at least 1 s per round" overran a 120 s limit by
    14 s on ``fine-10k-3k --set assignment=any``). Every relaxation's bound is valid for the dense problem, so the
    bound returned is the best of all rounds (that run reported its last round's 76,195 after round 2 had reached
    105,381). When the time is up on an uncapacitated problem, the best relaxation's open set is completed by
    sending every client to its cheapest open option (one nearest-neighbour query), which is a dense solution.
    """
    options = options or SolveOptions()
    n, m = template.n_clients, template.n_options
    k_i = np.full(n, max(1, int(k)), dtype=np.int64)
    history: list[dict] = []
    relaxed_bound = -np.inf
    timings = {"sparsify": 0.0}
    t_start = time.perf_counter()
    end = None if options.time_limit_s is None else t_start + float(options.time_limit_s)
    uncapacitated = not np.isfinite(template.capacity).any()
    best_open: np.ndarray | None = None  # open set of the best relaxation solution (for the time-limit finish)
    best_open_cost = np.inf

    groups = partition_groups(template) if uncapacitated else None
    separate = separate_regions(cost_block, groups) if groups is not None else None
    if separate is not None:  # one choice per row and every client bound to its row: exact without arcs
        return _solve_separate(template, cost_block, groups, separate, timings)
    # time kept for the finish of an uncapacitated solve stopped by the limit (nearest open option, region moves)
    reserve = 0.0 if end is None or not uncapacitated else min(FINISH_SHARE * float(options.time_limit_s), 10.0)

    def left() -> float | None:
        return None if end is None else max(0.0, end - time.perf_counter())

    def budget() -> float | None:
        return None if end is None else max(0.0, left() - reserve)

    out_of_time = False
    arcs = None
    s_per_arc = 0.0
    incumbent: tuple[np.ndarray, float] | None = None  # a dense solution's open set and cost (one-per-region)
    for round_ in range(1, max_rounds + 1):
        # a round needs its arcs built and some time to solve: estimated from the last round's arc rate
        if round_ > 1 and end is not None and budget() < MIN_ROUND_S + s_per_arc * float(k_i.sum()):
            out_of_time = True
            break
        t0 = time.perf_counter()
        arcs = nearest_arcs(cost_block, n, m, k_i)
        relaxation = beyond_relaxation(template, arcs)
        t_arcs = time.perf_counter() - t0
        s_per_arc = t_arcs / max(1, len(arcs.arc_client))
        timings["sparsify"] += t_arcs
        # no start from the last round's open set: measured slower on fine-10k-3k than the backend's own heuristic;
        # a dense incumbent from region moves (one-per-region problems) is passed in (the dummy option open)
        start = None if incumbent is None else np.append(incumbent[0], True)
        sol = solve_problem(relaxation, _until(replace(options, warm_start=start), budget()))
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
        if sol.has_solution and sol.objective < best_open_cost:
            best_open, best_open_cost = np.asarray(sol.open_options[:m], dtype=bool), sol.objective
        if sol.has_solution and not len(beyond_clients):
            # a dense solution with a dense-valid bound; certified when the relaxation was solved to the gap (a
            # time-limited relaxation returns its solution with the proven gap instead of growing k further)
            problem = with_arcs(template, arcs)
            bound = min(sol.objective, max(relaxed_bound, sol.bound))
            closed = sol.objective - bound <= max(options.mip_gap, 1e-6) * max(1.0, abs(sol.objective)) + 1e-9
            certified = sol.status == Status.OPTIMAL or closed
            final = replace(
                sol,
                open_options=sol.open_options[:m],
                arc_share=sol.arc_share[:n_sparse],
                bound=bound,
                status=Status.OPTIMAL if closed else Status.FEASIBLE,
                solver=sol.solver + (" (sparsified, certified)" if certified else " (sparsified, time limit)"),
                timings_s=timings,
            )
            return SparseResult(problem, final, certified, k_i, round_, history)
        if not sol.has_solution or k_i.min() >= m:
            break
        fresh = groups is not None and incumbent is None
        if fresh:  # the incumbent's reach replaces this round's growth (the relaxation's open set is a poor guide)
            t_inc = time.perf_counter()
            incumbent, k_i = _region_incumbent(template, cost_block, groups, sol.open_options[:m], k_i,
                                               None if end is None else DESCENT_SHARE * budget())  # fmt: skip
            timings["heuristic"] = timings.get("heuristic", 0.0) + time.perf_counter() - t_inc
            history[-1]["incumbent"] = incumbent[1]
        elif incumbent is not None:  # a later round's open set, at its dense cost, can be the better incumbent
            y_round = np.asarray(sol.open_options[:m], dtype=bool)
            cost_round = _dense_cost(cost_block, n, y_round, template.option_cost())
            if cost_round < incumbent[1]:  # fine-10k-3k any on networks: 119,094 -> 117,38x after round 2
                incumbent = (y_round, cost_round)
                history[-1]["incumbent"] = cost_round
        if incumbent is not None and _proves(incumbent[1], relaxed_bound, options.mip_gap):
            return _finish_nearest(template, cost_block, arcs, k_i, incumbent[0], relaxed_bound, options, timings,
                                   history, sol, None, left(), note="region moves, proven by the relaxation")
        t_grow = time.perf_counter()
        grow = np.unique(beyond_clients) if len(beyond_clients) else np.arange(n)
        if fresh:
            grow = grow[:0]
        new_k = k_i[grow] * growth
        if sol.has_solution and len(beyond_clients):  # reach at least the relaxation's cheapest open option
            rank = rank_of_open(cost_block, grow, m, np.asarray(sol.open_options, dtype=bool))
            new_k = np.maximum(new_k, np.ceil(RANK_MARGIN * rank).astype(np.int64))
        k_i[grow] = np.minimum(new_k, m)
        timings["sparsify"] += time.perf_counter() - t_grow
        if end is not None and budget() < MIN_ROUND_S + s_per_arc * float(k_i.sum()):
            out_of_time = True
            break
    if out_of_time and uncapacitated and best_open is not None and arcs is not None:
        start = best_open if incumbent is None else incumbent[0]
        return _finish_nearest(template, cost_block, arcs, k_i, start, relaxed_bound, options, timings,
                               history, sol, groups, left())  # fmt: skip
    while True:  # rounds exhausted: solve the sparse problem, widening it while it is infeasible only by sparsity
        problem = with_arcs(template, nearest_arcs(cost_block, n, m, k_i))
        sol = solve_problem(problem, _until(replace(options, warm_start=best_open), left()))
        if sol.status != Status.INFEASIBLE or k_i.min() >= m or (end is not None and left() < MIN_ROUND_S):
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


def _solve_separate(template: LocationProblem, source: PointArcSource, groups: list[np.ndarray],
                    clients: list[np.ndarray], timings: dict) -> SparseResult:
    """Rows that do not interact (:func:`optimizer.solver.partition.separate_regions`): each row's best option by
    evaluating every allowed pair once, blockwise; only the assignment arcs are kept (``fine-10k-3k``: 10,000 of
    1,465,056 pairs, where the relaxation rounds kept 1,237,692)."""
    t0 = time.perf_counter()
    n, m = template.n_clients, template.n_options
    chosen, option, cost, pairs = solve_separate_regions(source, groups, clients, template.option_cost())
    served = option >= 0
    ci = np.flatnonzero(served)
    if hasattr(source, "arc_km"):  # network pair costs: each arc's route km
        km = np.asarray(source.arc_km(ci, option[ci]), float)
    else:
        km = np.where(source.cost_per_km[ci] > 0,
                      cost[ci] / np.where(source.cost_per_km[ci] > 0, source.cost_per_km[ci], 1.0), 0.0)  # fmt: skip
    arcs = SparseArcs(ci, option[ci], cost[ci], np.full(n, np.inf), km)
    problem = with_arcs(template, arcs)
    y = np.zeros(m, dtype=bool)
    y[chosen] = True
    objective = float(cost[ci].sum() + template.option_cost()[chosen].sum())
    seconds = time.perf_counter() - t0
    timings["sparsify"] += seconds
    if not served.all():  # a client without an allowed option: no solution of this structure
        sol = Solution(y, np.ones(len(ci)), float("nan"), float("-inf"), Status.NO_SOLUTION,
                       solver="exact per row (rows separate)", timings_s=timings)  # fmt: skip
        return SparseResult(problem, sol, False, np.ones(n, np.int64), 0, [])
    sol = Solution(y, np.ones(len(ci)), objective, objective, Status.OPTIMAL,
                   solver="exact per row: every allowed pair evaluated once (rows separate)", timings_s=timings)
    history = [{"round": 0, "rows_separate": True, "pairs_evaluated": int(pairs), "arcs": int(len(ci)),
                "objective": objective, "bound": objective, "status": Status.OPTIMAL, "seconds": seconds}]
    guarantee = (f"exact: every client can only use its own row's option, so each row was solved by evaluating all "
                 f"{pairs:,} allowed pairs once; only the {len(ci):,} assignment arcs are kept")
    return SparseResult(problem, sol, True, np.ones(n, np.int64), 0, history, guarantee)


def _dense_cost(cost_block: CostBlock, n_clients: int, open_options: np.ndarray, option_cost: np.ndarray) -> float:
    """Objective of an open set on the dense problem: every client at its cheapest open option (uncapacitated)."""
    opened = np.flatnonzero(open_options)
    best = _columns(cost_block, n_clients)(opened).min(axis=1) if len(opened) else np.full(n_clients, np.inf)
    return float(best.sum() + np.asarray(option_cost, float)[opened].sum())


def _proves(objective: float, bound: float, gap: float) -> bool:
    return bool(np.isfinite(bound) and objective - bound <= max(gap, 1e-6) * max(1.0, abs(objective)) + 1e-9)


def _region_incumbent(template: LocationProblem, cost_block: CostBlock, groups: list[np.ndarray],
                      start: np.ndarray, k_i: np.ndarray, time_limit_s: float | None,
                      ) -> tuple[tuple[np.ndarray, float], np.ndarray]:  # fmt: skip
    """A dense incumbent of a one-per-region problem and the ``k`` its certificate needs.

    Region moves (:func:`optimizer.solver.partition.region_descent`) from the relaxation's open set give a dense
    solution (``fine-10k-3k`` any: 117,7xx, within 0.2 % of the optimum, where the relaxation of round 1 opens a
    set that costs 148,507). The Lagrangian multipliers ``λ_i`` of the certifying relaxation settle at most a little
    above each client's second-cheapest open option of such a solution, so ``k_i`` grows to every option within
    :data:`RADIUS_MARGIN` × that cost: then the beyond arcs stay unused and one more round certifies.
    """
    n, m = template.n_clients, template.n_options
    columns = _columns(cost_block, n)
    y, cost = region_descent(columns, groups, template.option_cost(), np.asarray(start, dtype=bool),
                             time_limit_s=time_limit_s)  # fmt: skip
    costs = np.sort(columns(np.flatnonzero(y)), axis=1)
    second = costs[:, min(1, costs.shape[1] - 1)]
    reach = count_within(cost_block, n, m, RADIUS_MARGIN * np.where(np.isfinite(second), second, costs[:, 0]))
    return (y, cost), np.minimum(np.maximum(k_i, reach), m)


def _finish_nearest(template: LocationProblem, cost_block: CostBlock, last_arcs: SparseArcs, k_i: np.ndarray,
                    open_options: np.ndarray, bound: float, options, timings: dict, history: list[dict],  # noqa: ANN001
                    last: Solution, groups: list[np.ndarray] | None, left: float | None, *,
                    note: str = "time limit: nearest open option") -> SparseResult:  # fmt: skip
    """Out of time (uncapacitated): the best relaxation's open set, every client to its cheapest open option.

    The open set satisfies the count rows, land and required options (the relaxation has them all); with no
    capacities, each client's cheapest open option is the best assignment for it. Where the options form
    exactly-one rows, the open set is first improved by region moves on the true costs
    (:func:`optimizer.solver.partition.region_descent`, within the time kept for this): the relaxation lets far
    clients pay their beyond arc, so its open set can be poor for the dense problem (``fine-10k-3k`` any: 148,507
    as it is). The arcs are the last round's k-nearest plus the assignment arcs; the bound is the best relaxation
    bound."""
    n, m = template.n_clients, template.n_options
    t0 = time.perf_counter()
    if groups is not None:
        open_options, _ = region_descent(_columns(cost_block, n), groups, template.option_cost(), open_options,
                                         time_limit_s=None if left is None else 0.5 * left)  # fmt: skip
    assign = nearest_open_arcs(cost_block, n, m, open_options)
    arcs, share = with_assignment(last_arcs, assign, n)
    problem = with_arcs(template, arcs)
    y = np.asarray(open_options, dtype=bool).copy()
    objective = float(arcs.arc_cost @ share + problem.option_cost() @ y)
    if len(assign.arc_client) < n:  # a client without an open option: no dense solution from this open set
        status, objective = Status.NO_SOLUTION, float("nan")
    else:
        closed = np.isfinite(bound) and objective - bound <= max(options.mip_gap, 1e-6) * max(1.0, abs(objective))
        status = Status.OPTIMAL if closed else Status.FEASIBLE
    timings["sparsify"] += time.perf_counter() - t0
    sol = Solution(y, share, objective, min(bound, objective) if np.isfinite(objective) else bound, status,
                   solver=last.solver + f" (sparsified, {note})", timings_s=timings,
                   log=last.log)  # fmt: skip
    return SparseResult(problem, sol, status == Status.OPTIMAL, k_i, len(history), history)


def _columns(cost_block: CostBlock, n_clients: int):  # noqa: ANN202
    """Column access to a cost source for :func:`optimizer.solver.partition.region_descent`."""

    if isinstance(cost_block, PointArcSource):
        return source_columns(cost_block)
    if hasattr(cost_block, "block"):  # a source that computes the asked columns only (network pair costs)
        def block_columns(options: np.ndarray) -> np.ndarray:
            step = max(1, BLOCK_ENTRIES // max(len(options), 1))
            return np.vstack([cost_block.block(np.arange(lo, min(n_clients, lo + step)), options)
                              for lo in range(0, n_clients, step)])

        return block_columns
    rows_per_block = max(1, BLOCK_ENTRIES // 1000)

    def columns(options: np.ndarray) -> np.ndarray:
        parts = [np.asarray(cost_block(np.arange(lo, min(n_clients, lo + rows_per_block))), dtype=np.float64)[:, options]
                 for lo in range(0, n_clients, rows_per_block)]  # fmt: skip
        return np.vstack(parts)

    return columns


def _until(options, left: float | None):  # noqa: ANN001, ANN202 - SolveOptions
    """``options`` with the time limit set to what is left (unchanged without a limit)."""
    if left is None or options.time_limit_s is None:
        return options
    return replace(options, time_limit_s=max(0.0, float(left)))
