"""The outer problem of the CFLP relaxation: which options to open given their values ``v_j(λ)``.

``min v·y  s.t.  Σ_j Q_j y_j ≥ D`` (the aggregated capacity row) with forced options: exactly by dynamic
programming over capacity (:class:`CoverKnapsack`), or as an LP with count rows and land (:class:`CoverLp`, a
valid, weaker bound). Both also price flips (the value increase when ``y_j`` is forced the other way).
"""

from __future__ import annotations

import math

import highspy
import numpy as np

from optimizer.model.rows import count_bounds, land_rows
from optimizer.problem import LocationProblem, Status
from optimizer.solver.highs import new_highs, pass_arrays, run_lp

DP_MAX_STATES = 20_000  # capacity grid size of the knapsack DP when capacities are not small integers
FLIP_DP_MAX_CELLS = 20_000_000  # prefix + suffix DP tables for the flip costs (2 × 160 MB at most), else per item


class CoverKnapsack:
    """``min v·y  s.t. Σ Q_j y_j ≥ D`` over binaries with forced options, exactly by dynamic programming."""

    def __init__(self, problem: LocationProblem) -> None:
        cap = np.asarray(problem.capacity, float)
        demand = float(np.sum(problem.demand))
        self.required = problem.required_mask()
        q = np.where(np.isfinite(cap), np.minimum(cap, demand), demand)
        integral = bool(np.all(np.abs(q - np.round(q)) < 1e-9)) and abs(demand - round(demand)) < 1e-9
        if integral and np.all(q >= 0):
            g = int(np.gcd.reduce(np.round(q).astype(np.int64))) or 1
            need = math.ceil(demand / g - 1e-9)
            if need <= DP_MAX_STATES:
                self.weight = np.round(q).astype(np.int64) // g  # exact: Σ Q y ≥ D ⟺ Σ (Q/g) y ≥ ⌈D/g⌉
                self.need = need
                return
        step = demand / DP_MAX_STATES
        self.weight = np.ceil(q / step - 1e-12).astype(np.int64)  # rounding capacity up relaxes the row
        self.need = int(math.floor(demand / step + 1e-9))

    def _layers(self, v: np.ndarray, items: np.ndarray, need: int) -> np.ndarray:
        """``layers[t, c]`` = cheapest cover of capacity ≥ c by the first t ``items`` (all with v > 0)."""
        layers = np.empty((len(items) + 1, need + 1))
        layers[0] = np.inf
        layers[0, 0] = 0.0
        for t, j in enumerate(items):
            w = int(min(self.weight[j], need))
            prev = layers[t]
            shifted = (np.concatenate([np.zeros(w), prev[: need + 1 - w]]) if w > 0 else prev) + v[j]
            layers[t + 1] = np.minimum(prev, shifted)
        return layers

    def _cover(self, v: np.ndarray, items: np.ndarray, need: int) -> float:
        if need <= 0:
            return 0.0
        if not len(items):
            return float("inf")
        return float(self._layers(v, items, need)[-1, need])

    def solve(
        self,
        v: np.ndarray,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        *,
        flips: bool = False,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, optimal ``y`` and (if ``flips``) the value increase when each ``y_j`` is flipped."""
        m = len(v)
        fixed_in = self.required if forced_open is None else self.required | forced_open
        out = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed & ~fixed_in
        take = fixed_in | ((v <= 0) & ~out)  # non-positive items never hurt
        base = float(v[take].sum())
        shortfall = self.need - int(self.weight[take].sum())  # may be negative: capacity to spare
        need = max(0, shortfall)
        items = np.flatnonzero(~take & ~out)
        y = take.copy()
        if need > 0:
            if not len(items):
                return float("inf"), y, np.full(m, np.inf)
            layers = self._layers(v, items, need)
            rest = float(layers[-1, need])
            if not np.isfinite(rest):
                return float("inf"), y, np.full(m, np.inf)
            c = need
            for t in range(len(items), 0, -1):  # backtrack the chosen items
                if c == 0:
                    break
                if layers[t, c] < layers[t - 1, c]:
                    j = items[t - 1]
                    y[j] = True
                    c = max(0, c - int(min(self.weight[j], need)))
            value = base + rest
        else:
            value = base
        flip = np.full(m, np.inf)
        if not flips:
            return value, y, np.zeros(m)
        free_take = take & ~fixed_in
        extra = int(self.weight[free_take].max()) if free_take.any() else 0
        top = need + extra  # largest residual capacity a flip can ask for
        if (len(items) + 1) * (top + 1) <= FLIP_DP_MAX_CELLS:
            self._flips_prefix_suffix(v, items, y, free_take, base, value, need, shortfall, top, flip)
            return value, y, np.maximum(flip, 0.0)
        for j in np.flatnonzero(free_take):  # a free non-positive item forced closed: more residual need
            flip[j] = base - v[j] + self._cover(v, items, shortfall + int(self.weight[j])) - value
        for j in items:
            others = items[items != j]
            if y[j]:  # forced closed
                flip[j] = base + self._cover(v, others, need) - value
            else:  # forced open
                flip[j] = base + v[j] + self._cover(v, others, need - int(self.weight[j])) - value
        return value, y, np.maximum(flip, 0.0)

    def _flips_prefix_suffix(self, v: np.ndarray, items: np.ndarray, y: np.ndarray, free_take: np.ndarray,
                             base: float, value: float, need: int, shortfall: int, top: int,
                             flip: np.ndarray) -> None:  # fmt: skip
        """All flip costs from one prefix and one suffix DP: O(items × capacity) instead of O(items² × capacity).

        The cheapest cover of ``c`` without item ``t`` is ``min_a P_t[a] + S_{t+1}[c − a]`` (items before ``t``
        cover ``a``, items after it the rest); a whole-row minimum per item.
        """
        n_items = len(items)
        prefix = self._layers(v, items, top)  # prefix[t]: items[:t]
        rev = self._layers(v, items[::-1], top)  # rev[u]: the last u items, so items[t+1:] is rev[n - t - 1]
        for j in np.flatnonzero(free_take):  # a free non-positive item forced closed: more residual need
            c = shortfall + int(self.weight[j])
            flip[j] = base - v[j] + (0.0 if c <= 0 else float(prefix[-1, min(c, top)])) - value
        for t, j in enumerate(items):
            c = need if y[j] else max(0, need - int(self.weight[j]))  # forced closed / forced open
            without = float(np.min(prefix[t, : c + 1] + rev[n_items - t - 1, c::-1]))
            flip[j] = base + without - value + (0.0 if y[j] else v[j])


class CoverLp:
    """LP relaxation of the outer problem with count rows and land (used when the DP does not apply)."""

    def __init__(self, problem: LocationProblem) -> None:
        import scipy.sparse as sp

        p = problem
        m = p.n_options
        demand = float(np.sum(p.demand))
        cap = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, demand), demand)
        land = land_rows(p)
        a = sp.vstack([sp.csr_matrix(cap[None, :]), p.counts.matrix, land.matrix]).tocsc()
        inf = highspy.kHighsInf
        count_lo, count_up = count_bounds(p, inf)
        lo = np.concatenate([[demand], count_lo, np.full(len(land.sites), -inf)])
        up = np.concatenate([[inf], count_up, land.free_m2])
        self.required = p.required_mask()
        h = new_highs()
        pass_arrays(h, np.zeros(m), self.required.astype(float), np.ones(m), lo, up, a)
        self.highs = h

    def solve(
        self,
        v: np.ndarray,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        *,
        flips: bool = False,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        h = self.highs
        m = len(v)
        fixed_in = self.required if forced_open is None else self.required | forced_open
        out = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed & ~fixed_in
        cols = np.arange(m, dtype=np.int32)
        h.changeColsCost(m, cols, v.astype(float))
        h.changeColsBounds(m, cols, fixed_in.astype(float), np.where(out, 0.0, 1.0))
        status = run_lp(h)
        if status == Status.INFEASIBLE:  # proven: no cover with these fixings
            return float("inf"), np.zeros(m), np.full(m, np.inf)
        if status != Status.OPTIMAL:  # nothing proven: the trivial bound, and no flip can be priced
            return float("-inf"), np.zeros(m), np.zeros(m)
        sol = h.getSolution()
        y = np.asarray(sol.col_value)
        rc = np.asarray(sol.col_dual)
        flip = np.where(y < 1e-9, np.maximum(rc, 0.0), np.where(y > 1 - 1e-9, np.maximum(-rc, 0.0), 0.0))
        flip[fixed_in | out] = np.inf
        return float(h.getInfo().objective_function_value), y, flip
