"""Single-source capacitated facility location: knapsack Lagrangian, Lagrangian heuristic and branch and bound.

The relaxation of Holmberg, Rönnqvist & Yuan (1999, EJOR 113:544) and Díaz & Fernández (2002): relax the
assignment rows ``Σ_{a∈A(i)} x_a = 1`` with multipliers ``λ_i``, keep each facility's capacity row with
binary ``x`` and the aggregated capacity row ``Σ_j Q_j y_j ≥ D``::

    L(λ) = Σ_i λ_i + min { Σ_j v_j(λ) y_j : Σ_j Q_j y_j ≥ D, counts, land, required },
    v_j(λ) = f_j + min { Σ_{a∈A(j)} (c_a − λ_i) x_a : Σ_{a∈A(j)} d_i x_a ≤ Q_j, x_a ∈ {0, 1} }.

``v_j`` is a **0-1 knapsack** per facility, solved exactly by dynamic programming over capacity for all
facilities at once (one vectorised update per item rank; integer demands and capacities divided by the demands'
gcd). Where that grid would exceed :data:`~optimizer.solver.lagrangian.knapsack.MAX_STATES` states, demands and capacities are rounded *down* to a
coarser grid (``⌊d/s⌋``, ``⌊Q/s⌋``), which relaxes every capacity row, so the bound stays valid (weaker). The outer
problem is the covering knapsack (or its LP with count rows / binding land) of :mod:`optimizer.solver.lagrangian.cover`.
Because the knapsacks are integer, ``max_λ L(λ)`` is above the LP bound of the strong formulation; on the
Holmberg instances it leaves 0–2 % (p57: 0.66 %).

1. **Subgradient** optimisation of ``λ`` (Polyak step towards the incumbent); the DP runs in layers (the
   ``t``-th item of every facility at once), 1.2 ms per pass on p57 (200 × 30, capacities 400).
2. **Lagrangian heuristic**: the relaxation's open set gets the knapsack choices as its assignment (each client
   its cheapest chosen open facility, the rest placed where there is room; :meth:`SscflpLagrangian.offer`) or
   the regret greedy (:func:`optimizer.solver.assign.assign_single_source`), then shift and swap moves
   (:func:`optimizer.solver.assign.gap_local_search`); the best few open sets get an exact assignment by HiGHS (a generalised
   assignment problem, 0.1–0.3 s here).
3. **Fixing**: ``L(λ | y_j flipped)`` from the outer knapsack fixes facilities; forcing arc ``(i, j)`` lifts the
   bound by at least ``flip_j⁺ + max(0, r_ij + V_j(Q_j − d_i) − V_j(Q_j))`` (``V_j(c)`` the knapsack value with
   capacity ``c``, read off the same DP table), so arcs whose forced bound exceeds the incumbent are removed
   (:meth:`SscflpLagrangian.fixing`, used at the tree's leaves).
4. **Branch and bound** on the open-variables with this bound at every node (:func:`sscflp_branch_and_bound`).
   The duality gap lies mostly in the open set (p57: 172 of the 177 between bound and optimum; with the optimal
   open set fixed the bound is 26,034 against 26,039), so a node whose options are all fixed is solved as an
   assignment problem by HiGHS, below the incumbent only (a cut-off row), after more subgradient steps that
   usually prune it first. HiGHS on the whole strengthened model took 18–60 s on p57 under load, this tree
   31 s (load 3–4) and closes all 71 Holmberg instances (``benchmarks/perf/README.md``, Round 3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.assign import ArcIndex, assign_single_source, gap_local_search
from optimizer.solver.heuristics import Feasibility, incumbent_for, solution_cost
from optimizer.solver.highs import highs_version, run_highs
from optimizer.solver.lagrangian.cover import CoverKnapsack, CoverLp
from optimizer.solver.lagrangian.knapsack import Knapsacks
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import Deadline, SolveOptions
from optimizer.solver.result import clean_solution, finish

MAX_CLIENTS = 5_000  # beyond, the dense assignment moves and the per-layer DP steps get too slow
MAX_DP_WORK = 40_000_000  # arcs × states above which this scheme is not chosen (one DP pass ~ this many cells)
NODE_ITER = 35  # subgradient steps per tree node (p57 with the optimum known: 20 → 751 nodes 31 s, 35 → 527/387
# nodes 25/18 s by flip / fractional branching, 60 → 389 nodes 43 s)
LEAF_ITER = 300  # extra subgradient steps at a leaf before its assignment MIP (most leaves are pruned by them)
HEURISTIC_EVERY = 10  # subgradient iterations between Lagrangian heuristic calls
ROOT_STALL_WINDOW = 50  # root steps between stall checks: the root stops when a window lifts the bound by less than
STALL_REL = 3e-4  # ... this share of it, and the tree takes over
VOLUME_ALPHA = 0.1  # smoothing of the relaxed open sets (primal estimate)


def applicable(problem: LocationProblem) -> bool:
    """Whether this scheme is the one to use: single source, capacitated, **exact** knapsacks (integer demands
    whose capacity grid fits :data:`~optimizer.solver.lagrangian.knapsack.MAX_STATES`), bounded DP work per pass and at most :data:`MAX_CLIENTS` clients.

    On the small OR-Library single-source set (capacities up to 58,268, demands without a common divisor) the
    grid is coarse, the bound weak and the tree slow (p20: 25 s), while HiGHS on the strengthened rows closes
    each in ≤ 2.3 s; those go to the ``strong`` scheme.
    """
    if not problem.single_source or not np.isfinite(problem.capacity).any() or problem.n_clients > MAX_CLIENTS:
        return False
    scale, exact = Knapsacks.grid(problem)
    return exact and Knapsacks.states_for(problem) * problem.n_arcs <= MAX_DP_WORK


@dataclass
class SscflpBound:
    """Outcome of the subgradient phase: the bound and what fixing needs.

    Attributes
    ----------
    bound
        Valid lower bound (rounded up for integer costs), cost units.
    multipliers
        ``λ`` that gave it.
    y
        Open set of the relaxation at ``multipliers``.
    flip_cost
        Bound increase when ``y_j`` is flipped (``inf``: not allowed).
    iterations
        Subgradient iterations done.
    """

    bound: float
    raw_bound: float
    multipliers: np.ndarray
    y: np.ndarray
    flip_cost: np.ndarray
    iterations: int
    y_mean: np.ndarray | None = None
    x: np.ndarray | None = None  # knapsack choices per arc (DP order) at ``multipliers``


class SscflpLagrangian:
    """The knapsack relaxation of one problem, its subgradient loop and its Lagrangian heuristic."""

    def __init__(self, problem: LocationProblem, index: ArcIndex | None = None) -> None:
        p = problem
        self.problem = p
        self.index = index or ArcIndex.of(p)
        self.knap = Knapsacks(p)
        rows = p.counts.n_rows > 0
        free = np.asarray(p.site_free_m2, float)
        land_total = np.bincount(p.option_site, weights=p.area_m2, minlength=len(free))
        self.outer = CoverLp(p) if rows or np.any(land_total > free + 1e-9) else CoverKnapsack(p)
        c = np.concatenate([p.arc_cost, p.option_cost()])
        self.integral = bool(np.all(np.isfinite(c)) and np.all(np.abs(c - np.round(c)) < 1e-9))
        self.feas = Feasibility(p)
        self.ub = float("inf")
        self.best: tuple[np.ndarray, np.ndarray] | None = None
        self.tried: set[bytes] = set()
        self.candidates: dict[bytes, tuple[float, np.ndarray]] = {}  # open sets tried: greedy cost, mask
        self.polished: set[bytes] = set()

    # ------------------------------------------------------------------ bounds
    def rounded(self, raw: float) -> float:
        return float(np.ceil(raw - 1e-7)) if self.integral and np.isfinite(raw) else raw

    def level(self, gap: float = 0.0) -> float:
        """Bound at or above which nothing better than the incumbent by more than ``gap`` exists."""
        ub = self.ub
        if not np.isfinite(ub):
            return float("inf")
        relative = ub - max(gap, 1e-9) * max(1.0, abs(ub))
        if self.integral:  # the optimum is an integer: a bound above UB − 1 proves UB (or the gap, if lower)
            return min(ub - 1.0 + 1e-6, relative) if gap > 0 else ub - 1.0 + 1e-6
        return relative

    def run(
        self,
        lam: np.ndarray,
        *,
        max_iter: int = 3000,
        time_limit_s: float | None = None,
        patience: int = 30,
        theta: float = 2.0,
        gap: float = 0.0,
        heuristic_every: int = HEURISTIC_EVERY,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        stall_window: int | None = None,
    ) -> SscflpBound:
        """Subgradient optimisation from ``lam`` with the Lagrangian heuristic every ``heuristic_every`` steps;
        ``forced_open`` / ``forced_closed`` fix options (tree nodes). (Stopping a node early when its bound cannot
        reach the level, as the uncapacitated tree does, doubled the nodes here: p58 1,105 against 497.)"""
        p = self.problem
        n, m = p.n_clients, p.n_options
        lam = np.asarray(lam, float).copy()
        best = SscflpBound(-np.inf, -np.inf, lam.copy(), np.zeros(m, dtype=bool), np.zeros(m), 0)
        since, it = 0, 0
        t0 = time.perf_counter()
        knap = self.knap
        y_mean = np.zeros(m)
        checkpoint = -np.inf
        for it in range(1, max_iter + 1):
            v, x, _ = knap.evaluate(lam, skip=forced_closed)
            value, y, _ = self.outer.solve(v, forced_open, forced_closed)
            if not np.isfinite(value):
                best = SscflpBound(np.inf if value > 0 else -np.inf, np.inf if value > 0 else -np.inf, lam.copy(),
                                   np.zeros(m, dtype=bool), np.full(m, np.inf), it)  # fmt: skip
                break
            raw = float(lam.sum() + value)
            yb = np.asarray(y) > 0.5
            y_mean = yb.astype(float) if it == 1 else (1 - VOLUME_ALPHA) * y_mean + VOLUME_ALPHA * yb
            if raw > best.raw_bound + 1e-12 * max(1.0, abs(raw)):
                best = SscflpBound(self.rounded(raw), raw, lam.copy(), yb.copy(), np.zeros(m), it)
                since = 0
            else:
                since += 1
                if since >= patience:
                    theta, since = theta / 2.0, 0
            if heuristic_every and (it == 1 or it % heuristic_every == 0 or self.best is None):
                self.offer(yb, x)
            if best.raw_bound >= self.level(gap) or theta < 1e-3:
                break
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                break
            if stall_window and it % stall_window == 0:
                if best.raw_bound - checkpoint <= STALL_REL * max(1.0, abs(best.raw_bound)):
                    break
                checkpoint = best.raw_bound
            chosen = x & yb[knap.option]
            g = 1.0 - np.bincount(knap.client[chosen], minlength=n)
            norm = float(g @ g)
            if norm < 1e-12:  # every client served once by the relaxation: try it as it is
                self.offer(yb, x)
                break
            target = self.ub if np.isfinite(self.ub) else raw + abs(raw) * 0.05 + 1.0
            lam += theta * max(target - raw, 1e-9 * max(1.0, abs(raw))) / norm * g
        best.iterations = it
        best.y_mean = y_mean
        if np.isfinite(best.raw_bound):
            v, best.x, _ = knap.evaluate(best.multipliers, skip=forced_closed)
            best.flip_cost = self.outer.solve(v, forced_open, forced_closed, flips=True)[2]
        return best

    # ------------------------------------------------------------------ heuristic
    def offer(self, y: np.ndarray, x_sorted: np.ndarray | None = None) -> None:
        """Complete the open set ``y`` into a single-source solution, improve it, keep it if it is better.

        With ``x_sorted`` (the knapsack choice per arc at the current ``λ``, in the DP's order) each client keeps
        its cheapest chosen open arc and the rest are placed where there is room (on p57 with the optimal open
        set: 26,095, 26,046 after the moves, against 26,175 from the regret greedy); without it, or when that
        fails, the regret greedy assigns. An open set is completed by the greedy only once.
        """
        p = self.problem
        y = np.asarray(y, dtype=bool) | p.required_mask()
        key = y.tobytes()
        if not self.feas.feasible(y):
            return
        x = None if x_sorted is None else self._repair(y, x_sorted)
        if x is None:
            if key in self.tried:
                return
            x = assign_single_source(p, y, self.index)
        self.tried.add(key)
        if x is None:
            return
        x = gap_local_search(p, y, x)
        self.keep(y, x)

    def _repair(self, y: np.ndarray, x_sorted: np.ndarray) -> np.ndarray | None:
        """Assignment from the knapsack choices: the cheapest chosen open arc per client, then the clients left
        (largest demand first) to their cheapest open option with room; ``None`` when one finds no room."""
        p, k = self.problem, self.knap
        chosen = np.flatnonzero(x_sorted & y[k.option])
        chosen = chosen[np.lexsort((k.cost[chosen], k.client[chosen]))]
        first = np.ones(len(chosen), dtype=bool)
        first[1:] = k.client[chosen[1:]] != k.client[chosen[:-1]]
        chosen = chosen[first]
        x = np.zeros(p.n_arcs)
        x[k.order[chosen]] = 1.0
        demand = np.asarray(p.demand, float)
        room = np.where(y, np.where(np.isfinite(p.capacity), p.capacity, np.inf), 0.0)
        room -= np.bincount(k.option[chosen], weights=demand[k.client[chosen]], minlength=p.n_options)
        if np.any(room < -1e-9):  # a coarse grid can overfill: let the greedy start over
            return None
        served = np.zeros(p.n_clients, dtype=bool)
        served[k.client[chosen]] = True
        left = np.flatnonzero(~served)
        for i in left[np.argsort(-demand[left], kind="stable")]:
            arcs = np.arange(k.start[i], k.start[i + 1])
            arcs = arcs[y[k.option[arcs]] & (room[k.option[arcs]] >= demand[i] - 1e-9)]
            if not len(arcs):
                return None
            a = arcs[np.argmin(k.cost[arcs])]
            x[k.order[a]] = 1.0
            room[k.option[a]] -= demand[i]
        return x

    def keep(self, y: np.ndarray, x: np.ndarray) -> None:
        """Record ``(y, x)`` (unused options closed where the rows allow) as a candidate; keep it if best."""
        p = self.problem
        used = np.bincount(p.arc_option, weights=x, minlength=p.n_options) > 0
        trimmed = y & (used | p.required_mask())
        for cand in (trimmed, y):
            if self.feas.feasible(cand):
                cost = solution_cost(p, cand, x)
                key = cand.tobytes()
                if key not in self.candidates or cost < self.candidates[key][0]:
                    self.candidates[key] = (cost, cand.copy())
                if cost < self.ub - 1e-9 * max(1.0, abs(cost)):
                    self.ub, self.best = cost, (cand, x)
                return

    def polish(self, count: int, deadline: Deadline, *, per_set_s: float = 1.0) -> int:
        """Solve the assignment (a generalised assignment problem) exactly with HiGHS for the ``count`` best
        open sets not polished yet; returns how many were solved. The regret greedy and shift/swap moves leave
        ~0.5 % on the table on p57 with the optimal open set, which HiGHS closes in 0.2-0.3 s."""
        done = 0
        for key, (_, y) in sorted(self.candidates.items(), key=lambda kv: kv[1][0]):
            if done >= count or deadline.expired(0.5):
                break
            if key in self.polished:
                continue
            self.polished.add(key)
            self.assign_mip(y, None, deadline.share(0.1, cap=per_set_s))
            done += 1
        return done

    def assign_mip(self, y: np.ndarray, arcs: np.ndarray | None, time_limit_s: float | None,
                   cutoff: float | None = None) -> str:  # fmt: skip
        """Best single-source assignment to the open set ``y`` over ``arcs`` (mask; ``None``: all) with HiGHS.

        The solution found (if any) is offered as a candidate. Returns HiGHS' status: ``optimal`` (the best
        assignment over these arcs is known), ``infeasible`` (none exists), else ``feasible``/``no_solution``.
        With ``cutoff`` only solutions of total cost ≤ ``cutoff`` are sought (a row on the transport cost):
        ``infeasible`` then means none below it, which HiGHS proves much faster than an optimum (a p30 leaf:
        ~0.1 s instead of 6.9 s).
        """
        p = self.problem
        mask = y[p.arc_option] if arcs is None else arcs & y[p.arc_option]
        on = np.flatnonzero(mask)
        sub = replace(p, arc_client=p.arc_client[on], arc_option=p.arc_option[on], arc_cost=p.arc_cost[on],
                      arc_km=None)  # fmt: skip
        if np.any(np.bincount(sub.arc_client, minlength=p.n_clients) == 0):
            return "infeasible"  # a client without an arc to an open option
        model = build_matrices(sub, strengthen=True)
        k = model.n_x
        lower, upper = model.col_lower.copy(), model.col_upper.copy()
        lower[k:] = y
        upper[k:] = y
        model = replace(model, col_lower=lower, col_upper=upper)
        start = None
        if cutoff is not None:
            import scipy.sparse as sp

            room = cutoff - float(p.option_cost() @ y)
            row = sp.csr_matrix(np.concatenate([sub.arc_cost, np.zeros(model.n_y)])[None, :])
            model = replace(model, matrix=sp.vstack([model.matrix.tocsc(), row]).tocsc(),
                            row_lower=np.append(model.row_lower, -np.inf), row_upper=np.append(model.row_upper, room))
        elif self.best is not None and np.array_equal(self.best[0], y) and np.all(self.best[1][~mask] == 0):
            start = (y.astype(float), self.best[1][on])
        status, ys, xs, _, _ = run_highs(sub, model, SolveOptions(time_limit_s=time_limit_s), incumbent=start)
        if status in ("optimal", "feasible"):
            x = np.zeros(p.n_arcs)
            x[on] = xs
            self.keep(y, _clean_single(p, y.astype(float), x))
        return status

    # ------------------------------------------------------------------ fixing
    def fixing(self, res: SscflpBound, gap: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(fix_closed, fix_open, keep_arc)`` (arcs in the problem's order) for solutions below the level."""
        p = self.problem
        level = self.level(gap)
        if not np.isfinite(level) or not np.isfinite(res.raw_bound):
            return np.zeros(p.n_options, bool), np.zeros(p.n_options, bool), np.ones(p.n_arcs, bool)
        L, flip, y = res.raw_bound, res.flip_cost, res.y
        required = p.required_mask()
        over = L + flip > level
        fix_closed = ~y & over
        fix_open = y & over & ~required
        knap = self.knap
        _, x, V = knap.evaluate(res.multipliers, table=True)
        r = knap.cost - res.multipliers[knap.client]
        j = knap.option
        k_full = V[j, knap.cap[j]]
        rest = knap.cap[j] - knap.w[knap.client]
        k_rest = V[j, np.maximum(rest, 0)]
        delta = np.where(x, 0.0, np.maximum(0.0, r + k_rest - k_full))
        open_flip = np.where(y, 0.0, flip)[j]
        keep_sorted = knap.fits & (rest >= 0) & (L + open_flip + delta <= level) & ~fix_closed[j]
        keep = np.zeros(p.n_arcs, dtype=bool)
        keep[knap.order] = keep_sorted
        return fix_closed, fix_open, keep


