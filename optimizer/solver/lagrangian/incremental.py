"""The uncapacitated Lagrangian's option values ``ρ(λ)`` kept up to date instead of recomputed at every step.

``ρ_j = f_j + Σ_{a∈A(j)} min(0, c_a − λ_{i(a)})`` sums over the *active* arcs (``c_a < λ_i``). Near the optimal
multipliers most clients are served exactly once by the relaxed solution, so their subgradient component is zero
and their ``λ_i`` does not move: on ``fine-10k-3k --set assignment=any`` (10,000 clients, 3 million arcs, 1.15
million of them active) about a quarter of the clients change per step. :class:`IncrementalRho` therefore updates
``ρ`` over the arcs of the clients whose ``λ_i`` changed only, and counts how often a client is served by the
open options from one cost column per open option (few are open where count rows hold: p-median, one per
region) rather than over all active arcs. ``ρ`` is recomputed from scratch every :data:`REFRESH_EVERY` updates,
and callers recompute the bound they report with :meth:`IncrementalRho.exact`, so round-off never enters a bound.
"""

from __future__ import annotations

import numpy as np

from optimizer.solver.lagrangian.common import ActiveArcs

REFRESH_EVERY = 50  # incremental updates between two full recomputations of ρ
MAX_COLUMNS = 64  # open options up to which "served" is counted from cost columns (else from the active arcs)
FULL_SHARE = 0.5  # when more than this share of the clients changed, ρ is recomputed in full


class IncrementalRho:
    """``ρ(λ)`` and the served counts of one relaxation (module docstring).

    Parameters
    ----------
    act
        The relaxation's active-arc search (arcs sorted by client, then cost).
    f
        Option costs ``f_j``.
    """

    def __init__(self, act: ActiveArcs, f: np.ndarray) -> None:
        self.act = act
        self.f = np.asarray(f, float)
        self.n = len(act.start) - 1
        self.m = len(self.f)
        self.lam: np.ndarray | None = None
        self.rho: np.ndarray | None = None
        self.updates = 0
        by_option = np.argsort(act.option, kind="stable")  # sorted positions of each option's arcs
        self.by_option = by_option
        self.option_start = np.searchsorted(act.option[by_option], np.arange(self.m + 1))
        self.columns: dict[int, np.ndarray] = {}

    def exact(self, lam: np.ndarray) -> np.ndarray:
        """``ρ(λ)`` recomputed over all active arcs."""
        act = self.act
        pos = act.below(lam)
        red = np.minimum(act.cost[pos] - lam[act.client[pos]], 0.0)
        return self.f + np.bincount(act.option[pos], weights=red, minlength=self.m)

    def values(self, lam: np.ndarray) -> np.ndarray:
        """``ρ(λ)``, updated from the last call over the arcs of the clients whose ``λ_i`` changed."""
        lam = np.asarray(lam, float)
        if self.lam is None or self.updates >= REFRESH_EVERY:
            return self._reset(lam)
        changed = np.flatnonzero(lam != self.lam)
        if len(changed) > FULL_SHARE * self.n:
            return self._reset(lam)
        if len(changed):
            act = self.act
            old, new = self.lam[changed], lam[changed]
            pos = act.below(np.maximum(old, new), clients=changed)
            owner = np.repeat(changed, self._counts)
            cost = act.cost[pos]
            delta = np.minimum(cost - lam[owner], 0.0) - np.minimum(cost - self.lam[owner], 0.0)
            self.rho += np.bincount(act.option[pos], weights=delta, minlength=self.m)
            self.lam[changed] = new
        self.updates += 1
        return self.rho.copy()

    def _reset(self, lam: np.ndarray) -> np.ndarray:
        self.lam = lam.copy()
        self.rho = self.exact(lam)
        self.updates = 0
        return self.rho.copy()

    @property
    def _counts(self) -> np.ndarray:
        return self.act.last_counts

    def served(self, lam: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """How many open options serve each client below ``λ_i`` (``c_a < λ_i``); ``None`` when too many options
        are open for the column count (the caller then counts over the active arcs)."""
        y = np.asarray(y, float)
        opened = np.flatnonzero(y)
        if len(opened) > MAX_COLUMNS:
            return None
        out = np.zeros(self.n)
        for j in opened:
            hit = self.column(int(j)) < lam
            out += hit if y[j] == 1.0 else y[j] * hit  # a fractional y (the LP y subproblem) counts by its value
        return out

    def column(self, j: int) -> np.ndarray:
        """Cost of option ``j`` to every client (``inf`` without an arc), cached."""
        col = self.columns.get(j)
        if col is None:
            if len(self.columns) > 4 * MAX_COLUMNS:
                self.columns.clear()
            act = self.act
            arcs = self.by_option[self.option_start[j] : self.option_start[j + 1]]
            col = np.full(self.n, np.inf)
            np.minimum.at(col, act.client[arcs], act.cost[arcs])  # duplicates keep the cheapest
            self.columns[j] = col
        return col
