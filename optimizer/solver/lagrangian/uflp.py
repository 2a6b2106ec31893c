"""Lower bounds for uncapacitated location problems: Lagrangian relaxation, LP bound, reduced-cost fixing.

Lagrangian relaxation of the assignment rows ``Σ_{a∈A(i)} x_a = 1`` with multipliers ``λ_i`` (cost units per
client)::

    L(λ) = Σ_i λ_i + min { Σ_j ρ_j y_j : y satisfies counts, land, required },
    ρ_j  = f_j + Σ_{a∈A(j)} min(0, c_a − λ_{i(a)})

is a valid lower bound for every ``λ`` (p-median, UFLP and their variants with count rows, land and required
options). The ``y`` subproblem is solved in closed form when every option lies in at most one count row and
land cannot bind (the common cases: "exactly p", "at most one per region", none), otherwise as an LP with HiGHS.
``λ`` is improved by subgradient optimisation (Held, Wolfe & Crowder 1974, Polyak step towards the incumbent).

Only arcs with ``c_a < λ_i`` enter ``ρ``; they are found per client by binary search in the cost-sorted arcs, so an
iteration costs O(active arcs + n log k) rather than O(arcs).

Reduced-cost fixing: ``L(λ | y_j flipped)`` and ``L(λ | x_a = 1)`` are cheap to evaluate; an option or arc whose
forced use lifts the bound above the incumbent cannot be in a better solution and is removed before the MIP
(the classical variable reduction for the p-median of Beasley 1993 and Avella, Sassano & Vasil'ev 2007).

Lagrangian branch and bound (:func:`lagrangian_branch_and_bound`): when a gap remains and few options are open,
a depth-first tree over the open-variables with this bound at every node closes it; on the OR-Library p-median
instances with few medians (LP gaps up to 1 %) this is far faster than LP-based branching on the extensive model,
whose degenerate root LP dominates. With integer costs the bound is rounded up (the optimum is an integer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.heuristics import ArcIndex, assign_nearest, incumbent_for, local_search, solution_cost
from optimizer.problem import LocationProblem, Solution

VOLUME_ALPHA = 0.1  # smoothing of the relaxed open sets into the primal estimate that guides branching
FIX_TOL = 1e-9  # relative margin by which a forced bound must exceed the incumbent before fixing
BRANCH_MAX_OPEN = 25  # Lagrangian branching only when the incumbent opens at most this many options (pmed30,
# p = 200: the tree wanders for minutes; HiGHS on the reduced model is the better tool there)


@dataclass
class LagrangianResult:
    """Outcome of :func:`lagrangian_bound` (one node of the Lagrangian tree).

    Attributes
    ----------
    bound
        Best valid lower bound found, in cost units (rounded up to an integer when all costs are integers).
    raw_bound
        The same bound before rounding.
    multipliers
        The ``λ`` (one per client) that gave it.
    y
        The relaxed open set at those multipliers (fractional in the LP case).
    rho
        The option values ``ρ_j`` at those multipliers.
    flip_cost
        Increase of the bound when ``y_j`` is forced to the other value (``inf``: not allowed or infeasible).
    iterations
        Subgradient iterations done.
    feasible
        Whether the relaxed solution serves every client exactly once (then it is optimal for the node).
    y_mean
        Exponentially smoothed relaxed open sets (a primal estimate, as in the volume algorithm).
    """

    bound: float
    raw_bound: float
    multipliers: np.ndarray
    y: np.ndarray
    rho: np.ndarray
    flip_cost: np.ndarray
    iterations: int
    feasible: bool = False
    y_mean: np.ndarray | None = None


class _YSubproblem:
    """``min ρ·y`` over the open-variables with counts, land and required options; plus flip costs."""

    def __init__(self, problem: LocationProblem) -> None:
        self.problem = problem
        m = problem.n_options
        a = problem.counts.matrix.tocsc()
        per_option = np.diff(a.indptr)
        free = np.asarray(problem.site_free_m2, float)
        land_total = np.bincount(problem.option_site, weights=problem.area_m2, minlength=len(free))
        land_binds = bool(np.any(land_total > free + 1e-9))
        binary = a.nnz == 0 or bool(np.all(a.data == 1))
        self.required = problem.required_mask()
        self.closed_form = bool(np.all(per_option <= 1) and not land_binds and binary)
        if self.closed_form:
            # group id: the option's count row, or a singleton group after the rows
            group = np.full(m, -1)
            rows = np.repeat(np.arange(a.shape[1]), per_option)
            group[rows] = a.indices
            n_rows = a.shape[0]
            lone = group < 0
            group[lone] = n_rows + np.arange(int(lone.sum()))
            self.group = group
            self.n_groups = n_rows + int(lone.sum())
            self.lower = np.concatenate([problem.counts.lower, np.zeros(int(lone.sum()))])
            self.upper = np.concatenate([problem.counts.upper, np.ones(int(lone.sum()))])
            self.infeasible = self._bounds(self.required, np.zeros(m, dtype=bool))[3]
        else:
            self._init_lp()

    def _init_lp(self) -> None:
        import highspy
        import scipy.sparse as sp

        from optimizer.highs_backend import new_highs, pass_arrays

        p = self.problem
        m = p.n_options
        free = np.asarray(p.site_free_m2, float)
        limited = np.flatnonzero(np.isfinite(free))
        on_limited = np.flatnonzero(np.isin(p.option_site, limited))
        land = sp.csr_matrix(
            (p.area_m2[on_limited], (np.searchsorted(limited, p.option_site[on_limited]), on_limited)),
            shape=(len(limited), m),
        )
        a = sp.vstack([p.counts.matrix, land]).tocsc()
        inf = highspy.kHighsInf
        lo = np.concatenate([np.where(np.isfinite(p.counts.lower), p.counts.lower, -inf), np.full(len(limited), -inf)])
        up = np.concatenate([np.where(np.isfinite(p.counts.upper), p.counts.upper, inf), free[limited]])
        h = new_highs()
        pass_arrays(h, np.zeros(m), self.required.astype(float), np.ones(m), lo, up, a)
        self.highs = h
        self.infeasible = False

    def _bounds(self, required: np.ndarray, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Per group: free options, how many more must / may open (after the required ones), infeasibility."""
        m = len(required)
        n_req = np.bincount(self.group[required], minlength=self.n_groups)
        n_free = np.bincount(self.group[~required & ~closed], minlength=self.n_groups)
        lo = np.maximum(0, np.ceil(np.where(np.isfinite(self.lower), self.lower, 0) - n_req - 1e-9)).astype(int)
        up_raw = np.floor(np.where(np.isfinite(self.upper), self.upper, m) - n_req + 1e-9).astype(int)
        up = np.minimum(up_raw, n_free)
        return n_free, lo, up, bool(np.any(lo > up) or np.any(up_raw < 0))

    def solve(
        self,
        rho: np.ndarray,
        *,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        flips: bool = True,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, optimal ``y`` and flip cost (bound increase when ``y_j`` is forced to the other value).

        ``forced_open`` / ``forced_closed`` fix options (branching); the value is ``inf`` when that leaves
        no feasible ``y``. With ``flips=False`` the flip costs are not computed (returned as zeros).
        """
        return self.prepare(forced_open, forced_closed)(rho, flips)

    def prepare(self, forced_open: np.ndarray | None, forced_closed: np.ndarray | None):  # noqa: ANN201
        """A solver ``(rho, flips) -> (value, y, flip)`` for fixed forced options (set-up done once)."""
        m = len(self.required)
        required = self.required if forced_open is None else self.required | forced_open
        closed = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed & ~required
        if not self.closed_form:
            return lambda rho, flips=True: self._solve_lp(rho, required, closed)
        s, lo, up, infeasible = self._bounds(required, closed)
        free = np.flatnonzero(~required & ~closed)
        by_group = np.argsort(self.group[free], kind="stable")
        free = free[by_group]
        g = self.group[free]
        start = np.searchsorted(g, np.arange(self.n_groups + 1))
        req_idx = np.flatnonzero(required)
        n_groups = self.n_groups

        def solve(rho: np.ndarray, flips: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
            y = required.copy()
            if infeasible:
                return float("inf"), y, np.full(m, np.inf)
            v_free = rho[free]
            within = np.lexsort((v_free, g))  # groups stay in place, values sorted inside each group
            opt, v = free[within], v_free[within]
            csum = np.concatenate([[0.0], np.cumsum(v)])
            neg = np.bincount(g, weights=v < 0, minlength=n_groups).astype(int)
            t_star = np.clip(neg, lo, up)
            value = float(rho[req_idx].sum() + (csum[start[:-1] + t_star] - csum[start[:-1]]).sum())
            q = np.arange(len(opt)) - start[g]  # position inside the group
            chosen = q < t_star[g]
            y[opt[chosen]] = True
            if not flips:
                return value, y, np.zeros(m)

            def prefix(t: np.ndarray) -> np.ndarray:  # sum of the first t values of each element's group
                return csum[start[g] + t] - csum[start[g]]

            flip = np.full(m, np.inf)
            base = prefix(t_star[g])
            isneg = (v < 0).astype(int)
            sg, lg, ug, ng = s[g], lo[g], up[g], neg[g]
            # forced closed (now chosen): the best of the others with the same bounds
            t_out = np.clip(ng - isneg, lg, np.minimum(ug, sg - 1))
            val_out = prefix(np.minimum(t_out + 1, sg)) - v - base
            # forced open (now not chosen): v plus the best of the others with the bounds shifted by one
            t_in = np.clip(ng - isneg, np.maximum(lg - 1, 0), np.maximum(np.minimum(ug - 1, sg - 1), 0))
            val_in = v + prefix(t_in) - base
            flip[opt] = np.where(chosen, np.where(lg <= sg - 1, val_out, np.inf), np.where(ug >= 1, val_in, np.inf))
            return value, y, np.maximum(flip, 0.0)

        return solve

    def _solve_lp(self, rho: np.ndarray, required: np.ndarray, closed: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        from optimizer.highs_backend import run_lp

        h = self.highs
        m = len(rho)
        cols = np.arange(m, dtype=np.int32)
        h.changeColsCost(m, cols, rho.astype(float))
        h.changeColsBounds(m, cols, required.astype(float), np.where(closed, 0.0, 1.0))
        status = run_lp(h)
        if status == "infeasible":  # proven: no open set satisfies the rows with these fixings
            return float("inf"), np.zeros(m), np.zeros(m)
        if status != "optimal":  # nothing proven: the trivial bound (never +inf, which would claim infeasibility)
            return float("-inf"), np.zeros(m), np.zeros(m)
        sol = h.getSolution()
        y = np.asarray(sol.col_value)
        rc = np.asarray(sol.col_dual)
        at_lo, at_up = y < 1e-9, y > 1 - 1e-9
        flip = np.where(at_lo, np.maximum(rc, 0.0), np.where(at_up & ~required, np.maximum(-rc, 0.0), 0.0))
        flip[required | closed] = np.inf
        return float(h.getInfo().objective_function_value), y, flip


class _ActiveArcs:
    """Arcs sorted by client then cost, to list the arcs with ``c_a < λ_i`` by binary search."""

    def __init__(self, problem: LocationProblem, index: ArcIndex) -> None:
        self.problem = problem
        order = index.order
        self.order = order
        self.cost = problem.arc_cost[order].astype(float)
        self.client = problem.arc_client[order]
        self.option = problem.arc_option[order]
        n = problem.n_clients
        self.start = np.searchsorted(self.client, np.arange(n + 1))
        lo, hi = (float(self.cost.min()), float(self.cost.max())) if len(self.cost) else (0.0, 0.0)
        self.offset = lo
        self.stride = (hi - lo) * 2.0 + 1.0
        self.key = (self.cost - lo) + self.client * self.stride

    def below(self, lam: np.ndarray) -> np.ndarray:
        """Positions (in sorted order) of arcs with ``c_a < λ_i``."""
        n = len(lam)
        # a small margin upwards: an arc with c_a ≈ λ_i is listed rather than lost to round-off (its min(0, ·) is 0)
        margin = 1e-12 * self.stride * max(n, 1)
        target = np.clip(lam - self.offset + margin, -0.5, self.stride / 2.0) + np.arange(n) * self.stride
        end = np.searchsorted(self.key, target, side="left")
        end = np.clip(end, self.start[:-1], self.start[1:])
        cnt = end - self.start[:-1]
        total = int(cnt.sum())
        first = np.repeat(self.start[:-1] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
        return np.arange(total) + first


def _integer_costs(problem: LocationProblem) -> bool:
    c = np.concatenate([problem.arc_cost, problem.option_cost()])
    return bool(np.all(np.isfinite(c)) and np.all(np.abs(c - np.round(c)) < 1e-9))


class _Lagrangian:
    """The relaxation of one problem: active-arc search, ``y`` subproblem and the subgradient loop."""

    def __init__(self, problem: LocationProblem, index: ArcIndex | None = None) -> None:
        self.problem = problem
        self.index = index or ArcIndex.of(problem)
        self.act = _ActiveArcs(problem, self.index)
        self.sub = _YSubproblem(problem)
        self.f = problem.option_cost().astype(float)
        self.integral = _integer_costs(problem)

    def prune_level(self, upper_bound: float, gap: float = 0.0) -> float:
        """Bound at or above which no solution better than ``upper_bound`` (by more than ``gap``) exists."""
        if self.integral:  # the optimum is an integer: a bound above UB − 1 proves UB
            return upper_bound - 1.0 + 1e-6 + gap * max(1.0, abs(upper_bound))
        return upper_bound - max(gap, 1e-9) * max(1.0, abs(upper_bound))

    def rounded(self, raw: float) -> float:
        return float(np.ceil(raw - 1e-7)) if self.integral and np.isfinite(raw) else raw

    def run(
        self,
        lam: np.ndarray,
        upper_bound: float,
        *,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        max_iter: int = 3000,
        time_limit_s: float | None = None,
        patience: int = 20,
        theta: float = 2.0,
        stop_at: float | None = None,
    ) -> LagrangianResult:
        """Subgradient optimisation from ``lam``; see :func:`lagrangian_bound`."""
        p = self.problem
        n, m = p.n_clients, p.n_options
        lam = np.asarray(lam, float).copy()
        stop_at = self.prune_level(upper_bound) if stop_at is None else stop_at
        best = LagrangianResult(-np.inf, -np.inf, lam.copy(), np.zeros(m), self.f.copy(), np.zeros(m), 0)
        since = 0
        t0 = time.perf_counter()
        it = 0
        act = self.act
        solve_y = self.sub.prepare(forced_open, forced_closed)
        y_mean = np.zeros(m)  # smoothed relaxed open sets: a primal estimate, as in the volume algorithm
        for it in range(1, max_iter + 1):
            pos = act.below(lam)
            red = np.minimum(act.cost[pos] - lam[act.client[pos]], 0.0)
            rho = self.f + np.bincount(act.option[pos], weights=red, minlength=m)
            value, y, flip = solve_y(rho, False)
            if not np.isfinite(value):  # no feasible y at this node
                best = LagrangianResult(np.inf, np.inf, lam.copy(), y, rho, flip, it)
                break
            bound = float(lam.sum() + value)
            y_mean = y.astype(float) if it == 1 else (1 - VOLUME_ALPHA) * y_mean + VOLUME_ALPHA * y
            served = np.bincount(act.client[pos], weights=y[act.option[pos]] * (red < 0), minlength=n)
            g = 1.0 - served  # subgradient: 1 − (number of open options the client would be served by)
            if bound > best.raw_bound + 1e-12 * max(1.0, abs(bound)):
                best = LagrangianResult(bound, bound, lam.copy(), y.copy(), rho, flip, it, feasible=bool(np.all(g == 0)))
                since = 0
            else:
                since += 1
                if since >= patience:
                    theta, since = theta / 2.0, 0
            if best.raw_bound >= stop_at or theta < 1e-4:
                break
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                break
            norm = float(g @ g)
            if norm < 1e-12:  # the relaxed solution serves every client once: optimal for this node
                break
            lam += theta * max(upper_bound - bound, 1e-9 * max(1.0, abs(bound))) / norm * g
        best.iterations = it
        best.y_mean = y_mean
        best.bound = self.rounded(best.raw_bound)
        if np.isfinite(best.raw_bound):
            best.flip_cost = solve_y(best.rho, True)[2]
        return best


def lagrangian_bound(
    problem: LocationProblem,
    upper_bound: float,
    *,
    multipliers: np.ndarray | None = None,
    index: ArcIndex | None = None,
    max_iter: int = 3000,
    time_limit_s: float | None = None,
    patience: int = 20,
) -> LagrangianResult:
    """Subgradient optimisation of the Lagrangian bound of an uncapacitated problem (see module docstring).

    Parameters
    ----------
    problem
        An uncapacitated problem (capacities are ignored: the bound is then a relaxation's, still valid).
    upper_bound
        Objective of the incumbent, in cost units (Polyak step target; stops when the bound reaches it).
    multipliers
        Starting ``λ`` (default: each client's cheapest arc cost).
    max_iter, time_limit_s, patience
        Stop after ``max_iter`` iterations or ``time_limit_s`` seconds; the step factor halves after
        ``patience`` iterations without improvement and the search stops when it falls below 1e-4.

    Returns
    -------
    LagrangianResult
        The best bound (a valid lower bound on the optimum) and the data to fix variables with.
    """
    lag = _Lagrangian(problem, index)
    if multipliers is None:
        multipliers = np.full(problem.n_clients, np.inf)
        np.minimum.at(multipliers, problem.arc_client, problem.arc_cost)
        multipliers = np.where(np.isfinite(multipliers), multipliers, 0.0)
    return lag.run(multipliers, upper_bound, max_iter=max_iter, time_limit_s=time_limit_s, patience=patience)


@dataclass
class BranchResult:
    """Outcome of :func:`lagrangian_branch_and_bound`.

    Attributes
    ----------
    incumbent
        Best ``(open_options, arc_share)`` found (the one given, unless improved).
    upper_bound
        Its objective.
    bound
        Valid lower bound: the upper bound when the search finished, else the smallest bound of an open node.
    finished
        Whether the tree was fully explored (then the incumbent is optimal).
    nodes
        Nodes evaluated.
    """

    incumbent: tuple[np.ndarray, np.ndarray]
    upper_bound: float
    bound: float
    finished: bool
    nodes: int


def lagrangian_branch_and_bound(
    problem: LocationProblem,
    incumbent: tuple[np.ndarray, np.ndarray],
    multipliers: np.ndarray,
    *,
    forced_open: np.ndarray | None = None,
    forced_closed: np.ndarray | None = None,
    index: ArcIndex | None = None,
    gap: float = 0.0,
    node_iter: int = 120,
    max_nodes: int = 20_000,
    time_limit_s: float | None = None,
    branching: str = "flip",
) -> BranchResult:
    """Depth-first branch and bound on the open-variables with a Lagrangian bound at every node.

    Each node fixes some options open or closed, re-optimises ``λ`` from its parent's (at most ``node_iter``
    subgradient steps), prunes when the bound reaches the incumbent, fixes further options by their flip cost,
    tries the relaxed open set as a solution and otherwise branches on the option of the relaxed solution with
    the largest flip cost (the "open" child first). This closes the small LP gaps of p-median instances with few
    medians (pmed16, 26, 31, 35, 38 …) in a few dozen nodes, where LP-based branch and bound spends minutes in
    the degenerate root LP.

    Parameters
    ----------
    problem
        Uncapacitated problem (usually already reduced by :func:`reduced_cost_fixing`).
    incumbent
        A feasible ``(open_options, arc_share)`` of ``problem``.
    multipliers
        Root ``λ`` (from :func:`lagrangian_bound`).
    forced_open, forced_closed
        Root fixings.
    gap
        Relative gap at which a node is pruned.
    node_iter, max_nodes, time_limit_s
        Effort per node and limits; when a limit stops the search, ``finished`` is ``False``.

    Returns
    -------
    BranchResult
        Incumbent, bounds and whether the search finished.
    """
    lag = _Lagrangian(problem, index)
    m = problem.n_options
    y_best, x_best = (np.asarray(incumbent[0], dtype=bool), np.asarray(incumbent[1], float))
    ub = solution_cost(problem, y_best, x_best)
    fo0 = np.zeros(m, dtype=bool) if forced_open is None else np.asarray(forced_open, dtype=bool).copy()
    fc0 = np.zeros(m, dtype=bool) if forced_closed is None else np.asarray(forced_closed, dtype=bool).copy()
    stack: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float]] = [(fo0, fc0, multipliers, -np.inf, 2.0)]
    nodes = 0
    t0 = time.perf_counter()
    while stack:
        if nodes >= max_nodes or (time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
            open_bound = min(b for *_, b, _ in stack)
            return BranchResult((y_best, x_best), ub, lag.rounded(min(open_bound, ub)), False, nodes)
        fo, fc, lam, _, theta = stack.pop()
        nodes += 1
        level = lag.prune_level(ub, gap)
        node_limit = None if time_limit_s is None else max(0.0, time_limit_s - (time.perf_counter() - t0))
        res = lag.run(
            lam, ub, forced_open=fo, forced_closed=fc, max_iter=node_iter, patience=max(5, node_iter // 8),
            theta=theta, stop_at=level, time_limit_s=node_limit,
        )  # fmt: skip
        if res.raw_bound >= level:
            continue
        chosen = np.asarray(res.y) > 0.5
        x = assign_nearest(problem, chosen, lag.index)
        if x is not None and _feasible(problem, chosen):
            cost = solution_cost(problem, chosen, x)
            if cost < ub - 1e-9 * max(1.0, abs(ub)):
                y_best, x_best, ub = chosen, x, cost
                level = lag.prune_level(ub, gap)
                if res.raw_bound >= level:
                    continue
        if res.feasible:  # the relaxed solution is feasible: it is this node's optimum (tried above)
            continue
        free = ~fo & ~fc
        over = res.raw_bound + res.flip_cost >= level  # flipping these cannot lead below the incumbent
        fo = fo | (free & chosen & over)
        fc = fc | (free & ~chosen & over)
        free = ~fo & ~fc & ~problem.required_mask()
        if not free.any():
            continue  # every option fixed: the node's only y was tried above
        if branching == "fractional":  # the most fractional primal estimate; its likelier side first
            cand = np.flatnonzero(free)
            j = int(cand[np.argmin(np.abs(res.y_mean[cand] - 0.5))])
            open_first = bool(res.y_mean[j] >= 0.5)
        else:  # the open option of the relaxation whose closing costs most; "open" child first
            cand = np.flatnonzero(chosen & free)
            if len(cand):
                j = int(cand[np.argmax(np.where(np.isfinite(res.flip_cost[cand]), res.flip_cost[cand], -1.0))])
            else:
                cand = np.flatnonzero(free)
                j = int(cand[np.argmin(res.flip_cost[cand])])
            open_first = True
        closed_child, open_child = fc.copy(), fo.copy()
        closed_child[j] = True
        open_child[j] = True
        children = [(fo, closed_child, res.multipliers, res.raw_bound, 0.5), (open_child, fc, res.multipliers, res.raw_bound, 0.5)]
        stack.extend(children if open_first else children[::-1])  # the last pushed is explored first
    return BranchResult((y_best, x_best), ub, ub, True, nodes)


def reduced_cost_fixing(
    problem: LocationProblem, result: LagrangianResult, upper_bound: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Options and arcs that cannot be in a solution better than ``upper_bound`` (Lagrangian test).

    Returns
    -------
    (fix_closed, fix_open, keep_arc)
        Options to fix closed, options to fix open, and a mask of the arcs to keep.
    """
    lam, flip, y = result.multipliers, result.flip_cost, result.y
    tol = FIX_TOL * max(1.0, abs(upper_bound))
    limit = upper_bound + tol
    L = result.raw_bound
    chosen = np.asarray(y) > 1 - 1e-9
    fix_closed = ~chosen & (L + flip > limit)
    fix_open = chosen & (L + flip > limit) & ~problem.required_mask()
    red = problem.arc_cost - lam[problem.arc_client]
    extra = np.where(chosen[problem.arc_option], 0.0, flip[problem.arc_option])
    keep = (L + np.maximum(red, 0.0) + extra <= limit) & ~fix_closed[problem.arc_option]
    return fix_closed, fix_open, keep


def lp_bound(problem: LocationProblem, *, time_limit_s: float | None = None) -> float:
    """LP relaxation bound of the strengthened formulation (:func:`optimizer.highs_backend.build_matrices`)."""
    import highspy

    from optimizer.highs_backend import build_matrices, make_highs

    @dataclass(frozen=True)
    class _Opt:
        time_limit_s: float | None
        mip_gap: float = 0.0
        threads: int | None = None
        log: bool = False

    h = make_highs(build_matrices(problem), _Opt(time_limit_s), relax=True)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("-inf")
    return float(h.getInfo().objective_function_value)


def solve_with_fixing(problem: LocationProblem, options, *, branch: bool = True) -> Solution:  # noqa: ANN001
    """Incumbent → Lagrangian bound → reduced-cost fixing → Lagrangian branch and bound → HiGHS if needed.

    For uncapacitated problems. The heuristic incumbent (:func:`optimizer.heuristics.incumbent_for`) seeds the
    subgradient target; if the bound meets it the incumbent is returned as optimal without a MIP. Otherwise the
    options and arcs that cannot improve on the incumbent are removed, and :func:`lagrangian_branch_and_bound`
    (if ``branch`` and the incumbent opens at most :data:`BRANCH_MAX_OPEN` options) gets half of the remaining
    time to close the gap; what it leaves open goes to HiGHS on the
    strengthened model of the reduced problem, with the incumbent passed in. The returned bound is
    ``max(Lagrangian bound, min(incumbent, MIP bound))``.
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
    timings["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=getattr(options, "warm_start", None), index=index,
                          time_limit_s=deadline.share(0.2))  # fmt: skip
    timings["heuristic"] = time.perf_counter() - t1
    solver = f"HiGHS {_highs_version()} via highspy (Lagrangian fixing)"
    if start is None:  # no incumbent: plain strengthened solve
        from optimizer.highs_backend import solve_strong

        return solve_strong(problem, options)
    y0, x0 = start
    ub = solution_cost(problem, y0, x0)
    t2 = time.perf_counter()
    d1, _, _, _ = index.nearest_two(y0)
    lr = lagrangian_bound(problem, ub, multipliers=d1, index=index, time_limit_s=deadline.share(0.3))
    # the Lagrangian open set is often a better start for the local search
    y_lr = np.asarray(lr.y) > 0.5
    if not deadline.expired() and (problem.counts.matrix.shape[0] == 0 or _feasible(problem, y_lr)):
        y1 = local_search(problem, y_lr, index, time_limit_s=deadline.share(0.2))
        x1 = assign_nearest(problem, y1, index)
        if x1 is not None and _feasible(problem, y1) and solution_cost(problem, y1, x1) < ub - 1e-9 * max(1.0, abs(ub)):
            y0, x0, ub = y1, x1, solution_cost(problem, y1, x1)
    timings["bound"] = time.perf_counter() - t2
    gap_tol = max(options.mip_gap, 1e-6)
    if lr.bound >= ub - gap_tol * max(1.0, abs(ub)):
        timings["solve"] = 0.0
        return finish(problem, "optimal", y0, x0, lr.bound, solver=solver, timings_s=timings, gap_tol=options.mip_gap)
    if deadline.expired(MIN_HIGHS_S):  # no time for fixing, tree or HiGHS: the incumbent and the Lagrangian bound
        timings["solve"] = 0.0
        return finish(problem, "feasible", y0, x0, lr.bound, solver=solver, timings_s=timings,
                      log="time limit after the Lagrangian bound\n", gap_tol=options.mip_gap)  # fmt: skip
    t3 = time.perf_counter()
    fix_closed, fix_open, keep = reduced_cost_fixing(problem, lr, ub)
    keep |= x0 > 0  # the incumbent stays feasible
    kept = np.flatnonzero(keep)
    sub = replace(
        problem,
        arc_client=problem.arc_client[kept],
        arc_option=problem.arc_option[kept],
        arc_cost=problem.arc_cost[kept],
        arc_km=None if problem.arc_km is None else problem.arc_km[kept],
    )
    forced_closed, forced_open = fix_closed & ~y0, fix_open & y0
    timings["build"] += time.perf_counter() - t3
    t4 = time.perf_counter()
    log = f"lagrangian bound {lr.bound:.10g} after {lr.iterations} it; kept {len(kept)}/{problem.n_arcs} arcs, "
    log += f"{int((~fix_closed).sum())}/{problem.n_options} options\n"
    if branch and int(y0.sum()) <= BRANCH_MAX_OPEN:
        # half of the time left, or all of it when the other half would not clearly cover HiGHS' set-up of the
        # reduced model (3 nonzeros per arc; 1.5 × the estimate, so that HiGHS is not skipped after all)
        share = 1.0 if deadline.expired(3 * HIGHS_SETUP_S_PER_NNZ * 3 * len(kept)) else 0.5
        bb = lagrangian_branch_and_bound(
            sub, (y0, x0[kept]), lr.multipliers, forced_open=forced_open, forced_closed=forced_closed,
            gap=options.mip_gap, time_limit_s=deadline.share(share),
        )  # fmt: skip
        y0 = bb.incumbent[0]
        x0 = np.zeros(problem.n_arcs)
        x0[kept] = bb.incumbent[1]
        ub = bb.upper_bound
        log += f"lagrangian branch and bound: {bb.nodes} nodes, {'finished' if bb.finished else 'stopped'}\n"
        if bb.finished:
            timings["bound"] += time.perf_counter() - t4
            timings["solve"] = 0.0
            bound = max(lr.bound, min(bb.bound, ub))
            return finish(problem, "optimal", y0, x0, bound, solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)
        lr = replace(lr, bound=max(lr.bound, bb.bound))
    timings["bound"] += time.perf_counter() - t4
    t5 = time.perf_counter()
    model = build_matrices(sub, strengthen=True) if not deadline.expired(MIN_HIGHS_S) else None
    if model is None or deadline.too_short_for(model):  # the time is up: the incumbent with the Lagrangian bound
        timings["solve"] = time.perf_counter() - t5
        log += "time limit: HiGHS not started\n"
        return finish(problem, "feasible", y0, x0, lr.bound, solver=solver, timings_s=timings, log=log,
                      gap_tol=options.mip_gap)  # fmt: skip
    k = model.n_x
    upper = model.col_upper.copy()
    lower = model.col_lower.copy()
    upper[k + np.flatnonzero(forced_closed)] = 0.0
    lower[k + np.flatnonzero(forced_open)] = 1.0
    model = replace(model, col_upper=upper, col_lower=lower)
    status, y, xs, bound, hlog = run_highs(sub, model, deadline.options(options), incumbent=(y0, x0[kept]))
    timings["solve"] = time.perf_counter() - t5
    log += hlog
    if status in ("optimal", "feasible"):
        x = np.zeros(problem.n_arcs)
        x[kept] = xs
        mip_obj = solution_cost(problem, y > 0.5, x)
        if mip_obj > ub:  # HiGHS stopped on something worse than our incumbent
            y, x = y0, x0
    else:
        y, x = y0, x0
        status = "feasible"
    if np.isfinite(bound) and status == "optimal":
        bound = max(lr.bound, min(bound, ub))
    else:
        bound = max(lr.bound, min(bound, ub)) if np.isfinite(bound) else lr.bound
    return finish(problem, status, y, x, bound, solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)


def _feasible(problem: LocationProblem, y: np.ndarray) -> bool:
    from optimizer.heuristics import _Feasibility

    return _Feasibility(problem).feasible(np.asarray(y, dtype=bool))
