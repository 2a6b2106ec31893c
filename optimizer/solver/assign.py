"""Assignments for a fixed open set: nearest open arc, the transportation LP, or single-source repair.

:class:`ArcIndex` sorts the arcs by (client, cost) once per problem; every assignment and every move of
:mod:`optimizer.solver.heuristics` reads the cheapest open arcs from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.problem import LocationProblem
from optimizer.solver.highs import new_highs, pass_arrays

UNSERVED_FACTOR = 1e3  # penalty for an unserved client, relative to the largest arc/option cost


@dataclass
class ArcIndex:
    """Arcs sorted by (client, cost), built once per problem and shared by all moves.

    Attributes
    ----------
    order
        Arc positions sorted by client, then cost ascending.
    penalty
        Cost charged for a client without an open arc (``UNSERVED_FACTOR`` × the largest cost).
    """

    problem: LocationProblem
    order: np.ndarray
    penalty: float

    @classmethod
    def of(cls, problem: LocationProblem) -> "ArcIndex":
        order = np.lexsort((problem.arc_cost, problem.arc_client))
        scale = max(
            float(np.max(np.abs(problem.arc_cost), initial=0.0)), float(np.max(np.abs(problem.option_cost()), initial=0.0)), 1.0
        )
        return cls(problem, order, UNSERVED_FACTOR * scale * max(1, problem.n_clients))

    def nearest_two(self, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cheapest and second-cheapest open arc per client.

        Returns
        -------
        (d1, arc1, d2, opt1)
            Costs of the best and second-best open arc (``penalty`` when missing), the arc index of the best
            (-1 when none) and its option (-1 when none).
        """
        p = self.problem
        n = p.n_clients
        sel = self.order[open_mask[p.arc_option[self.order]]]
        cl = p.arc_client[sel]
        first = np.ones(len(sel), dtype=bool)
        first[1:] = cl[1:] != cl[:-1]
        pos1 = np.flatnonzero(first)
        d1 = np.full(n, self.penalty)
        arc1 = np.full(n, -1)
        d1[cl[pos1]] = p.arc_cost[sel[pos1]]
        arc1[cl[pos1]] = sel[pos1]
        pos2 = pos1 + 1
        has2 = pos2 < len(sel)
        has2[has2] = ~first[pos2[has2]]
        d2 = np.full(n, self.penalty)
        d2[cl[pos1[has2]]] = p.arc_cost[sel[pos2[has2]]]
        opt1 = np.where(arc1 >= 0, p.arc_option[np.maximum(arc1, 0)], -1)
        return d1, arc1, d2, opt1


def assign_nearest(problem: LocationProblem, open_mask: np.ndarray, index: ArcIndex | None = None) -> np.ndarray | None:
    """Shares serving each client from its cheapest open arc; ``None`` if a client has no open arc."""
    index = index or ArcIndex.of(problem)
    _, arc1, _, _ = index.nearest_two(np.asarray(open_mask, dtype=bool))
    if np.any(arc1 < 0):
        return None
    x = np.zeros(problem.n_arcs)
    x[arc1] = 1.0
    return x


