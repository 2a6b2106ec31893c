"""Arcs and sparsification: each client's k cheapest options, and the relaxation that proves nothing was lost.

Dense client × option cost matrices (2,000 × 200 = 400,000 arcs; a fine-grained Flanders instance has
millions) make models large, while optimal solutions use only short arcs.
:func:`optimizer.solver.sparsified.solve_sparsified` solves on the ``k`` cheapest allowed options per client and
**certifies** the result against the dense problem, growing ``k`` for the clients where the certificate fails;
this module builds the arcs and the certifying relaxation.

The certificate is a relaxation. Every client ``i`` gets one extra "beyond" arc to an always-open dummy option
without capacity, count or land, costing ``b_i`` = the cheapest of *its arcs left out*. Any dense solution maps to
a solution of this sparse relaxation with no higher cost (the shares a client sends beyond its ``k`` cheapest
arcs go to the beyond arc at ``b_i`` ≤ their cost, which only frees capacity), so

    optimum(relaxation) ≤ optimum(dense) ≤ optimum(sparse).

If the relaxation's optimal solution uses no beyond arc it is a solution of the sparse problem with the same
cost, so all three are equal: the sparse optimum is the dense optimum, and the relaxation's proven bound is a
valid bound for the dense problem. Otherwise ``k`` grows for the clients that used their beyond arc — by
×``growth``, and at least to :data:`~optimizer.solver.sparsified.RANK_MARGIN` × the rank of the client's cheapest option open in the
relaxation's solution, so one round usually reaches it — and the round repeats. The argument holds for capacities, single sourcing, count rows, land and required
options alike; for uncapacitated problems it is the rigorous form of "grow k until no client wants to go beyond
its k-th nearest candidate" (cf. the radius formulation of García, Labbé & Marín 2011 and Elloumi 2010).

Costs come from a callable, one block of clients at a time, so the distance layer (float32, blockwise
``cKDTree``/network queries) plugs in without ever materialising the dense matrix. A source that also offers
``nearest(k)`` and ``rank_of_open(...)`` (:class:`PointArcSource`: demand points and options with a per-client
cost per km, one cKDTree per allowed group) answers both without dense rows at all. Note that a fixed k-nearest
model (no certificate) can be infeasible: with a small ``k`` and few facilities a client's ``k`` nearest options
may all stay closed; the beyond arc keeps the relaxation feasible and the growth removes the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from optimizer.problem import LocationProblem

CostBlock = Callable[[np.ndarray], np.ndarray]
"""``cost_block(clients) -> costs``: for client indices (int array), the cost of serving each client's whole demand
from every option, shape ``(len(clients), n_options)`` (float32 or float64, in the problem's cost unit);
``np.inf`` marks a forbidden pair."""

BLOCK_ENTRIES = 4_000_000  # client rows per cost block are chosen so a block holds about this many costs


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
    arc_km: np.ndarray | None = None


@dataclass
class PointArcSource:
    """Arc costs between demand points and options, with a fast k-nearest (cKDTree) instead of dense rows.

    The cost of serving client ``i`` from option ``j`` is ``cost_per_km[i] · circuity · sqrt(d_ij² + r_i²)``
    (``d`` straight-line km, ``r`` the client's intrazonal km: :func:`optimizer.geo.distances.road_km`), allowed only
    when ``client_group[i] == option_group[j]`` (programme, and region when assignment stays in the region). The
    cost grows with ``d`` for every client, so its k cheapest options are its k nearest allowed ones. Calling the
    source gives dense float32 rows (a :data:`CostBlock`); :meth:`nearest` never forms them.
    """

    client_xy: np.ndarray
    option_xy: np.ndarray
    client_group: np.ndarray
    option_group: np.ndarray
    cost_per_km: np.ndarray
    intrazonal_km: np.ndarray
    circuity: float

    def road_km(self, straight_km: np.ndarray, clients: np.ndarray) -> np.ndarray:
        r = self.intrazonal_km[clients]
        return self.circuity * np.sqrt(straight_km * straight_km + r * r)

    def __call__(self, clients: np.ndarray) -> np.ndarray:
        from optimizer.geo.distances import block_km

        d = block_km(self.client_xy[clients], self.option_xy, origin_group=self.client_group[clients],
                     dest_group=self.option_group)
        r = self.intrazonal_km[clients].astype(np.float32)[:, None]
        return (self.cost_per_km[clients].astype(np.float32)[:, None] * np.float32(self.circuity)
                * np.sqrt(d * d + r * r))

    def nearest(self, k: np.ndarray | int) -> SparseArcs:
        """The ``k[i]`` cheapest allowed arcs per client and the cheapest left out (cKDTree per group)."""
        from optimizer.geo.distances import knearest_grouped

        ci, oj, d, next_d = knearest_grouped(self.client_xy, self.option_xy, k, origin_group=self.client_group,
                                             dest_group=self.option_group)
        km = self.road_km(d, ci)
        everyone = np.arange(len(self.client_xy))
        beyond = np.where(np.isfinite(next_d), self.cost_per_km * self.road_km(np.where(np.isfinite(next_d), next_d,
                                                                                         0.0), everyone), np.inf)
        return SparseArcs(ci, oj, self.cost_per_km[ci] * km, beyond, km)

    def nearest_open(self, open_options: np.ndarray) -> SparseArcs:
        """Every client's cheapest open allowed option (one cKDTree query per group); ``beyond_cost`` unused."""
        from scipy.spatial import cKDTree

        n = len(self.client_xy)
        ci, oj, dist = np.arange(n), np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
        for g in np.unique(self.client_group):
            rows = np.flatnonzero(self.client_group == g)
            opened = np.flatnonzero((self.option_group == g) & open_options[: len(self.option_group)])
            if len(opened):
                d, j = cKDTree(self.option_xy[opened]).query(self.client_xy[rows], k=1, workers=-1)
                oj[rows], dist[rows] = opened[j], d / 1000.0  # metres (Lambert 72) to km
        ok = oj >= 0
        km = self.road_km(dist[ok], ci[ok])
        return SparseArcs(ci[ok], oj[ok], self.cost_per_km[ci[ok]] * km, np.full(n, np.inf), km)

    def count_within(self, cost: np.ndarray) -> np.ndarray:
        """:func:`count_within` by one cKDTree ball count per group (the cost turned back into straight-line km)."""
        from scipy.spatial import cKDTree

        cost = np.asarray(cost, float)
        per_km = self.cost_per_km * self.circuity
        with np.errstate(divide="ignore", invalid="ignore"):
            road = np.where(per_km > 0, cost / per_km, np.inf)
        km = np.sqrt(np.maximum(road * road - self.intrazonal_km**2, 0.0))
        reach = road >= self.intrazonal_km  # a threshold below the intrazonal leg reaches nothing
        out = np.zeros(len(self.client_xy), dtype=np.int64)
        for g in np.unique(self.client_group):
            rows = np.flatnonzero((self.client_group == g) & reach)
            mine = self.option_group == g
            if not len(rows) or not mine.any():
                continue
            radius = np.minimum(km[rows], 1e7) * 1000.0 * (1 + 1e-9) + 1e-6  # km to metres, a hair of slack
            out[rows] = cKDTree(self.option_xy[mine]).query_ball_point(self.client_xy[rows], radius,
                                                                        return_length=True, workers=-1)  # fmt: skip
        return out

    def rank_of_open(self, clients: np.ndarray, open_options: np.ndarray) -> np.ndarray:
        """:func:`rank_of_open` with two cKDTree queries per group instead of dense rows."""
        from scipy.spatial import cKDTree

        out = np.zeros(len(clients), dtype=np.int64)
        groups = self.client_group[clients]
        for g in np.unique(groups):
            rows = clients[groups == g]
            mine = self.option_group == g
            opened = mine & open_options[: len(self.option_group)]
            if not opened.any():
                out[groups == g] = int(mine.sum())
                continue
            d, _ = cKDTree(self.option_xy[opened]).query(self.client_xy[rows], k=1, workers=-1)
            # options no farther than the nearest open one (a hair of slack for rounding: k may only grow)
            out[groups == g] = cKDTree(self.option_xy[mine]).query_ball_point(
                self.client_xy[rows], d * (1 + 1e-9) + 1e-6, return_length=True, workers=-1)
        return out


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
    fast = getattr(cost_block, "nearest", None)
    if fast is not None:  # e.g. PointArcSource: a cKDTree instead of dense rows
        return fast(k)
    return nearest_dense(cost_block, n_clients, n_options, k)


def nearest_dense(cost_block: CostBlock, n_clients: int, n_options: int, k: np.ndarray | int) -> SparseArcs:
    """:func:`nearest_arcs` from dense cost rows, block by block (for sources without a faster ``nearest``)."""
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
        template, arc_client=arcs.arc_client, arc_option=arcs.arc_option, arc_cost=arcs.arc_cost, arc_km=arcs.arc_km
    )


def restrict_arcs(problem: LocationProblem, kept: np.ndarray) -> LocationProblem:
    """``problem`` with only the arcs ``kept`` (indices), e.g. after reduced-cost fixing removed the others."""
    return replace(
        problem,
        arc_client=problem.arc_client[kept],
        arc_option=problem.arc_option[kept],
        arc_cost=problem.arc_cost[kept],
        arc_km=None if problem.arc_km is None else problem.arc_km[kept],
    )


def count_within(cost_block: CostBlock, n_clients: int, n_options: int, cost: np.ndarray) -> np.ndarray:
    """Per client ``i``, how many allowed options cost at most ``cost[i]`` (``k`` whose beyond arc costs more)."""
    fast = getattr(cost_block, "count_within", None)
    if fast is not None:
        return fast(np.asarray(cost, float))
    rows_per_block = max(1, BLOCK_ENTRIES // max(n_options, 1))
    out = np.zeros(n_clients, dtype=np.int64)
    for lo in range(0, n_clients, rows_per_block):
        clients = np.arange(lo, min(n_clients, lo + rows_per_block))
        block = np.asarray(cost_block(clients), dtype=np.float64)
        out[clients] = np.count_nonzero(block <= np.asarray(cost, float)[clients, None], axis=1)
    return out


def rank_of_open(cost_block: CostBlock, clients: np.ndarray, n_options: int, open_options: np.ndarray) -> np.ndarray:
    """Per client, how many allowed options cost no more than its cheapest open one (``k`` that reaches it)."""
    fast = getattr(cost_block, "rank_of_open", None)
    if fast is not None:
        return fast(clients, np.asarray(open_options, dtype=bool))
    out = np.zeros(len(clients), dtype=np.int64)
    rows_per_block = max(1, BLOCK_ENTRIES // max(n_options, 1))
    open_cols = np.flatnonzero(open_options[:n_options])
    for lo in range(0, len(clients), rows_per_block):
        costs = np.asarray(cost_block(clients[lo : lo + rows_per_block]))
        best = costs[:, open_cols].min(axis=1) if len(open_cols) else np.full(len(costs), np.inf)
        out[lo : lo + rows_per_block] = (costs <= best[:, None]).sum(axis=1)
    return out


def nearest_open_arcs(cost_block: CostBlock, n_clients: int, n_options: int, open_options: np.ndarray) -> SparseArcs:
    """Every client's cheapest open allowed option (a client without one is left out)."""
    fast = getattr(cost_block, "nearest_open", None)
    if fast is not None:
        return fast(np.asarray(open_options, dtype=bool))
    open_cols = np.flatnonzero(open_options[:n_options])
    rows_per_block = max(1, BLOCK_ENTRIES // max(n_options, 1))
    out_c, out_o, out_v = [], [], []
    for lo in range(0, n_clients, rows_per_block):
        clients = np.arange(lo, min(n_clients, lo + rows_per_block))
        costs = np.asarray(cost_block(clients), dtype=np.float64)[:, open_cols]
        if not len(open_cols):
            break
        best = np.argmin(costs, axis=1)
        value = costs[np.arange(len(clients)), best]
        ok = np.isfinite(value)
        out_c.append(clients[ok])
        out_o.append(open_cols[best[ok]])
        out_v.append(value[ok])
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))  # noqa: E731
    return SparseArcs(cat(out_c, np.int64), cat(out_o, np.int64), cat(out_v, float), np.full(n_clients, np.inf))


def with_assignment(a: SparseArcs, assign: SparseArcs, n_clients: int) -> tuple[SparseArcs, np.ndarray]:
    """Arcs ``a`` plus the assignment arcs ``assign`` (one per client) not already in ``a``, and the 0/1 share
    that serves every client by its assignment arc. O(arcs), no sort: a problem's arcs need no order."""
    target = np.full(n_clients, -1, dtype=np.int64)
    target[assign.arc_client] = assign.arc_option
    hit = a.arc_option == target[a.arc_client]
    first = np.zeros(n_clients, dtype=bool)
    share = np.zeros(len(a.arc_client))
    pos = np.flatnonzero(hit)
    keep = pos[np.unique(a.arc_client[pos], return_index=True)[1]]  # one arc per client even with duplicates
    share[keep] = 1.0
    first[a.arc_client[keep]] = True
    new = ~first[assign.arc_client]
    client = np.concatenate([a.arc_client, assign.arc_client[new]])
    option = np.concatenate([a.arc_option, assign.arc_option[new]])
    cost = np.concatenate([a.arc_cost, assign.arc_cost[new]])
    km = None
    if a.arc_km is not None and assign.arc_km is not None:
        km = np.concatenate([a.arc_km, assign.arc_km[new]])
    share = np.concatenate([share, np.ones(int(new.sum()))])
    return SparseArcs(client, option, cost, a.beyond_cost, km), share


def beyond_relaxation(template: LocationProblem, arcs: SparseArcs) -> LocationProblem:
    """The certifying relaxation: the sparse arcs plus one beyond arc per client to an always-open dummy option.

    The dummy option is the last option (index ``template.n_options``), on its own site with unlimited land, with
    no capacity limit, no cost and no count row; the beyond arcs are the last arcs.
    """
    m = template.n_options
    has = np.flatnonzero(np.isfinite(arcs.beyond_cost))
    counts = template.counts
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
        counts=replace(counts, n_options=m + 1),  # the same rows, with an empty column for the dummy option
        required=required,
    )
