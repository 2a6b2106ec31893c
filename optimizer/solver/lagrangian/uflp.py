"""Lower bounds for uncapacitated location problems: Lagrangian relaxation, LP bound, reduced-cost fixing.

Lagrangian relaxation of the assignment rows ``Σ_{a∈A(i)} x_a = 1`` with multipliers ``λ_i`` (cost units per
client)::

    L(λ) = Σ_i λ_i + min { Σ_j ρ_j y_j : y satisfies counts, land, required },
    ρ_j  = f_j + Σ_{a∈A(j)} min(0, c_a − λ_{i(a)})

is a valid lower bound for every ``λ`` (p-median, UFLP and their variants with count rows, land and required
options). The ``y`` subproblem is solved in closed form when every option lies in at most one count row and
land cannot bind (the common cases: "exactly p", "at most one per region", none), otherwise as an LP with HiGHS.
``λ`` is improved by the subgradient search of :mod:`optimizer.solver.lagrangian.common`; only arcs with
``c_a < λ_i`` enter ``ρ`` (:class:`~optimizer.solver.lagrangian.common.ActiveArcs`).

Reduced-cost fixing: ``L(λ | y_j flipped)`` and ``L(λ | x_a = 1)`` are cheap to evaluate; an option or arc whose
forced use lifts the bound above the incumbent cannot be in a better solution and is removed before the MIP
(the classical variable reduction for the p-median of Beasley 1993 and Avella, Sassano & Vasil'ev 2007).

Lagrangian branch and bound (:func:`optimizer.solver.uncapacitated_tree.branch_and_bound`, built on
:class:`UflLagrangian`): when a gap remains and few options are open, a tree over the open-variables with this
bound at every node closes it; on the OR-Library p-median instances with few medians (LP gaps up to 1 %) this is
far faster than LP-based branching on the extensive model, whose degenerate root LP dominates. With integer costs
the bound is rounded up (the optimum is an integer).
"""

from __future__ import annotations

import highspy
import numpy as np

from optimizer.model.rows import count_bounds, land_can_bind, land_rows
from optimizer.problem import LocationProblem, Status
from optimizer.solver.assign import ArcIndex
from optimizer.solver.highs import make_highs, new_highs, pass_arrays, run_lp
from optimizer.solver.lagrangian.common import (
    FIX_TOL,
    ActiveArcs,
    LagrangianBound,
    SubgradientSearch,
    cheapest_arc_multipliers,
    smoothed,
)
from optimizer.solver.lagrangian.incremental import IncrementalRho
from optimizer.solver.matrices import build_matrices
from optimizer.solver.options import SolveOptions

INCREMENTAL_MIN_ARCS = 200_000  # arcs from which ρ is updated incrementally (optimizer.solver.lagrangian.incremental)