def assign_transport(problem: LocationProblem, open_mask: np.ndarray) -> np.ndarray | None:
    """Multi-source assignment for a fixed open set: the transportation LP over open arcs (HiGHS).

    Returns the arc shares, or ``None`` when the open capacity cannot serve every client.
    """
    import scipy.sparse as sp

    use = np.flatnonzero(open_mask[problem.arc_option])
    if problem.n_clients and not len(use):
        return None
    ac, ao = problem.arc_client[use], problem.arc_option[use]
    cap_rows = np.flatnonzero(np.isfinite(problem.capacity) & open_mask)
    row_of = np.full(problem.n_options, -1)
    row_of[cap_rows] = np.arange(len(cap_rows))
    on = row_of[ao] >= 0
    n = problem.n_clients
    rows = np.concatenate([ac, n + row_of[ao[on]]])
    cols = np.concatenate([np.arange(len(use)), np.flatnonzero(on)])
    vals = np.concatenate([np.ones(len(use)), problem.demand[ac[on]]])
    a = sp.csc_matrix((vals, (rows, cols)), shape=(n + len(cap_rows), len(use)))
    h = new_highs()
    pass_arrays(
        h,
        problem.arc_cost[use],
        np.zeros(len(use)),
        np.ones(len(use)),
        np.concatenate([np.ones(n), np.full(len(cap_rows), -highspy.kHighsInf)]),
        np.concatenate([np.ones(n), problem.capacity[cap_rows]]),
        a,
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.zeros(problem.n_arcs)
    x[use] = np.clip(np.asarray(h.getSolution().col_value), 0.0, 1.0)
    x[x < 1e-9] = 0.0
    served = np.bincount(problem.arc_client, weights=x, minlength=n)
    return x / served[problem.arc_client]


def assign_single_source(
    problem: LocationProblem, open_mask: np.ndarray, index: ArcIndex | None = None, *, repair_rounds: int = 50
) -> np.ndarray | None:
    """Single-source assignment for a fixed open set: regret-ordered greedy, then shift and swap repair.

    Clients are assigned in order of decreasing regret (second-cheapest minus cheapest open arc) to the cheapest
    open option with room left. Clients that found no room are then placed by shifting another client out of a
    full option (one level of ejection). Finally improving shifts (move one client) are applied.

    Returns the 0/1 shares, or ``None`` when no capacity-feasible assignment was found.
    """
    index = index or ArcIndex.of(problem)
    p = problem
    n = p.n_clients
    y = np.asarray(open_mask, dtype=bool)
    d1, arc1, d2, _ = index.nearest_two(y)
    if np.any(arc1 < 0):
        return None
    cap = np.where(np.isfinite(p.capacity), p.capacity, np.inf).astype(float)
    room = np.where(y, cap, 0.0)
    sel = index.order[y[p.arc_option[index.order]]]  # open arcs, per client by cost
    starts = np.searchsorted(p.arc_client[sel], np.arange(n + 1))
    regret = np.where(d2 >= index.penalty, np.inf, d2 - d1)
    chosen = np.full(n, -1)
    for i in np.argsort(-regret * np.maximum(p.demand, 1e-12), kind="stable"):
        arcs_i = sel[starts[i] : starts[i + 1]]
        fits = room[p.arc_option[arcs_i]] >= p.demand[i] - 1e-9
        if fits.any():
            a = int(arcs_i[np.argmax(fits)])
            chosen[i] = a
            room[p.arc_option[a]] -= p.demand[i]
    for i in np.flatnonzero(chosen < 0):  # ejection: make room by moving one client of a full option
        placed = False
        for a in sel[starts[i] : starts[i + 1]]:
            j = p.arc_option[a]
            need = p.demand[i] - room[j]
            occupants = np.flatnonzero((chosen >= 0) & (p.arc_option[np.maximum(chosen, 0)] == j))
            for o in occupants[np.argsort(p.demand[occupants])]:
                if p.demand[o] < need - 1e-9:
                    continue
                alt = sel[starts[o] : starts[o + 1]]
                alt = alt[(p.arc_option[alt] != j) & (room[p.arc_option[alt]] >= p.demand[o] - 1e-9)]
                if len(alt):
                    b = int(alt[0])
                    room[p.arc_option[b]] -= p.demand[o]
                    room[j] += p.demand[o] - p.demand[i]
                    chosen[o], chosen[i] = b, int(a)
                    placed = True
                    break
            if placed:
                break
        if not placed:
            return None
    for _ in range(repair_rounds):  # improving shifts, all clients at once, first fitting move per target
        cur = p.arc_cost[chosen]
        gain_arc = cur[p.arc_client] - p.arc_cost
        ok = y[p.arc_option] & (gain_arc > 1e-9) & (room[p.arc_option] >= p.demand[p.arc_client] - 1e-9)
        if not ok.any():
            break
        cand = np.flatnonzero(ok)
        cand = cand[np.argsort(-gain_arc[cand])]
        moved_client = np.zeros(n, dtype=bool)
        touched = np.zeros(p.n_options, dtype=bool)
        for a in cand:  # apply a conflict-free batch: each client and each target option at most once
            i, j = p.arc_client[a], p.arc_option[a]
            if moved_client[i] or touched[j] or room[j] < p.demand[i] - 1e-9:
                continue
            room[p.arc_option[chosen[i]]] += p.demand[i]
            room[j] -= p.demand[i]
            touched[p.arc_option[chosen[i]]] = True
            touched[j] = True
            chosen[i] = a
            moved_client[i] = True
    x = np.zeros(p.n_arcs)
    x[chosen] = 1.0
    return x


def assign(problem: LocationProblem, open_mask: np.ndarray, index: ArcIndex | None = None) -> np.ndarray | None:
    """Shares for a fixed open set: nearest (uncapacitated), transportation LP or single-source repair."""
    open_mask = np.asarray(open_mask, dtype=bool)
    if not np.isfinite(problem.capacity[open_mask]).any():
        return assign_nearest(problem, open_mask, index)
    if problem.single_source:
        return assign_single_source(problem, open_mask, index)
    return assign_transport(problem, open_mask)


SWAP_MAX_CLIENTS = 1_500  # client swaps use n × n matrices: only up to this many clients


def gap_local_search(problem: LocationProblem, y: np.ndarray, x: np.ndarray, *, max_rounds: int = 200) -> np.ndarray:
    """Improve a single-source assignment on a fixed open set by shift and swap moves of clients.

    Shift: a client moves to an open facility with room. Swap: two clients at different facilities exchange them
    when both capacities allow. Each round applies the best improving move per client (conflict-free), on dense
    open-facility × client cost matrices (for problems this scheme is chosen for, at most a few million cells).
    """
    p = problem
    n = p.n_clients
    opened = np.flatnonzero(y)
    if not len(opened) or n == 0:
        return x
    pos = np.full(p.n_options, -1)
    pos[opened] = np.arange(len(opened))
    on = pos[p.arc_option] >= 0
    C = np.full((len(opened), n), np.inf)
    C[pos[p.arc_option[on]], p.arc_client[on]] = p.arc_cost[on]
    arc_of = np.full((len(opened), n), -1, dtype=np.int64)
    arc_of[pos[p.arc_option[on]], p.arc_client[on]] = np.flatnonzero(on)
    d = np.asarray(p.demand, float)
    cap = np.where(np.isfinite(p.capacity[opened]), p.capacity[opened], np.inf)
    used = np.flatnonzero(x > 0.5)
    where = np.full(n, -1)
    where[p.arc_client[used]] = pos[p.arc_option[used]]
    if np.any(where < 0):
        return x
    load = np.bincount(where, weights=d, minlength=len(opened))
    cols = np.arange(n)
    tol = 1e-9
    for _ in range(max_rounds):
        improved = False
        cur = C[where, cols]
        room = cap - load
        # shifts: gain[k, i] of moving client i to facility k
        gain = cur[None, :] - C
        gain[(room[:, None] < d[None, :] - 1e-9) | ~np.isfinite(gain)] = -np.inf
        gain[where, cols] = -np.inf
        best_k = np.argmax(gain, axis=0)
        best_g = gain[best_k, cols]
        for i in np.argsort(-best_g):
            if best_g[i] <= tol:
                break
            k = best_k[i]
            if load[k] + d[i] > cap[k] + 1e-9 or C[k, i] >= C[where[i], i] - tol:
                continue
            load[where[i]] -= d[i]
            load[k] += d[i]
            where[i] = k
            improved = True
        if improved:
            continue
        if n > SWAP_MAX_CLIENTS:
            break
        # swaps: clients a (at ka) and b (at kb) exchange facilities
        cur = C[where, cols]
        room = cap - load
        ca_b = C[where][:, :]  # C[where[b], a] for all (b, a) -> rows b: facility of b, columns a
        # delta[a, b] = cur[a] + cur[b] - C[where[b], a] - C[where[a], b]
        cross = ca_b.T  # cross[a, b] = C[where[b], a]
        delta = cur[:, None] + cur[None, :] - cross - cross.T
        fit = (room[where][:, None] + d[:, None] >= d[None, :] - 1e-9) & (room[where][None, :] + d[None, :] >= d[:, None] - 1e-9)
        delta[~fit | (where[:, None] == where[None, :]) | ~np.isfinite(delta)] = -np.inf
        a, b = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if delta[a, b] <= tol:
            break
        ka, kb = where[a], where[b]
        load[ka] += d[b] - d[a]
        load[kb] += d[a] - d[b]
        where[a], where[b] = kb, ka
    out = np.zeros(p.n_arcs)
    out[arc_of[where, cols]] = 1.0
    return out
