"""Multi-source capacitated facility location: Lagrangian bound, variable fixing and Lagrangian branch and bound.

The scheme of Görtz & Klose (2012, "A simple but usually fast branch-and-bound algorithm for the capacitated
facility location problem", INFORMS J. Comput. 24:597) on the relaxation of Cornuéjols, Sridharan & Thizy
(1991, EJOR 50:280), assembled from whole arrays:

1. **Relax the demand rows** ``Σ_{a∈A(i)} x_a = 1`` with multipliers ``λ_i``, keep the capacity rows, the
   strong links and the aggregated capacity row ``Σ_j Q_j y_j ≥ D``::

       L(λ) = Σ_i λ_i + min { Σ_j v_j(λ) y_j : Σ_j Q_j y_j ≥ D, counts, land, required },
       v_j(λ) = f_j + min { Σ_{a∈A(j)} (c_a − λ_i) x_a : Σ d_i x_a ≤ Q_j, 0 ≤ x_a ≤ 1 }.

   ``v_j`` is a continuous knapsack (greedy by ratio over the arcs with ``c_a < λ_i``, sorted only for the
   options whose capacity binds); the outer problem is a 0-1 covering knapsack solved exactly by dynamic
   programming over capacity (integer capacities divided by their gcd; otherwise rounded up on a coarser grid,
   which only weakens the bound). With count rows or binding land the outer problem is solved as an LP instead
   (a valid, weaker bound). Thanks to the integer knapsack ``max_λ L(λ)`` is above the LP bound of the strong
   formulation: within 0.5 % of the optimum on all twelve OR-Library ``capa/capb/capc`` variants.
2. **Subgradient optimisation** of ``λ`` with a Lagrangian heuristic: new open sets of the relaxation are
   completed by the transportation LP (HiGHS) into feasible solutions; the best one is the incumbent.
3. **Fixing**: ``L(λ | y_j = 1 − ȳ_j)`` is computed for every option by re-solving the knapsack with the item
   forced; options whose flip lifts the bound above the incumbent are fixed.
4. **Branch and bound** on the open-variables with the same bound at every node (``v_j`` does not depend on the
   branching, only the outer knapsack does), depth first, fixing by flip cost at every node.
5. Whatever the tree leaves open (time limit) goes to HiGHS on the strengthened formulation with the fixings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.heuristics import ArcIndex, assign_transport, incumbent_for, solution_cost
from optimizer.problem import LocationProblem, Solution

DP_MAX_STATES = 20_000  # capacity grid size of the knapsack DP when capacities are not small integers
FLIP_DP_MAX_CELLS = 20_000_000  # prefix + suffix DP tables for the flip costs (2 × 160 MB at most), else per item
NODE_ITER = 150  # subgradient steps per tree node (capb6000: 40 → 721 nodes, 150 → 105, 400 → 95)
VOLUME_ALPHA = 0.1  # smoothing of the relaxed open sets into the primal estimate that guides branching
FIX_TOL = 1e-9  # relative margin by which a forced bound must exceed the incumbent before fixing


@dataclass
class CflpBound:
    """A Lagrangian bound of the CFLP and what fixing and branching need.

    Attributes
    ----------
    bound
        Valid lower bound (cost units) for the node it was computed at.
    multipliers
        ``λ`` (one per client) giving it.
    y
        Open set of the relaxation at ``multipliers``.
    v
        Facility values ``v_j(λ)`` at ``multipliers``.
    flip_cost
        ``L(λ | y_j flipped) − L(λ)`` per option (``inf``: the flip is infeasible or not allowed).
    kernel
        Options that were open in some relaxation along the way (the "kernel" of promising options).
    incumbent, upper_bound
        Best solution found by the Lagrangian heuristic so far, and its objective.
    y_mean
        Exponentially smoothed relaxed open sets (a primal estimate, as in the volume algorithm) for branching.
    """

    bound: float
    multipliers: np.ndarray
    y: np.ndarray
    v: np.ndarray
    flip_cost: np.ndarray
    kernel: np.ndarray
    iterations: int = 0
    incumbent: tuple[np.ndarray, np.ndarray] | None = None
    upper_bound: float = float("inf")
    y_mean: np.ndarray | None = None


class _CoverKnapsack:
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


class _CoverLp:
    """LP relaxation of the outer problem with count rows and land (used when the DP does not apply)."""

    def __init__(self, problem: LocationProblem) -> None:
        import highspy
        import scipy.sparse as sp

        from optimizer.highs_backend import new_highs, pass_arrays

        p = problem
        m = p.n_options
        demand = float(np.sum(p.demand))
        cap = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, demand), demand)
        free = np.asarray(p.site_free_m2, float)
        limited = np.flatnonzero(np.isfinite(free))
        on = np.flatnonzero(np.isin(p.option_site, limited))
        land = sp.csr_matrix((p.area_m2[on], (np.searchsorted(limited, p.option_site[on]), on)), shape=(len(limited), m))
        a = sp.vstack([sp.csr_matrix(cap[None, :]), p.counts.matrix, land]).tocsc()
        inf = highspy.kHighsInf
        lo = np.concatenate([[demand], np.where(np.isfinite(p.counts.lower), p.counts.lower, -inf), np.full(len(limited), -inf)])
        up = np.concatenate([[inf], np.where(np.isfinite(p.counts.upper), p.counts.upper, inf), free[limited]])
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
        from optimizer.highs_backend import run_lp

        h = self.highs
        m = len(v)
        fixed_in = self.required if forced_open is None else self.required | forced_open
        out = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed & ~fixed_in
        cols = np.arange(m, dtype=np.int32)
        h.changeColsCost(m, cols, v.astype(float))
        h.changeColsBounds(m, cols, fixed_in.astype(float), np.where(out, 0.0, 1.0))
        status = run_lp(h)
        if status == "infeasible":  # proven: no cover with these fixings
            return float("inf"), np.zeros(m), np.full(m, np.inf)
        if status != "optimal":  # nothing proven: the trivial bound, and no flip can be priced
            return float("-inf"), np.zeros(m), np.zeros(m)
        sol = h.getSolution()
        y = np.asarray(sol.col_value)
        rc = np.asarray(sol.col_dual)
        flip = np.where(y < 1e-9, np.maximum(rc, 0.0), np.where(y > 1 - 1e-9, np.maximum(-rc, 0.0), 0.0))
        flip[fixed_in | out] = np.inf
        return float(h.getInfo().objective_function_value), y, flip


class _FacilityKnapsacks:
    """``v_j(λ)`` for all options at once: continuous knapsacks over the arcs with ``c_a < λ_i``."""

    def __init__(self, problem: LocationProblem, index: ArcIndex) -> None:
        from optimizer.bounds import _ActiveArcs

        self.problem = problem
        self.active = _ActiveArcs(problem, index)
        self.demand = np.asarray(problem.demand, float)
        self.cap = np.asarray(problem.capacity, float)
        self.f = problem.option_cost().astype(float)

    def evaluate(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(v, arcs, share)``: facility values and, per active arc (original index), its knapsack share."""
        act = self.active
        m = self.problem.n_options
        pos = act.below(lam)
        cl, op = act.client[pos], act.option[pos]
        red = np.minimum(act.cost[pos] - lam[cl], 0.0)
        w = self.demand[cl]
        load = np.bincount(op, weights=w, minlength=m)
        binding = load > self.cap + 1e-12  # only these need the ratio order
        share = np.ones(len(pos))
        on = np.flatnonzero(binding[op])
        if len(on):
            r_on, w_on, op_on = red[on], w[on], op[on]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(w_on > 0, r_on / np.where(w_on > 0, w_on, 1.0), -np.inf)
            # one sort by option, then ratio: map ratio ∈ [-inf, 0] monotonically into (0, 1] after the option
            order = np.argsort(op_on + 1.0 / (1.0 - ratio))
            ws, ops = w_on[order], op_on[order]
            cw = np.cumsum(ws)
            start = np.searchsorted(ops, np.arange(m + 1))
            before = cw - ws - np.concatenate([[0.0], cw])[start[ops]]  # load of the items ahead in the option
            room = self.cap[ops] - before
            s = np.clip(np.where(ws > 0, room / np.where(ws > 0, ws, 1.0), 1.0), 0.0, 1.0)
            share[on[order]] = s
        v = self.f + np.bincount(op, weights=red * share, minlength=m)
        return v, act.order[pos], share