@dataclass
class SscflpTree:
    """Outcome of :func:`sscflp_branch_and_bound`: proven bound, whether the tree finished, nodes, leaves."""

    bound: float
    finished: bool
    nodes: int
    leaves: int


def sscflp_branch_and_bound(
    lag: SscflpLagrangian,
    root: SscflpBound,
    deadline: Deadline,
    *,
    gap: float = 0.0,
    node_iter: int = NODE_ITER,
    forced_open: np.ndarray | None = None,
    forced_closed: np.ndarray | None = None,
) -> SscflpTree:
    """Depth-first branch and bound on the open-variables with the knapsack Lagrangian bound at every node.

    Each node re-optimises ``λ`` from its parent's (at most ``node_iter`` subgradient steps), prunes at the
    incumbent, fixes options by flip cost, offers its relaxed open set to the Lagrangian heuristic and branches
    on the option whose smoothed relaxed value is most fractional (its likelier side first). The duality gap of
    this relaxation lies mostly in the open set (p57: 172 of 177 at the root; 5 with the optimal open set fixed),
    so once every option is fixed the node is a generalised assignment problem, solved exactly by HiGHS over
    the arcs the node's fixing keeps (0.1-0.3 s on Holmberg's 200 × 30). The bound returned at a limit is the
    smallest bound of an open node.
    """
    p = lag.problem
    m = p.n_options
    required = p.required_mask()
    fo0 = np.zeros(m, dtype=bool) if forced_open is None else forced_open.copy()
    fc0 = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed.copy()
    stack: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = [(fo0, fc0, root.multipliers, root.raw_bound)]
    nodes = leaves = 0
    unresolved = np.inf  # bound of leaves whose assignment problem was not solved in time
    while stack:
        if deadline.expired():
            open_bound = min(min(b for *_, b in stack), unresolved)
            return SscflpTree(lag.rounded(min(open_bound, lag.ub)), False, nodes, leaves)
        fo, fc, lam, parent = stack.pop()
        if parent >= lag.level(gap):
            continue
        nodes += 1
        res = lag.run(lam, max_iter=node_iter, patience=max(5, node_iter // 8), theta=0.5, gap=gap,
                      heuristic_every=0, forced_open=fo, forced_closed=fc, time_limit_s=deadline.left())  # fmt: skip
        if res.raw_bound >= lag.level(gap):
            continue
        lag.offer(res.y, res.x)
        if res.raw_bound >= lag.level(gap):
            continue
        free = ~fo & ~fc
        over = res.raw_bound + res.flip_cost >= lag.level(gap)
        fo = fo | (free & res.y & over)
        fc = fc | (free & ~res.y & over)
        free = ~fo & ~fc & ~required
        if not free.any():  # every option fixed: the node is an assignment problem
            leaves += 1
            y = fo | required
            res = lag.run(res.multipliers, max_iter=LEAF_ITER, patience=20, theta=0.5, gap=gap, heuristic_every=0,
                          forced_open=y, forced_closed=~y, time_limit_s=deadline.left())  # fmt: skip
            if res.raw_bound >= lag.level(gap):
                continue
            _, _, keep = lag.fixing(res, gap)
            status = lag.assign_mip(y, keep, deadline.left(), cutoff=lag.level(gap))
            if status not in ("optimal", "infeasible"):
                unresolved = min(unresolved, res.raw_bound)
            continue
        cand = np.flatnonzero(free)
        ym = res.y_mean if res.y_mean is not None else res.y.astype(float)
        j = int(cand[np.argmin(np.abs(ym[cand] - 0.5))])
        closed_child, open_child = fc.copy(), fo.copy()
        closed_child[j] = True
        open_child[j] = True
        children = [(fo, closed_child, res.multipliers, res.raw_bound), (open_child, fc, res.multipliers, res.raw_bound)]
        stack.extend(children if ym[j] >= 0.5 else children[::-1])  # the last pushed is explored first
    if np.isfinite(unresolved):
        return SscflpTree(lag.rounded(min(unresolved, lag.ub)), False, nodes, leaves)
    return SscflpTree(lag.rounded(min(lag.ub, lag.level(gap))), True, nodes, leaves)  # proven: the final level


def solve_sscflp(problem: LocationProblem, options: SolveOptions) -> Solution:
    """Knapsack Lagrangian → heuristic → Lagrangian branch and bound (module docstring).

    Parameters
    ----------
    problem
        Single-source problem with finite capacities (count rows, land, required options allowed).
    options
        :class:`~optimizer.solver.options.SolveOptions`; the time limit covers every phase.

    Returns
    -------
    Solution
        ``timings_s`` has ``build``, ``heuristic``, ``bound`` (root) and ``solve`` (tree) seconds.
    """
    deadline = Deadline.after(options.time_limit_s)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    index = ArcIndex.of(problem)
    lag = SscflpLagrangian(problem, index)
    timings["build"] = time.perf_counter() - t0
    solver = f"HiGHS {highs_version()} via highspy (single-source knapsack Lagrangian branch and bound)"
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=options.warm_start, index=index,
                          time_limit_s=deadline.share(0.05, cap=1.0))  # fmt: skip
    if start is not None:
        x0 = gap_local_search(problem, start[0], start[1])
        lag.keep(start[0], x0)
    timings["heuristic"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    gap = float(options.mip_gap)
    root = lag.run(_start_multipliers(problem, lag.best), time_limit_s=deadline.share(0.3), gap=gap,
                   stall_window=ROOT_STALL_WINDOW)
    log = f"knapsack lagrangian bound {root.bound:.10g} after {root.iterations} it, incumbent {lag.ub:.10g}"
    if root.raw_bound == np.inf:  # the relaxation has no feasible open set: neither has the problem
        timings["bound"] = time.perf_counter() - t2
        timings["solve"] = 0.0
        return finish(problem, Status.INFEASIBLE, np.zeros(problem.n_options), np.zeros(problem.n_arcs), np.inf,
                      solver=solver, timings_s=timings, log=log + "\n")  # fmt: skip
    if root.raw_bound < lag.level(gap):
        lag.offer(root.y, root.x)
        lag.polish(2, deadline)
        log += f", polished {lag.ub:.10g}"
    log += "\n"
    timings["bound"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    bound = root.bound
    if root.raw_bound < lag.level(gap) and not deadline.expired():
        fix_closed = fix_open = None
        if lag.best is not None:  # root fixing: options whose flip lifts the bound above the incumbent
            over = root.raw_bound + root.flip_cost >= lag.level(gap)
            fix_open = root.y & over & ~problem.required_mask()
            fix_closed = ~root.y & over
        tree = sscflp_branch_and_bound(lag, root, deadline, gap=gap, forced_open=fix_open, forced_closed=fix_closed)
        bound = max(bound, tree.bound)
        log += (f"lagrangian branch and bound: {tree.nodes} nodes, {tree.leaves} assignment problems, "
                f"{'finished' if tree.finished else 'stopped'}\n")  # fmt: skip
    timings["solve"] = time.perf_counter() - t3
    if lag.best is None:
        status = Status.INFEASIBLE if bound == np.inf else Status.NO_SOLUTION
        return finish(problem, status, np.zeros(problem.n_options), np.zeros(problem.n_arcs), bound,
                      solver=solver, timings_s=timings, log=log)  # fmt: skip
    return finish(problem, Status.OPTIMAL, *lag.best, min(bound, lag.ub), solver=solver, timings_s=timings, log=log,
                  gap_tol=gap)  # fmt: skip


def _clean_single(problem: LocationProblem, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return clean_solution(problem, y, x)[1]


def _start_multipliers(problem: LocationProblem, incumbent: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Each client's cheapest arc, raised to its cost at the incumbent when there is one."""
    n = problem.n_clients
    lam = np.full(n, np.inf)
    np.minimum.at(lam, problem.arc_client, problem.arc_cost)
    lam = np.where(np.isfinite(lam), lam, 0.0)
    if incumbent is not None:
        lam = np.maximum(lam, np.bincount(problem.arc_client, weights=problem.arc_cost * incumbent[1], minlength=n))
    return lam
