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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.heuristics import ArcIndex, assign_nearest, incumbent_for, local_search, solution_cost
from optimizer.problem import LocationProblem, Solution

FIX_TOL = 1e-9  # relative margin by which a forced bound must exceed the incumbent before fixing


@dataclass
class LagrangianResult:
    """Outcome of :func:`lagrangian_bound`.

    Attributes
    ----------
    bound
        Best valid lower bound found (rounded up to an integer when all costs are integers).
    multipliers
        The ``λ`` (one per client) that gave it.
    y
        The Lagrangian open mask at those multipliers (may be fractional in the LP case).
    iterations
        Subgradient iterations done.
    """

    bound: float
    raw_bound: float
    multipliers: np.ndarray
    y: np.ndarray
    rho: np.ndarray
    flip_cost: np.ndarray
    iterations: int


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
            lower = np.concatenate([problem.counts.lower, np.zeros(int(lone.sum()))])
            upper = np.concatenate([problem.counts.upper, np.ones(int(lone.sum()))])
            n_req = np.bincount(group[self.required], minlength=self.n_groups)
            self.n_free = np.bincount(group[~self.required], minlength=self.n_groups)
            self.lo = np.maximum(0, np.ceil(np.where(np.isfinite(lower), lower, 0) - n_req - 1e-9)).astype(int)
            self.up = np.minimum(np.floor(np.where(np.isfinite(upper), upper, m) - n_req + 1e-9), self.n_free).astype(int)
            self.infeasible = bool(np.any(self.lo > self.up))
        else:
            self._init_lp()

    def _init_lp(self) -> None:
        import highspy
        import scipy.sparse as sp

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
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(
            m, a.shape[0], int(a.nnz), 1, 1, 0.0, np.zeros(m), self.required.astype(float), np.ones(m), lo, up,
            a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
        )  # fmt: skip
        self.highs = h
        self.infeasible = False

    def solve(self, rho: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, optimal ``y`` and flip cost (bound increase when ``y_j`` is forced to the other value)."""
        if self.closed_form:
            return self._solve_groups(rho)
        return self._solve_lp(rho)

    def _solve_groups(self, rho: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        m = len(rho)
        y = self.required.copy()
        flip = np.full(m, np.inf)
        value = float(rho[self.required].sum())
        free = np.flatnonzero(~self.required)
        g = self.group[free]
        order = np.lexsort((rho[free], g))
        opt, g, v = free[order], g[order], rho[free][order]
        start = np.searchsorted(g, np.arange(self.n_groups + 1))
        q = np.arange(len(opt)) - start[g]  # position inside the group
        csum = np.concatenate([[0.0], np.cumsum(v)])

        def prefix(t: np.ndarray, grp: np.ndarray) -> np.ndarray:  # sum of the first t values of group grp
            return csum[start[grp] + t] - csum[start[grp]]

        neg = np.bincount(g[v < 0], minlength=self.n_groups)
        s, lo, up = self.n_free, self.lo, self.up
        t_star = np.clip(neg, lo, up)
        value += float(prefix(t_star, np.arange(self.n_groups)).sum())
        chosen = q < t_star[g]
        y[opt[chosen]] = True
        base = prefix(t_star[g], g)
        isneg = (v < 0).astype(int)
        # forced out (chosen): best of the others with the same bounds
        t_out = np.clip(neg[g] - isneg, lo[g], np.minimum(up[g], s[g] - 1))
        ok_out = lo[g] <= s[g] - 1
        val_out = prefix(np.minimum(t_out + 1, s[g]), g) - v - base
        # forced in (not chosen): v plus the best of the others with bounds shifted by one
        t_in = np.clip(neg[g] - isneg, np.maximum(lo[g] - 1, 0), np.maximum(np.minimum(up[g] - 1, s[g] - 1), 0))
        ok_in = up[g] >= 1
        val_in = v + prefix(t_in, g) - base
        flip[opt] = np.where(chosen, np.where(ok_out, val_out, np.inf), np.where(ok_in, val_in, np.inf))
        return value, y, np.maximum(flip, 0.0)

    def _solve_lp(self, rho: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        import highspy

        h = self.highs
        m = len(rho)
        h.changeColsCost(m, np.arange(m, dtype=np.int32), rho.astype(float))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return float("inf"), np.zeros(m), np.zeros(m)
        sol = h.getSolution()
        y = np.asarray(sol.col_value)
        rc = np.asarray(sol.col_dual)
        at_lo, at_up = y < 1e-9, y > 1 - 1e-9
        flip = np.where(at_lo, np.maximum(rc, 0.0), np.where(at_up & ~self.required, np.maximum(-rc, 0.0), 0.0))
        flip[self.required] = np.inf
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
    index = index or ArcIndex.of(problem)
    act = _ActiveArcs(problem, index)
    sub = _YSubproblem(problem)
    n, m = problem.n_clients, problem.n_options
    f = problem.option_cost().astype(float)
    if multipliers is None:
        lam = np.full(n, np.inf)
        np.minimum.at(lam, problem.arc_client, problem.arc_cost)
        lam = np.where(np.isfinite(lam), lam, 0.0)
    else:
        lam = np.asarray(multipliers, float).copy()
    integral = _integer_costs(problem)
    # integer data: a bound above UB − 1 proves the incumbent optimal (the optimum is an integer)
    target = upper_bound - 1.0 + 1e-6 if integral else upper_bound - 1e-9 * max(1.0, abs(upper_bound))
    best = LagrangianResult(-np.inf, -np.inf, lam.copy(), np.zeros(m), f.copy(), np.zeros(m), 0)
    theta, since = 2.0, 0
    t0 = time.perf_counter()
    it = 0
    for it in range(1, max_iter + 1):
        pos = act.below(lam)
        red = np.minimum(act.cost[pos] - lam[act.client[pos]], 0.0)
        rho = f + np.bincount(act.option[pos], weights=red, minlength=m)
        value, y, flip = sub.solve(rho)
        bound = float(lam.sum() + value)
        if bound > best.raw_bound + 1e-12 * max(1.0, abs(bound)):
            best = LagrangianResult(bound, bound, lam.copy(), y.copy(), rho, flip, it)
            since = 0
        else:
            since += 1
            if since >= patience:
                theta, since = theta / 2.0, 0
        if best.raw_bound >= target or theta < 1e-4:
            break
        if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
            break
        # subgradient: 1 − (number of open options the client would be served by)
        served = np.bincount(act.client[pos], weights=y[act.option[pos]], minlength=n)
        g = 1.0 - served
        norm = float(g @ g)
        if norm < 1e-12:  # Lagrangian solution is feasible: it is optimal for the relaxation
            break
        lam += theta * max(upper_bound - bound, 1e-9 * max(1.0, abs(bound))) / norm * g
    best.iterations = it
    best.bound = float(np.ceil(best.raw_bound - 1e-7)) if integral and np.isfinite(best.raw_bound) else best.raw_bound
    return best


def reduced_cost_fixing(
    problem: LocationProblem, result: LagrangianResult, upper_bound: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Options and arcs that cannot be in a solution better than ``upper_bound`` (Lagrangian test).

    Returns
    -------
    (fix_closed, fix_open, keep_arc)
        Options to fix closed, options to fix open, and a mask of the arcs to keep.
    """
    lam, rho, flip, y = result.multipliers, result.rho, result.flip_cost, result.y
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


def solve_with_fixing(problem: LocationProblem, options) -> Solution:  # noqa: ANN001 - SolveOptions
    """Incumbent → Lagrangian bound → reduced-cost fixing → HiGHS on what is left (uncapacitated problems).

    The heuristic incumbent (:func:`optimizer.heuristics.incumbent_for`) seeds the subgradient target; if the
    bound meets it the incumbent is returned as optimal without a MIP. Otherwise the options and arcs that
    cannot improve on the incumbent are removed and the strengthened model of what remains is solved with the
    incumbent passed to HiGHS. The returned bound is ``max(Lagrangian bound, min(incumbent, MIP bound))``.
    """
    from optimizer.highs_backend import _highs_version, _remaining, build_matrices, finish, run_highs

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    index = ArcIndex.of(problem)
    timings["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=getattr(options, "warm_start", None), index=index)
    timings["heuristic"] = time.perf_counter() - t1
    solver = f"HiGHS {_highs_version()} via highspy (Lagrangian fixing)"
    if start is None:  # no incumbent: plain strengthened solve
        from optimizer.highs_backend import solve_strong

        return solve_strong(problem, options)
    y0, x0 = start
    ub = solution_cost(problem, y0, x0)
    t2 = time.perf_counter()
    d1, _, _, _ = index.nearest_two(y0)
    budget = None if options.time_limit_s is None else 0.3 * float(options.time_limit_s)
    lr = lagrangian_bound(problem, ub, multipliers=d1, index=index, time_limit_s=budget)
    # the Lagrangian open set is often a better start for the local search
    y_lr = np.asarray(lr.y) > 0.5
    if problem.counts.matrix.shape[0] == 0 or _feasible(problem, y_lr):
        y1 = local_search(problem, y_lr, index)
        x1 = assign_nearest(problem, y1, index)
        if x1 is not None and _feasible(problem, y1) and solution_cost(problem, y1, x1) < ub - 1e-9 * max(1.0, abs(ub)):
            y0, x0, ub = y1, x1, solution_cost(problem, y1, x1)
    timings["bound"] = time.perf_counter() - t2
    gap_tol = max(options.mip_gap, 1e-6)
    if lr.bound >= ub - gap_tol * max(1.0, abs(ub)):
        timings["solve"] = 0.0
        return finish(problem, "optimal", y0, x0, lr.bound, solver=solver, timings_s=timings, gap_tol=options.mip_gap)
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
    model = build_matrices(sub, strengthen=True)
    k = model.n_x
    upper = model.col_upper.copy()
    lower = model.col_lower.copy()
    upper[k + np.flatnonzero(fix_closed & ~y0)] = 0.0
    lower[k + np.flatnonzero(fix_open & y0)] = 1.0
    model = replace(model, col_upper=upper, col_lower=lower)
    timings["build"] += time.perf_counter() - t3
    t4 = time.perf_counter()
    remaining = _remaining(options, time.perf_counter() - t0)
    status, y, xs, bound, log = run_highs(sub, model, remaining, incumbent=(y0, x0[kept]))
    timings["solve"] = time.perf_counter() - t4
    log = f"lagrangian bound {lr.bound:.6g} after {lr.iterations} it; kept {len(kept)}/{problem.n_arcs} arcs, " + (
        f"{int((~fix_closed).sum())}/{problem.n_options} options\n" + log
    )
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