class _CflpLagrangian:
    """The relaxation of one problem: facility knapsacks, outer knapsack and the subgradient loop."""

    def __init__(self, problem: LocationProblem, index: ArcIndex | None = None) -> None:
        self.problem = problem
        self.index = index or ArcIndex.of(problem)
        # the transportation-LP heuristic splits clients: no incumbents for a single-source problem (its bound,
        # that of the multi-source relaxation, stays valid)
        self.primal = not problem.single_source
        self.knap = _FacilityKnapsacks(problem, self.index)
        rows = problem.counts.matrix.shape[0] > 0
        free = np.asarray(problem.site_free_m2, float)
        land_total = np.bincount(problem.option_site, weights=problem.area_m2, minlength=len(free))
        self.outer = _CoverLp(problem) if rows or np.any(land_total > free + 1e-9) else _CoverKnapsack(problem)
        self.tried: set[bytes] = set()
        self.ub = float("inf")
        self.best_solution: tuple[np.ndarray, np.ndarray] | None = None

    def offer(self, y: np.ndarray) -> None:
        """Lagrangian heuristic: complete an open set with the transportation LP; keep it if it is better."""
        p = self.problem
        if not self.primal:
            return
        yb = np.asarray(y) > 0.5
        key = yb.tobytes()
        if key in self.tried:
            return
        self.tried.add(key)
        x = assign_transport(p, yb)
        if x is None:
            return
        used = np.bincount(p.arc_option, weights=x, minlength=p.n_options) > 0
        trimmed = (yb & used) | p.required_mask()
        for cand in (trimmed, yb):  # unused options only add fixed cost, unless the rows need them
            if _rows_ok(p, cand):
                cost = solution_cost(p, cand, x)
                if cost < self.ub:
                    self.ub, self.best_solution = cost, (cand, x)
                return

    def run(
        self,
        lam: np.ndarray,
        *,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        max_iter: int = 2000,
        time_limit_s: float | None = None,
        patience: int = 25,
        theta: float = 2.0,
        stop_at: float = float("inf"),
        heuristic_every: int = 10,
    ) -> CflpBound:
        """Subgradient optimisation from ``lam`` at a node; see :func:`cflp_lagrangian`."""
        p = self.problem
        n, m = p.n_clients, p.n_options
        lam = np.asarray(lam, float).copy()
        kernel = np.zeros(m, dtype=bool)
        best = CflpBound(-np.inf, lam.copy(), np.zeros(m, dtype=bool), np.zeros(m), np.zeros(m), kernel)
        y_mean = np.zeros(m)  # smoothed relaxed open sets: a primal estimate, as in the volume algorithm
        since = 0
        t0 = time.perf_counter()
        it = 0
        for it in range(1, max_iter + 1):
            v, arcs, share = self.knap.evaluate(lam)
            value, y, _ = self.outer.solve(v, forced_open, forced_closed)
            if not np.isfinite(value):  # no feasible open set at this node
                best = CflpBound(np.inf, lam.copy(), np.zeros(m, dtype=bool), v, np.full(m, np.inf), kernel, it)
                break
            bound = float(lam.sum() + value)
            yb = np.asarray(y) > 0.5
            kernel |= yb
            y_mean = yb.astype(float) if it == 1 else (1 - VOLUME_ALPHA) * y_mean + VOLUME_ALPHA * yb
            if bound > best.bound + 1e-12 * max(1.0, abs(bound)):
                best = CflpBound(bound, lam.copy(), yb.copy(), v.copy(), np.zeros(m), kernel, it)
                since = 0
            else:
                since += 1
                if since >= patience:
                    theta, since = theta / 2.0, 0
            if heuristic_every and (it == 1 or it % heuristic_every == 0 or not np.isfinite(self.ub)):
                self.offer(yb)
            if best.bound >= min(stop_at, self.ub * (1 - 1e-12)) or theta < 1e-4:
                break
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                break
            served = np.bincount(p.arc_client[arcs], weights=share * yb[p.arc_option[arcs]], minlength=n)
            g = 1.0 - served
            norm = float(g @ g)
            if norm < 1e-12:
                break
            target = self.ub if np.isfinite(self.ub) else bound + abs(bound) * 0.05 + 1.0
            lam += theta * max(target - bound, 1e-9 * max(1.0, abs(bound))) / norm * g
        best.iterations = it
        best.kernel = kernel
        best.y_mean = y_mean
        if np.isfinite(best.bound):
            best.flip_cost = self.outer.solve(best.v, forced_open, forced_closed, flips=True)[2]
            if time_limit_s is None or time.perf_counter() - t0 <= time_limit_s:  # a transportation LP: in time only
                self.offer(best.y)
        best.incumbent, best.upper_bound = self.best_solution, self.ub
        return best


