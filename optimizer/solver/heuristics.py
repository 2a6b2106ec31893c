"""Primal heuristics: greedy add/drop, swap (interchange) local search and assignment repair.

They give HiGHS a first incumbent (``setSolution``) and the Lagrangian schemes an upper bound. Every move is
evaluated for all candidates at once from the sparse arc arrays (no loop over options or clients):

* **Uncapacitated** (p-median, UFLP, with count rows, land and required options): each client is served by its
  cheapest open option. Add, drop and swap moves are scored with the fast-interchange formulas of Whitaker
  (1983) / Resende & Werneck (2004): ``gain(j)`` (clients closer to ``j`` than to their current option),
  ``loss(r)`` (clients of ``r`` falling back to their second-nearest) and ``extra(j, r)`` (the correction for
  clients of ``r`` that go to ``j``), each one weighted ``bincount`` over the arcs per iteration, O(arcs).
  Moves that break a count row, a site's free land or a required option are masked out.
* **Capacitated**: the open set is chosen the same way on a surrogate, then assigned: multi-source by the
  transportation LP (HiGHS), single-source by regret-ordered greedy assignment followed by shift/swap repair.

All costs are in the problem's ``cost_unit``; a client left without an open arc costs
:data:`~optimizer.solver.assign.UNSERVED_FACTOR` times the largest cost so that every move that serves it wins.
The assignments for a fixed open set are in :mod:`optimizer.solver.assign`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from optimizer.model.rows import count_bounds, land_used_m2
from optimizer.problem import LocationProblem, objective_parts
from optimizer.solver.assign import ArcIndex, assign
from optimizer.solver.options import time_left

if TYPE_CHECKING:
    import scipy.sparse as sp

IMPROVE_TOL = 1e-9  # relative improvement below which a move is not taken


@dataclass
class Feasibility:
    """Masks of the add/drop/swap moves that keep count rows, land and required options satisfied."""

    problem: LocationProblem

    def __post_init__(self) -> None:
        p = self.problem
        self.lower, self.upper = count_bounds(p)
        self.required = p.required_mask()
        self.free = np.asarray(p.site_free_m2, float)
        self.area = np.asarray(p.area_m2, float)
        self.site = np.asarray(p.option_site)
        self.land_limited = bool(np.any(np.isfinite(self.free)))

    def land_used(self, y: np.ndarray) -> np.ndarray:
        return land_used_m2(self.problem, y)

    @cached_property
    def a(self) -> sp.csc_matrix:
        """The count rows as a CSC matrix (built, and scipy imported, only when a row is tight)."""
        return self.problem.counts.matrix.tocsc().astype(float)

    def count(self, y: np.ndarray) -> np.ndarray:
        if not self.problem.counts.n_rows:
            return np.zeros(0)
        return self.a @ y.astype(float)

    def feasible(self, y: np.ndarray) -> bool:
        c = self.count(y)
        ok = np.all(c >= self.lower - 1e-9) and np.all(c <= self.upper + 1e-9) and np.all(y[self.required])
        return bool(ok and np.all(self.land_used(y) <= self.free + 1e-6))

    def deficient_rows(self, y: np.ndarray) -> np.ndarray:
        return np.flatnonzero(self.count(y) < self.lower - 1e-9)

    def can_add(self, y: np.ndarray) -> np.ndarray:
        """Closed options whose opening keeps every upper count bound and the site's land."""
        c = self.count(y)
        tight = np.flatnonzero(c + 1 > self.upper + 1e-9)
        ok = ~y.copy()
        if len(tight):
            ok &= np.asarray(self.a[tight].sum(axis=0)).ravel() == 0
        if self.land_limited:
            used = self.land_used(y)
            ok &= used[self.site] + self.area <= self.free[self.site] + 1e-6
        return ok

    def can_drop(self, y: np.ndarray) -> np.ndarray:
        """Open, not required options whose closing keeps every lower count bound."""
        c = self.count(y)
        tight = np.flatnonzero(c - 1 < self.lower - 1e-9)
        ok = y & ~self.required
        if len(tight):
            ok &= np.asarray(self.a[tight].sum(axis=0)).ravel() == 0
        return ok

    def can_swap(self, y: np.ndarray, cand: np.ndarray, opened: np.ndarray) -> np.ndarray:
        """Boolean ``len(cand) × len(opened)``: open ``cand[u]`` and close ``opened[v]`` together."""
        c = self.count(y)
        ok = np.ones((len(cand), len(opened)), dtype=bool)
        ok &= ~self.required[opened][None, :]
        up = np.flatnonzero(c + 1 > self.upper + 1e-9)  # rows where a net +1 breaks the upper bound
        if len(up):
            ain = self.a[up][:, cand].toarray()  # rows × cand
            aout = self.a[up][:, opened].toarray()
            ok &= (ain.T @ (1.0 - aout)) == 0
        lo = np.flatnonzero(c - 1 < self.lower - 1e-9)  # rows where a net -1 breaks the lower bound
        if len(lo):
            ain = self.a[lo][:, cand].toarray()
            aout = self.a[lo][:, opened].toarray()
            ok &= ((1.0 - ain).T @ aout) == 0
        if self.land_limited:
            used = self.land_used(y)
            sj, sr = self.site[cand], self.site[opened]
            room = self.free[sj] - used[sj] - self.area[cand]
            same = sj[:, None] == sr[None, :]
            ok &= (room[:, None] >= -1e-6) | (same & (room[:, None] + self.area[opened][None, :] >= -1e-6))
        return ok


