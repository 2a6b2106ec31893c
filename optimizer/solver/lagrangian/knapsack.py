"""The 0-1 knapsacks of the single-source Lagrangian (:mod:`optimizer.solver.sscflp`): ``v_j(λ)`` for every facility.

``v_j(λ) = f_j + min { Σ_{a∈A(j)} (c_a − λ_i) x_a : Σ_{a∈A(j)} d_i x_a ≤ Q_j, x_a ∈ {0, 1} }``, solved exactly by
dynamic programming over capacity for all facilities at once (one vectorised update per item rank; integer
demands and capacities divided by the demands' gcd). Where that grid would exceed :data:`MAX_STATES` states,
demands and capacities are rounded *down* to a coarser grid (``⌊d/s⌋``, ``⌊Q/s⌋``), which relaxes every capacity
row, so the bound stays valid (weaker).
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import LocationProblem

MAX_STATES = 4096  # capacity states of the knapsack DP per facility (beyond: a coarser grid, weaker bound)


class Knapsacks:
    """``v_j(λ)`` for all facilities: 0-1 knapsacks by DP over a common capacity grid, one layer per item rank."""

    def __init__(self, problem: LocationProblem) -> None:
        p = problem
        self.problem = p
        self.m, self.n = p.n_options, p.n_clients
        self.scale, self.exact = self.grid(p)
        d = np.asarray(p.demand, float)
        total = float(d.sum())
        q = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, total), total)
        self.w = np.floor(d / self.scale + 1e-9).astype(np.int64)
        self.cap = np.floor(q / self.scale + 1e-9).astype(np.int64)
        self.states = int(self.cap.max()) + 1 if self.m else 1
        order = np.lexsort((p.arc_option, p.arc_client))
        self.order = order
        self.client = p.arc_client[order]
        self.option = p.arc_option[order]
        self.cost = p.arc_cost[order].astype(float)
        self.start = np.searchsorted(self.client, np.arange(self.n + 1))
        self.fits = self.w[self.client] <= self.cap[self.option]  # an arc whose client alone overfills is useless
        self.f = p.option_cost().astype(float)

    @staticmethod
    def grid(p: LocationProblem) -> tuple[float, bool]:
        """``(scale, exact)``: the capacity grid step and whether it is exact (the demands' gcd)."""
        d = np.asarray(p.demand, float)
        total = float(d.sum())
        q = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, total), total)
        qmax = float(q.max()) if len(q) else 1.0
        integral = bool(np.all(np.abs(d - np.round(d)) < 1e-9) and np.all(d >= 0))
        if integral:
            g = int(np.gcd.reduce(np.round(d).astype(np.int64))) or 1
            if qmax / g + 1 <= MAX_STATES:
                return float(g), True
        return max(qmax / (MAX_STATES - 1), 1e-12), False

    @classmethod
    def states_for(cls, p: LocationProblem) -> int:
        scale, _ = cls.grid(p)
        total = float(np.sum(p.demand))
        q = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, total), total)
        return int(np.floor(float(q.max()) / scale + 1e-9)) + 1 if len(q) else 1

    def evaluate(self, lam: np.ndarray, *, table: bool = False, skip: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
        """``(v, x, V)``: facility values, the knapsack choice per arc (sorted order) and, if ``table``, the DP
        table ``V[j, c]`` (best value with capacity ≤ ``c``). Options in ``skip`` (closed) get no knapsack.

        Without ``table``, a facility whose profitable items (``r < 0``) all fit takes them all without a DP (11
        of 30 facilities on Holmberg p57 at the root ``λ``).
        """
        m, s = self.m, self.states
        r = self.cost - lam[self.client]
        use = (r < 0) & self.fits
        if skip is not None and skip.any():
            use &= ~skip[self.option]
        x = np.zeros(len(self.cost), dtype=bool)
        weight = self.w[self.client]
        if not table:  # facilities whose profitable items all fit take them all
            load = np.bincount(self.option[use], weights=weight[use], minlength=m)
            easy = load <= self.cap
            take = use & easy[self.option]
            x[take] = True
            v = self.f + np.bincount(self.option[take], weights=r[take], minlength=m)
            use &= ~easy[self.option]
        # layered DP: layer t processes the t-th item of every facility at once (as many Python steps as the
        # largest item count of a facility, not as many as clients); V[j, c] = best value with capacity ≤ c
        V = np.zeros((m, s))
        flat = V.ravel()
        idx = np.flatnonzero(use)
        if len(idx):
            by_fac = idx[np.argsort(self.option[idx], kind="stable")]
            op = self.option[by_fac]
            first = np.searchsorted(op, op, side="left")
            layer = np.arange(len(by_fac)) - first
            order = np.argsort(layer, kind="stable")
            by_layer, lay = by_fac[order], layer[order]
            cuts = np.searchsorted(lay, np.arange(int(lay.max()) + 2))
            cols = np.arange(s)
            steps = []
            for t in range(len(cuts) - 1):
                a = by_layer[cuts[t] : cuts[t + 1]]
                rows = self.option[a]
                w = weight[a]
                # V[row, c − w] for every c (indices left of a row's start are masked out below)
                cand = flat[(rows * s - w)[:, None] + cols[None, :]]
                cand += r[a][:, None]
                cur = V[rows]
                better = cand < cur
                better &= cols[None, :] >= w[:, None]
                np.copyto(cur, cand, where=better)
                V[rows] = cur
                steps.append((a, rows, w, better))
            c = self.cap.copy()
            for a, rows, w, better in reversed(steps):
                take = better[np.arange(len(a)), c[rows]]
                x[a[take]] = True
                c[rows[take]] -= w[take]
        dp_value = self.f + V[np.arange(m), self.cap]
        if table:
            return dp_value, x, V
        return np.where(easy, v, dp_value), x, None