def cflp_lagrangian(
    problem: LocationProblem,
    *,
    upper_bound: float = float("inf"),
    incumbent: tuple[np.ndarray, np.ndarray] | None = None,
    index: ArcIndex | None = None,
    max_iter: int = 2000,
    time_limit_s: float | None = None,
    patience: int = 25,
    heuristic_every: int = 10,
) -> CflpBound:
    """Subgradient optimisation of the CFLP Lagrangian bound, with a Lagrangian heuristic (module docstring).

    Parameters
    ----------
    problem
        A multi-source problem with finite capacities (single-source problems get the same, valid, bound).
    upper_bound, incumbent
        Best known objective and solution ``(open_options, arc_share)``; improved along the way.
    max_iter, time_limit_s, patience
        Iteration and time limits; the step factor halves after ``patience`` iterations without improvement.
    heuristic_every
        Complete the relaxed open set into a solution with the transportation LP every this many iterations
        (0: only the open set of the best bound, at the end).

    Returns
    -------
    CflpBound
        The bound, the multipliers, flip costs for fixing and the best incumbent found.
    """
    lag = _CflpLagrangian(problem, index)
    lag.ub, lag.best_solution = upper_bound, incumbent
    return lag.run(
        _start_multipliers(problem, incumbent), max_iter=max_iter, time_limit_s=time_limit_s, patience=patience,
        heuristic_every=heuristic_every,
    )  # fmt: skip