class YSubproblem:
    """``min ρ·y`` over the open-variables with counts, land and required options; plus flip costs."""

    def __init__(self, problem: LocationProblem) -> None:
        self.problem = problem
        m = problem.n_options
        counts = problem.counts
        a = counts.matrix.tocsc() if counts.n_rows else None  # no count rows (most matrix instances): no scipy
        per_option = np.diff(a.indptr) if a is not None else np.zeros(m, dtype=np.int64)
        land_binds = land_can_bind(problem)
        binary = a is None or a.nnz == 0 or bool(np.all(a.data == 1))
        self.required = problem.required_mask()
        self.closed_form = bool(np.all(per_option <= 1) and not land_binds and binary)
        if self.closed_form:
            # group id: the option's count row, or a singleton group after the rows
            group = np.full(m, -1)
            if a is not None:
                group[np.repeat(np.arange(m), per_option)] = a.indices
            n_rows = counts.n_rows
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
        import scipy.sparse as sp

        p = self.problem
        m = p.n_options
        land = land_rows(p)
        a = sp.vstack([p.counts.matrix, land.matrix]).tocsc()
        inf = highspy.kHighsInf
        count_lo, count_up = count_bounds(p, inf)
        lo = np.concatenate([count_lo, np.full(len(land.sites), -inf)])
        up = np.concatenate([count_up, land.free_m2])
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

        single = n_groups == 1  # one count row over every option (p-median): a partial sort is enough
        req_value = (lambda rho: float(rho[req_idx].sum())) if len(req_idx) else (lambda rho: 0.0)

        def solve(rho: np.ndarray, flips: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
            y = required.copy()
            if infeasible:
                return float("inf"), y, np.full(m, np.inf)
            v_free = rho[free]
            if single and not flips:
                t = min(max(int(np.count_nonzero(v_free < 0)), int(lo[0])), int(up[0]))
                if t == 0:
                    return req_value(rho), y, np.zeros(m)
                pick = np.argpartition(v_free, t - 1)[:t] if t < len(v_free) else np.arange(len(v_free))
                y[free[pick]] = True
                return req_value(rho) + float(v_free[pick].sum()), y, np.zeros(m)
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
        h = self.highs
        m = len(rho)
        cols = np.arange(m, dtype=np.int32)
        h.changeColsCost(m, cols, rho.astype(float))
        h.changeColsBounds(m, cols, required.astype(float), np.where(closed, 0.0, 1.0))
        status = run_lp(h)
        if status == Status.INFEASIBLE:  # proven: no open set satisfies the rows with these fixings
            return float("inf"), np.zeros(m), np.zeros(m)
        if status != Status.OPTIMAL:  # nothing proven: the trivial bound (never +inf, which would claim infeasibility)
            return float("-inf"), np.zeros(m), np.zeros(m)
        sol = h.getSolution()
        y = np.asarray(sol.col_value)
        rc = np.asarray(sol.col_dual)
        at_lo, at_up = y < 1e-9, y > 1 - 1e-9
        flip = np.where(at_lo, np.maximum(rc, 0.0), np.where(at_up & ~required, np.maximum(-rc, 0.0), 0.0))
        flip[required | closed] = np.inf
        return float(h.getInfo().objective_function_value), y, flip


def integer_costs(problem: LocationProblem) -> bool:
    """Whether every cost is an integer (then so is the optimum, and bounds may be rounded up)."""
    c = np.concatenate([problem.arc_cost, problem.option_cost()])
    return bool(np.all(np.isfinite(c)) and np.all(np.abs(c - np.round(c)) < 1e-9))


class UflLagrangian:
    """The relaxation of one problem: active-arc search, ``y`` subproblem and the subgradient loop."""

    def __init__(self, problem: LocationProblem, index: ArcIndex | None = None) -> None:
        self.problem = problem
        self.index = index or ArcIndex.of(problem)
        self.act = ActiveArcs(problem, self.index.order)
        self.sub = YSubproblem(problem)
        self.f = problem.option_cost().astype(float)
        self.integral = integer_costs(problem)

    def prune_level(self, upper_bound: float, gap: float = 0.0) -> float:
        """Bound at or above which no solution better than ``upper_bound`` (by more than ``gap``) exists."""
        relative = upper_bound - max(gap, 1e-9) * max(1.0, abs(upper_bound))
        if self.integral:  # the optimum is an integer: a bound above UB − 1 proves UB (or the gap, if lower)
            return min(upper_bound - 1.0 + 1e-6, relative) if gap > 0 else upper_bound - 1.0 + 1e-6
        return relative

    def rounded(self, raw: float) -> float:
        return float(np.ceil(raw - 1e-7)) if self.integral and np.isfinite(raw) else raw

    def incremental(self) -> IncrementalRho | None:
        """The incremental ``ρ`` of this relaxation when it has enough arcs to pay off (built once)."""
        if len(self.act.cost) < INCREMENTAL_MIN_ARCS:
            return None
        inc = getattr(self, "_incremental", None)
        if inc is None:
            inc = self._incremental = IncrementalRho(self.act, self.f)
        return inc

    def step_values(self, lam: np.ndarray, solve_y, inc: IncrementalRho | None):  # noqa: ANN001, ANN201
        """One evaluation at ``λ``: ``(ρ, value, y, served)`` (``served[i]``: open options with ``c_a < λ_i``)."""
        act = self.act
        m, n = len(self.f), len(act.start) - 1
        if inc is not None:
            rho = inc.values(lam)
            value, y, _ = solve_y(rho, False)
            served = inc.served(lam, y) if np.isfinite(value) else np.zeros(n)
            if served is not None:
                return rho, value, y, served
            pos = act.below(lam)
            red = np.minimum(act.cost[pos] - lam[act.client[pos]], 0.0)
        else:
            pos = act.below(lam)
            red = np.minimum(act.cost[pos] - lam[act.client[pos]], 0.0)
            rho = self.f + np.bincount(act.option[pos], weights=red, minlength=m)
            value, y, _ = solve_y(rho, False)
        served = np.bincount(act.client[pos], weights=y[act.option[pos]] * (red < 0), minlength=n)
        return rho, value, y, served

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
    ) -> LagrangianBound:
        """Subgradient optimisation from ``lam``; see :func:`lagrangian_bound`."""
        p = self.problem
        m = p.n_options
        search = SubgradientSearch(lam, theta=theta, patience=patience, time_limit_s=time_limit_s)
        lam = search.lam
        stop_at = self.prune_level(upper_bound) if stop_at is None else stop_at
        best = LagrangianBound(bound=-np.inf, raw_bound=-np.inf, multipliers=lam.copy(), y=np.zeros(m),
                               values=self.f.copy(), flip_cost=np.zeros(m))
        it = 0
        solve_y = self.sub.prepare(forced_open, forced_closed)
        y_mean = np.zeros(m)  # smoothed relaxed open sets: a primal estimate, as in the volume algorithm
        inc = self.incremental()
        for it in range(1, max_iter + 1):
            rho, value, y, served = self.step_values(lam, solve_y, inc)
            if not np.isfinite(value):  # no feasible y at this node
                best = LagrangianBound(bound=np.inf, raw_bound=np.inf, multipliers=lam.copy(), y=y, values=rho,
                                       flip_cost=np.full(m, np.inf), iterations=it)
                break
            bound = float(lam.sum() + value)
            y_mean = smoothed(y_mean, y, it)
            g = 1.0 - served  # subgradient: 1 − (number of open options the client would be served by)
            if search.improves(bound, best.raw_bound):
                best = LagrangianBound(bound=bound, raw_bound=bound, multipliers=lam.copy(), y=y.copy(), values=rho,
                                       flip_cost=np.zeros(m), iterations=it, feasible=bool(np.all(g == 0)))
            if best.raw_bound >= stop_at or search.stalled or search.out_of_time():
                break
            if not search.step(g, upper_bound, bound):  # the relaxed solution serves every client once
                break
        return self.finish(best, it, y_mean, solve_y, inc)

    def finish(self, best: LagrangianBound, iterations: int, y_mean: np.ndarray, solve_y,  # noqa: ANN001
               inc: IncrementalRho | None) -> LagrangianBound:
        """Complete the best point of a subgradient search (this one's or a tree node's): the exact ``ρ`` and
        bound where ``ρ`` was updated incrementally, the rounded bound, and the flip costs, computed once at the
        best ``λ`` rather than at every step."""
        best.iterations = iterations
        best.y_mean = y_mean
        if inc is not None and np.isfinite(best.raw_bound):  # the reported bound from ρ recomputed exactly
            best.values = inc.exact(best.multipliers)
            best.raw_bound = float(best.multipliers.sum() + solve_y(best.values, False)[0])
        best.bound = self.rounded(best.raw_bound)
        if np.isfinite(best.raw_bound):
            best.flip_cost = solve_y(best.values, True)[2]
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
) -> LagrangianBound:
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
    LagrangianBound
        The best bound (a valid lower bound on the optimum) and the data to fix variables with.
    """
    lag = UflLagrangian(problem, index)
    if multipliers is None:
        multipliers = cheapest_arc_multipliers(problem)
    return lag.run(multipliers, upper_bound, max_iter=max_iter, time_limit_s=time_limit_s, patience=patience)


def reduced_cost_fixing(
    problem: LocationProblem, result: LagrangianBound, upper_bound: float
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
    """LP relaxation bound of the strengthened formulation (:func:`optimizer.solver.matrices.build_matrices`)."""
    h = make_highs(build_matrices(problem), SolveOptions(time_limit_s=time_limit_s, mip_gap=0.0), relax=True)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("-inf")
    return float(h.getInfo().objective_function_value)
