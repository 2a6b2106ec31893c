"""Sparsification with a guarantee: solve on each client's k cheapest options and prove nothing was lost.

Dense client × option cost matrices (2,000 × 200 = 400,000 arcs; a fine-grained Flanders instance has
millions) make models large, while optimal solutions use only short arcs. This module solves on the ``k`` cheapest
allowed options per client and **certifies** the result against the dense problem, growing ``k`` for the clients
where the certificate fails.

The certificate is a relaxation. Every client ``i`` gets one extra "beyond" arc to an always-open dummy option
without capacity, count or land, costing ``b_i`` = the cheapest of *its arcs left out*. Any dense solution maps to
a solution of this sparse relaxation with no higher cost (the shares a client sends beyond its ``k`` cheapest
arcs go to the beyond arc at ``b_i`` ≤ their cost, which only frees capacity), so

    optimum(relaxation) ≤ optimum(dense) ≤ optimum(sparse).

If the relaxation's optimal solution uses no beyond arc it is a solution of the sparse problem with the same
cost, so all three are equal: the sparse optimum is the dense optimum, and the relaxation's proven bound is a
valid bound for the dense problem. Otherwise ``k`` grows (×``growth``) for the clients that used their beyond
arc and the round repeats. The argument holds for capacities, single sourcing, count rows, land and required
options alike; for uncapacitated problems it is the rigorous form of "grow k until no client wants to go beyond
its k-th nearest candidate" (cf. the radius formulation of García, Labbé & Marín 2011 and Elloumi 2010).

Costs come from a callable, one block of clients at a time, so the distance layer (float32, blockwise
``cKDTree``/network queries) plugs in without ever materialising the dense matrix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from optimizer.problem import CountRows, LocationProblem, Solution

CostBlock = Callable[[np.ndarray], np.ndarray]
"""``cost_block(clients) -> costs``: for client indices (int array), the cost of serving each client's whole demand
from every option, shape ``(len(clients), n_options)`` (float32 or float64, in the problem's cost unit);
``np.inf`` marks a forbidden pair."""

BLOCK_ENTRIES = 4_000_000  # client rows per cost block are chosen so a block holds about this many costs
BEYOND_SHARE_TOL = 1e-7  # a beyond-arc share above this counts as used


@dataclass
class SparseArcs:
    """The k cheapest allowed arcs of every client and the cheapest cost left out.

    Attributes
    ----------
    arc_client, arc_option, arc_cost
        COO arcs, sorted by client then cost.
    beyond_cost
        Per client, the cheapest cost among the allowed arcs *not* kept (``inf`` when all were kept).
    """

    arc_client: np.ndarray
    arc_option: np.ndarray
    arc_cost: np.ndarray
    beyond_cost: np.ndarray


def matrix_cost_block(cost: np.ndarray) -> CostBlock:
    """A :data:`CostBlock` over an in-memory dense matrix (tests, small problems)."""
    cost = np.asarray(cost)
    return lambda clients: cost[clients]


def nearest_arcs(cost_block: CostBlock, n_clients: int, n_options: int, k: np.ndarray | int) -> SparseArcs:
    """The ``k[i]`` cheapest allowed options of every client, computed block by block.

    Parameters
    ----------
    cost_block
        Cost source (see :data:`CostBlock`).
    n_clients, n_options
        Problem size.
    k
        Options to keep per client (scalar or one per client), at least 1.

    Returns
    -------
    SparseArcs
        Arcs sorted by client then cost, plus each client's cheapest left-out cost.
    """
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), (n_clients,))
    rows_per_block = max(1, BLOCK_ENTRIES // max(n_options, 1))
    out_c, out_o, out_v, beyond = [], [], [], np.full(n_clients, np.inf)
    for lo in range(0, n_clients, rows_per_block):
        clients = np.arange(lo, min(n_clients, lo + rows_per_block))
        costs = np.asarray(cost_block(clients), dtype=np.float64)
        if costs.shape != (len(clients), n_options):
            msg = f"cost_block returned shape {costs.shape}, expected ({len(clients)}, {n_options})"
            raise ValueError(msg)
        kb = np.minimum(k[clients], n_options)
        width = int(min(n_options, kb.max() + 1))
        if width < n_options:
            part = np.argpartition(costs, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(n_options), costs.shape)
        pv = np.take_along_axis(costs, part, axis=1)
        order = np.argsort(pv, axis=1, kind="stable")
        part, pv = np.take_along_axis(part, order, axis=1), np.take_along_axis(pv, order, axis=1)
        rank = np.arange(width)[None, :]
        keep = (rank < kb[:, None]) & np.isfinite(pv)
        r, c = np.nonzero(keep)
        out_c.append(clients[r])
        out_o.append(part[r, c])
        out_v.append(pv[r, c])
        # the cheapest left-out cost is the (k+1)-th smallest (inf if the client kept all its allowed options)
        nxt = np.where(kb < width, pv[np.arange(len(clients)), np.minimum(kb, width - 1)], np.inf)
        beyond[clients] = np.where(kb < n_options, nxt, np.inf)
    return SparseArcs(
        np.concatenate(out_c) if out_c else np.zeros(0, np.int64),
        np.concatenate(out_o) if out_o else np.zeros(0, np.int64),
        np.concatenate(out_v) if out_v else np.zeros(0),
        beyond,
    )


def with_arcs(template: LocationProblem, arcs: SparseArcs) -> LocationProblem:
    """``template`` with its arcs replaced by ``arcs`` (no beyond arcs)."""
    return replace(
        template, arc_client=arcs.arc_client, arc_option=arcs.arc_option, arc_cost=arcs.arc_cost, arc_km=None
    )


def beyond_relaxation(template: LocationProblem, arcs: SparseArcs) -> LocationProblem:
    """The certifying relaxation: the sparse arcs plus one beyond arc per client to an always-open dummy option.

    The dummy option is the last option (index ``template.n_options``), on its own site with unlimited land, with
    no capacity limit, no cost and no count row; the beyond arcs are the last arcs.
    """
    m = template.n_options
    has = np.flatnonzero(np.isfinite(arcs.beyond_cost))
    counts = template.counts
    matrix = sp.hstack([counts.matrix, sp.csr_matrix((counts.matrix.shape[0], 1))]).tocsr()
    required = np.append(template.required_mask(), True)
    return replace(
        template,
        name=f"{template.name} (beyond relaxation)",
        site_ids=np.append(template.site_ids.astype(object), "beyond"),
        site_free_m2=np.append(template.site_free_m2, np.inf),
        option_ids=np.append(template.option_ids.astype(object), "beyond"),
        option_site=np.append(template.option_site, len(template.site_ids)),
        option_programme=np.append(template.option_programme.astype(object), "beyond"),
        option_size=np.append(template.option_size.astype(object), ""),
        capacity=np.append(template.capacity, np.inf),
        fixed_cost=np.append(template.fixed_cost, 0.0),
        area_m2=np.append(template.area_m2, 0.0),
        arc_client=np.concatenate([arcs.arc_client, has]),
        arc_option=np.concatenate([arcs.arc_option, np.full(len(has), m)]),
        arc_cost=np.concatenate([arcs.arc_cost, arcs.beyond_cost[has]]),
        arc_km=None,
        counts=CountRows(matrix, counts.lower, counts.upper, counts.names),
        required=required,
    )


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
    options=None,  # noqa: ANN001 - SolveOptions
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
        :class:`~optimizer.solve.SolveOptions` for every solve.

    Returns
    -------
    SparseResult
        Solution of the final sparse problem, with a dense-valid bound and the certificate status.
    """
    from optimizer.solve import SolveOptions, solve_problem

    options = options or SolveOptions()
    n, m = template.n_clients, template.n_options
    k_i = np.full(n, max(1, int(k)), dtype=np.int64)
    history: list[dict] = []
    relaxed_bound = -np.inf
    for round_ in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        arcs = nearest_arcs(cost_block, n, m, k_i)
        relaxation = beyond_relaxation(template, arcs)
        sol = solve_problem(relaxation, options)
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
                "seconds": time.perf_counter() - t0,
            }
        )
        if np.isfinite(sol.bound):
            relaxed_bound = max(relaxed_bound, sol.bound)
        if sol.status == "infeasible":
            break  # the relaxation contains every dense solution: the dense problem is infeasible too
        if sol.status == "optimal" and not len(beyond_clients):
            problem = with_arcs(template, arcs)
            final = replace(
                sol,
                open_options=sol.open_options[:m],
                arc_share=sol.arc_share[:n_sparse],
                solver=sol.solver + " (sparsified, certified)",
            )
            return SparseResult(problem, final, True, k_i, round_, history)
        if not sol.has_solution or k_i.min() >= m:
            break
        grow = np.unique(beyond_clients) if len(beyond_clients) else np.arange(n)
        k_i[grow] = np.minimum(k_i[grow] * growth, m)
    while True:  # rounds exhausted: solve the sparse problem, widening it while it is infeasible only by sparsity
        problem = with_arcs(template, nearest_arcs(cost_block, n, m, k_i))
        sol = solve_problem(problem, options)
        if sol.status != "infeasible" or k_i.min() >= m:
            break
        k_i = np.minimum(k_i * max(growth, 2), m)
    if sol.has_solution:  # only the relaxations' bound is valid for the dense problem
        sol = replace(sol, bound=min(sol.objective, relaxed_bound))
    return SparseResult(problem, sol, False, k_i, len(history), history)