def _start_multipliers(problem: LocationProblem, incumbent: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    n = problem.n_clients
    lam = np.full(n, np.inf)
    np.minimum.at(lam, problem.arc_client, problem.arc_cost)
    lam = np.where(np.isfinite(lam), lam, 0.0)
    if incumbent is not None:  # each client's cost at the incumbent: usually close
        lam = np.maximum(lam, np.bincount(problem.arc_client, weights=problem.arc_cost * incumbent[1], minlength=n))
    return lam


@dataclass
class CflpTree:
    """Outcome of :func:`cflp_branch_and_bound` (see :class:`optimizer.bounds.BranchResult`)."""

    incumbent: tuple[np.ndarray, np.ndarray] | None
    upper_bound: float
    bound: float
    finished: bool
    nodes: int


def cflp_branch_and_bound(
    problem: LocationProblem,
    root: CflpBound,
    *,
    lagrangian: _CflpLagrangian | None = None,
    forced_open: np.ndarray | None = None,
    forced_closed: np.ndarray | None = None,
    gap: float = 0.0,
    node_iter: int = NODE_ITER,
    max_nodes: int = 5_000,
    time_limit_s: float | None = None,
    branching: str = "fractional",
) -> CflpTree:
    """Depth-first branch and bound on the open-variables with the CFLP Lagrangian bound at every node.

    Each node re-optimises ``λ`` from its parent's (at most ``node_iter`` steps), prunes at the incumbent,
    fixes options by flip cost, offers its relaxed open set to the transportation-LP heuristic, and branches on
    the open option of the relaxation with the largest flip cost ("open" child first).

    Returns
    -------
    CflpTree
        Incumbent, bounds (the smallest open-node bound when a limit stopped the search) and node count.
    """
    lag = lagrangian or _CflpLagrangian(problem)
    m = problem.n_options
    fo0 = np.zeros(m, dtype=bool) if forced_open is None else forced_open.copy()
    fc0 = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed.copy()
    stack = [(fo0, fc0, root.multipliers, root.bound)]
    nodes = 0
    t0 = time.perf_counter()

    def level() -> float:
        return lag.ub - max(gap, 1e-9) * max(1.0, abs(lag.ub))

    while stack:
        if nodes >= max_nodes or (time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
            open_bound = min(b for *_, b in stack)
            return CflpTree(lag.best_solution, lag.ub, min(open_bound, lag.ub), False, nodes)
        fo, fc, lam, parent_bound = stack.pop()
        if parent_bound >= level():
            continue
        nodes += 1
        node_limit = None if time_limit_s is None else max(0.0, time_limit_s - (time.perf_counter() - t0))
        res = lag.run(
            lam, forced_open=fo, forced_closed=fc, max_iter=node_iter, patience=max(5, node_iter // 8), theta=0.5,
            stop_at=level(), heuristic_every=0, time_limit_s=node_limit,
        )  # fmt: skip
        if res.bound >= level():
            continue
        chosen = np.asarray(res.y) > 0.5
        free = ~fo & ~fc
        over = res.bound + res.flip_cost >= level()
        fo = fo | (free & chosen & over)
        fc = fc | (free & ~chosen & over)
        free = ~fo & ~fc & ~problem.required_mask()
        if not free.any():
            continue  # every option fixed: its only open set was offered to the heuristic
        if branching == "fractional":  # the most fractional primal estimate; its likelier side first
            cand = np.flatnonzero(free)
            j = int(cand[np.argmin(np.abs(res.y_mean[cand] - 0.5))])
            open_first = res.y_mean[j] >= 0.5
        else:  # the open option of the relaxation whose closing costs most
            cand = np.flatnonzero(chosen & free)
            if not len(cand):
                cand = np.flatnonzero(free)
                j = int(cand[np.argmin(res.flip_cost[cand])])
            else:
                j = int(cand[np.argmax(np.where(np.isfinite(res.flip_cost[cand]), res.flip_cost[cand], -1.0))])
            open_first = True
        closed_child, open_child = fc.copy(), fo.copy()
        closed_child[j] = True
        open_child[j] = True
        children = [(fo, closed_child, res.multipliers, res.bound), (open_child, fc, res.multipliers, res.bound)]
        stack.extend(children if open_first else children[::-1])  # the last pushed is explored first
    return CflpTree(lag.best_solution, lag.ub, lag.ub, True, nodes)


def lagrangian_local_search(
    lag: _CflpLagrangian, v: np.ndarray, *, n_swaps: int = 12, rounds: int = 6, time_limit_s: float | None = None
) -> None:
    """Improve ``lag``'s incumbent by drop, add and swap moves screened with the Lagrangian values ``v``.

    Moves are ranked by their Lagrangian estimate (``v_in − v_out``); the best ``n_swaps`` swaps, every drop and
    the best few adds that keep enough capacity are evaluated exactly with the transportation LP. Repeats while
    a round improves, at most ``rounds`` times.
    """
    p = lag.problem
    demand = float(p.demand.sum())
    cap = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, demand), demand)  # finite: no inf − inf
    required = p.required_mask()
    t0 = time.perf_counter()
    for _ in range(rounds):
        if lag.best_solution is None:
            return
        before = lag.ub
        y = np.asarray(lag.best_solution[0], dtype=bool)
        opened, closed = np.flatnonzero(y & ~required), np.flatnonzero(~y)
        have = float(cap[y].sum())
        moves: list[np.ndarray] = []
        for j in opened:  # drops
            if have - cap[j] >= demand:
                cand = y.copy()
                cand[j] = False
                moves.append(cand)
        for j in closed[np.argsort(v[closed])][:3]:  # adds
            cand = y.copy()
            cand[j] = True
            moves.append(cand)
        if len(opened) and len(closed):
            est = v[closed][:, None] - v[opened][None, :]
            ok = have - cap[opened][None, :] + cap[closed][:, None] >= demand
            est[~ok] = np.inf
            for flat in np.argsort(est, axis=None)[:n_swaps]:
                u, w = np.unravel_index(flat, est.shape)
                if not np.isfinite(est[u, w]):
                    break
                cand = y.copy()
                cand[closed[u]], cand[opened[w]] = True, False
                moves.append(cand)
        for cand in moves:
            lag.offer(cand)
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                return
        if lag.ub >= before:
            return


def _rows_ok(problem: LocationProblem, y: np.ndarray) -> bool:
    from optimizer.heuristics import _Feasibility

    return _Feasibility(problem).feasible(y)


def solve_cflp(problem: LocationProblem, options, *, branch_time_share: float = 0.9) -> Solution:  # noqa: ANN001
    """Lagrangian bound → fixing → Lagrangian branch and bound → HiGHS on what is left (multi-source CFLP).

    Parameters
    ----------
    problem
        A multi-source problem with finite capacities (count rows, land and required options allowed).
    options
        :class:`~optimizer.solve.SolveOptions`; the time limit covers all phases.
    branch_time_share
        Share of the remaining time for the Lagrangian tree before HiGHS takes over.

    Returns
    -------
    Solution
        ``timings_s`` has ``build``, ``heuristic``, ``bound`` and ``solve`` seconds.
    """
    from optimizer.highs_backend import (
        HIGHS_SETUP_S_PER_NNZ,
        MIN_HIGHS_S,
        Deadline,
        _highs_version,
        build_matrices,
        finish,
        run_highs,
    )

    deadline = Deadline.after(options.time_limit_s)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    index = ArcIndex.of(problem)
    lag = _CflpLagrangian(problem, index)
    timings["build"] = time.perf_counter() - t0
    solver = f"HiGHS {_highs_version()} via highspy (CFLP Lagrangian branch and bound)"
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=getattr(options, "warm_start", None), index=index,
                          time_limit_s=deadline.share(0.1, cap=1.0))  # fmt: skip
    if start is not None:
        lag.ub, lag.best_solution = solution_cost(problem, *start), start
    timings["heuristic"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    root = lag.run(_start_multipliers(problem, start), time_limit_s=deadline.share(0.3))
    if lag.best_solution is not None and not deadline.expired():
        lagrangian_local_search(lag, root.v, time_limit_s=deadline.share(0.3))
    gap = options.mip_gap
    log = f"lagrangian bound {root.bound:.10g} after {root.iterations} it, incumbent {lag.ub:.10g}\n"
    bound = root.bound
    if lag.best_solution is not None and root.bound < lag.ub - max(gap, 1e-9) * max(1.0, abs(lag.ub)):
        fix = (root.bound + root.flip_cost > lag.ub * (1 + FIX_TOL)) & ~problem.required_mask()
        fix &= root.y == lag.best_solution[0]  # never cut the incumbent off (it can only tie, within round-off)
        forced_open, forced_closed = fix & root.y, fix & ~root.y
        log += f"root fixing: {int(forced_closed.sum())} closed, {int(forced_open.sum())} open of {problem.n_options}\n"
        # the tree never opens a root-closed option: drop its arcs (the relaxation is unchanged otherwise)
        kept = np.flatnonzero(~forced_closed[problem.arc_option])
        sub = _restrict_arcs(problem, kept)
        sub_lag = _CflpLagrangian(sub)
        sub_lag.ub = lag.ub
        sub_lag.best_solution = (lag.best_solution[0], lag.best_solution[1][kept])
        # the tree's share, or all the time left when HiGHS could not even set up the model in the rest
        setup = HIGHS_SETUP_S_PER_NNZ * 4 * problem.n_arcs
        share = 1.0 if deadline.expired(1.5 * setup / max(1e-9, 1.0 - branch_time_share)) else branch_time_share
        tree = cflp_branch_and_bound(
            sub, replace(root, multipliers=root.multipliers), lagrangian=sub_lag, forced_open=forced_open,
            forced_closed=forced_closed, gap=gap, node_iter=NODE_ITER, time_limit_s=deadline.share(share),
        )  # fmt: skip
        if sub_lag.ub < lag.ub:
            x = np.zeros(problem.n_arcs)
            x[kept] = sub_lag.best_solution[1]
            lag.ub, lag.best_solution = sub_lag.ub, (sub_lag.best_solution[0], x)
        bound = max(bound, tree.bound)
        log += f"lagrangian branch and bound: {tree.nodes} nodes, {'finished' if tree.finished else 'stopped'}\n"
        timings["bound"] = time.perf_counter() - t2
        model = None
        if not tree.finished and not deadline.expired(MIN_HIGHS_S):
            model = build_matrices(problem, strengthen=True)
        if model is not None and deadline.too_short_for(model):
            log += "time limit: HiGHS not started\n"
        elif model is not None:
            t3 = time.perf_counter()
            k = model.n_x
            upper, lower = model.col_upper.copy(), model.col_lower.copy()
            upper[k + np.flatnonzero(forced_closed)] = 0.0
            lower[k + np.flatnonzero(forced_open)] = 1.0
            upper[:k][forced_closed[problem.arc_option]] = 0.0
            model = replace(model, col_upper=upper, col_lower=lower)
            status, y, x, mip_bound, hlog = run_highs(problem, model, deadline.options(options),
                                                      incumbent=lag.best_solution)  # fmt: skip
            log += hlog
            if status in ("optimal", "feasible"):
                x = _clean(problem, y, x)
                if solution_cost(problem, y > 0.5, x) < lag.ub:
                    lag.ub, lag.best_solution = solution_cost(problem, y > 0.5, x), (y > 0.5, x)
            if np.isfinite(mip_bound):  # valid for the fixed model, i.e. for every solution below the incumbent
                bound = max(bound, min(mip_bound, lag.ub))
            timings["solve"] = time.perf_counter() - t3
    timings.setdefault("bound", time.perf_counter() - t2)
    timings.setdefault("solve", 0.0)
    if lag.best_solution is None:
        status = "infeasible" if not np.isfinite(root.bound) and root.bound > 0 else "no_solution"
        empty = (np.zeros(problem.n_options), np.zeros(problem.n_arcs))
        return finish(problem, status, *empty, bound, solver=solver, timings_s=timings, log=log)
    y, x = lag.best_solution
    return finish(problem, "optimal", y, x, min(bound, lag.ub), solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)


def _restrict_arcs(problem: LocationProblem, kept: np.ndarray) -> LocationProblem:
    return replace(
        problem,
        arc_client=problem.arc_client[kept],
        arc_option=problem.arc_option[kept],
        arc_cost=problem.arc_cost[kept],
        arc_km=None if problem.arc_km is None else problem.arc_km[kept],
    )


def _clean(problem: LocationProblem, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    from optimizer.highs_backend import clean_solution

    return clean_solution(problem, y, x)[1]