def _move_scores(index: ArcIndex, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Fast-interchange terms for open mask ``y``: ``gain`` (m), ``loss`` (m), ``extra`` (m × open), opened, cost."""
    p = index.problem
    m = p.n_options
    d1, _, d2, opt1 = index.nearest_two(y)
    c = p.arc_cost
    di1 = d1[p.arc_client]
    gain = np.bincount(p.arc_option, weights=np.maximum(0.0, di1 - c), minlength=m)
    served = opt1 >= 0
    loss = np.bincount(opt1[served], weights=(d2 - d1)[served], minlength=m)
    opened = np.flatnonzero(y)
    pos = np.full(m, -1)
    pos[opened] = np.arange(len(opened))
    di2 = d2[p.arc_client]
    w = di2 - np.maximum(c, di1)
    r = pos[np.maximum(opt1[p.arc_client], 0)]
    hit = (w > 0) & (opt1[p.arc_client] >= 0) & ~y[p.arc_option]
    extra = np.zeros((m, len(opened)))
    if hit.any() and len(opened):
        key = p.arc_option[hit] * len(opened) + r[hit]
        extra = np.bincount(key, weights=w[hit], minlength=m * len(opened)).reshape(m, len(opened))
    cost = float(d1.sum() + p.option_cost()[y].sum())
    return gain, loss, extra, opened, cost


def greedy_open(
    problem: LocationProblem,
    index: ArcIndex | None = None,
    *,
    start: np.ndarray | None = None,
    time_limit_s: float | None = None,
) -> np.ndarray | None:
    """Greedy add from the required options (or ``start``): open the best option until no add pays off.

    While a count row is below its lower bound only options in such a row are candidates; after that an
    option is added while it lowers the (uncapacitated) cost. Returns ``None`` if the lower bounds cannot be met.
    Each step costs a pass over all arcs (p = 200 medians on 810,000 arcs: seconds), so after ``time_limit_s``
    the gains are frozen: the rows still short are filled in order of the last gains, and adding stops.
    """
    index = index or ArcIndex.of(problem)
    feas = Feasibility(problem)
    f = problem.option_cost()
    y = problem.required_mask().copy() if start is None else np.asarray(start, bool).copy() | problem.required_mask()
    t0 = time.perf_counter()
    delta = None
    for _ in range(problem.n_options):
        if delta is None or time_limit_s is None or time.perf_counter() - t0 <= time_limit_s:
            d1, _, _, _ = index.nearest_two(y)
            gain = np.bincount(
                problem.arc_option, weights=np.maximum(0.0, d1[problem.arc_client] - problem.arc_cost),
                minlength=problem.n_options,
            )  # fmt: skip
            delta = f - gain
            improving = delta < -IMPROVE_TOL * max(1.0, abs(d1.sum()))
        else:  # out of time: frozen gains, and only what the lower bounds still need
            improving = np.zeros_like(y)
        ok = feas.can_add(y) & ~y
        deficient = feas.deficient_rows(y)
        if len(deficient):
            ok &= np.asarray(feas.a[deficient].sum(axis=0)).ravel() > 0
        elif not np.any(ok & improving):
            break
        if not ok.any():
            return None
        j = int(np.flatnonzero(ok)[np.argmin(delta[ok])])
        y[j] = True
    return y if feas.feasible(y) else None


def local_search(
    problem: LocationProblem,
    y: np.ndarray,
    index: ArcIndex | None = None,
    *,
    time_limit_s: float | None = None,
    max_moves: int = 10_000,
) -> np.ndarray:
    """Best-improvement add / drop / swap local search from the feasible open mask ``y`` (uncapacitated cost).

    Parameters
    ----------
    problem
        The problem; capacities are ignored here (see :func:`incumbent_for` for the capacitated repair).
    y
        A feasible open mask (count rows, land, required).
    time_limit_s
        Stop after this many seconds with the best mask so far.
    max_moves
        Stop after this many improving moves.

    Returns
    -------
    numpy.ndarray
        A local optimum (boolean open mask) that is still feasible.
    """
    index = index or ArcIndex.of(problem)
    feas = Feasibility(problem)
    f = problem.option_cost()
    y = np.asarray(y, dtype=bool).copy()
    t0 = time.perf_counter()
    for _ in range(max_moves):
        gain, loss, extra, opened, cost = _move_scores(index, y)
        tol = IMPROVE_TOL * max(1.0, abs(cost))
        best, move = -tol, None
        add_ok = feas.can_add(y)
        if add_ok.any():
            d_add = np.where(add_ok, f - gain, np.inf)
            j = int(np.argmin(d_add))
            if d_add[j] < best:
                best, move = d_add[j], ("add", j, -1)
        drop_ok = feas.can_drop(y)
        if drop_ok.any():
            d_drop = np.where(drop_ok, loss - f, np.inf)
            r = int(np.argmin(d_drop))
            if d_drop[r] < best:
                best, move = d_drop[r], ("drop", -1, r)
        closed = np.flatnonzero(~y)
        if len(closed) and len(opened):
            d_swap = (f[closed] - gain[closed])[:, None] + (loss[opened] - f[opened])[None, :] - extra[closed]
            d_swap[~feas.can_swap(y, closed, opened)] = np.inf
            u, v = np.unravel_index(int(np.argmin(d_swap)), d_swap.shape)
            if d_swap[u, v] < best:
                best, move = d_swap[u, v], ("swap", int(closed[u]), int(opened[v]))
        if move is None:
            break
        _, j, r = move
        if j >= 0:
            y[j] = True
        if r >= 0:
            y[r] = False
        if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
            break
    return y


def _capacity_feasible_start(problem: LocationProblem, y: np.ndarray, feas: Feasibility) -> np.ndarray:
    """Add options (best capacity per opening cost, within count rows and land) until capacity covers demand."""
    cap = np.where(np.isfinite(problem.capacity), problem.capacity, np.inf)
    need = float(problem.demand.sum())
    f = problem.option_cost()
    while cap[y].sum() < need * 1.0001:
        ok = feas.can_add(y)
        if not ok.any():
            break
        score = np.where(ok, f / np.maximum(np.minimum(cap, need), 1e-12), np.inf)
        y[int(np.argmin(score))] = True
    return y


def incumbent_for(
    problem: LocationProblem,
    *,
    warm_start: np.ndarray | None = None,
    time_limit_s: float | None = None,
    index: ArcIndex | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """A feasible ``(open_options, arc_share)`` for ``problem``, or ``None`` if the heuristics found none.

    Parameters
    ----------
    warm_start
        Open mask to start from (completed with required options; the local search may improve it).
    time_limit_s
        Budget for the greedy and the local search in seconds (``None``: until a local optimum).
    """
    index = index or ArcIndex.of(problem)
    feas = Feasibility(problem)
    t0 = time.perf_counter()
    y = None
    if warm_start is not None:
        y = np.asarray(warm_start, dtype=bool) | problem.required_mask()
        if not feas.feasible(y):  # complete the lower bounds; None if an upper one breaks
            y = greedy_open(problem, index, start=y, time_limit_s=time_limit_s)
    if y is None:
        y = greedy_open(problem, index, time_limit_s=time_limit_s)
    if y is None or not feas.feasible(y):
        return None
    capacitated = bool(np.isfinite(problem.capacity).any())
    left = time_left(time_limit_s, time.perf_counter() - t0)
    y = local_search(problem, y, index, time_limit_s=left)
    if capacitated:
        y = _capacity_feasible_start(problem, y, feas)
        if not feas.feasible(y):
            return None
    x = assign(problem, y, index)
    if x is None:
        return None
    used = np.bincount(problem.arc_option, weights=x, minlength=problem.n_options) > 0
    if capacitated:  # close unused options when that keeps the rows satisfied (they only add fixed cost)
        drop = y & ~used & feas.can_drop(y)
        for j in np.flatnonzero(drop):
            if feas.can_drop(y)[j]:
                y[j] = False
    return y, x


def solution_cost(problem: LocationProblem, y: np.ndarray, x: np.ndarray) -> float:
    """Objective of ``(y, x)`` (same formula as the model)."""
    return objective_parts(problem, y, x)["total"]
