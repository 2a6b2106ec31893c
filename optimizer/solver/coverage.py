"""Solve the coverage models of :mod:`optimizer.model.coverage` with HiGHS, whole arrays in, one adapter call each.

:func:`solve_coverage` is the one entry point: LSCP, MCLP and p-median with a maximum service distance are one MIP
each; p-center is a bisection over the sorted distinct arc distances with a set-cover (or, with capacities, an
assignment) feasibility MIP per step (Minieka 1970; the model module says why not the assignment formulation).
Every MIP goes through the HiGHS adapter (:func:`optimizer.solver.highs.run_highs`); all steps share one
:class:`~optimizer.solver.options.Deadline`; the objective is recomputed from the cleaned open set (and
assignment), never taken from the solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace

import numpy as np

from optimizer.model.coverage import (
    CoverageArrays,
    CoverageSpec,
    arc_distance,
    build_assignment,
    build_cover_feasibility,
    build_lscp,
    build_mclp,
    clients_to_cover,
    coverage_matrix,
    distinct_distances,
    nearest_open,
    uncoverable_clients,
)
from optimizer.problem import LocationProblem, Solution, Status
from optimizer.settings import solver_threads
from optimizer.solver.highs import MatrixModel, highs_version, run_highs
from optimizer.solver.options import Deadline, SolveOptions

X_EPS = 1e-6  # assignment values below this are solver noise


@dataclass
class CoverageSolution:
    """A solved coverage model: open options, who serves whom, the objective and how it was obtained.

    Attributes
    ----------
    model
        ``lscp``, ``mclp``, ``pcenter`` or ``pmedian_max``.
    open_options
        Boolean mask over the problem's options.
    assigned_option
        Per client, the option that serves it (nearest open one; for capacitated p-center and p-median the
        solver's assignment); ``-1`` when none can.
    assigned_distance
        Distance to ``assigned_option`` in the unit of :func:`~optimizer.model.coverage.arc_distance` (``inf``
        when none).
    covered
        Per client, whether an open option lies within the service distance (p-center: whether it is served).
    arc_share
        Share of each problem arc in the solution's assignment: share 1 on the arc to the serving option (the
        nearest open one for LSCP, MCLP and uncapacitated p-center); a client no open option can reach has none.
    objective
        LSCP: facilities (or opening cost); MCLP: covered demand (maximised); p-center: largest distance;
        p-median: cost.
    bound
        Proven bound on the optimum (lower for minimisation, upper for MCLP).
    status
        A :class:`~optimizer.problem.Status`.
    """

    model: str
    open_options: np.ndarray
    assigned_option: np.ndarray
    assigned_distance: np.ndarray
    covered: np.ndarray
    arc_share: np.ndarray
    objective: float
    bound: float
    status: Status
    sense: str = "min"
    solver: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    log: str = ""
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return Status(self.status).has_solution

    @property
    def gap(self) -> float:
        """Relative gap between objective and bound (0 when optimal), whichever way the model optimises."""
        if not (np.isfinite(self.objective) and np.isfinite(self.bound)):
            return float("inf")
        diff = self.objective - self.bound if self.sense == "min" else self.bound - self.objective
        return max(0.0, diff / max(abs(self.objective), 1e-9))

    @property
    def n_open(self) -> int:
        return int(np.count_nonzero(self.open_options))

    def to_solution(self) -> Solution:
        """The generic :class:`~optimizer.problem.Solution` (open options and arc shares) for the result tables.

        Its objective and bound are the coverage model's (in :attr:`CoverageSpec.objective_unit`), not the
        p-median cost of the assignment.
        """
        return Solution(open_options=self.open_options.copy(), arc_share=self.arc_share.copy(),
                        objective=self.objective, bound=self.bound, status=Status(self.status), solver=self.solver,
                        timings_s=dict(self.timings_s), log=self.log)


def _matrix_model(arrays: CoverageArrays) -> MatrixModel:
    return MatrixModel(**{f.name: getattr(arrays, f.name) for f in fields(MatrixModel)})


def _run(problem: LocationProblem, arrays: CoverageArrays, options: SolveOptions,
         ) -> tuple[Status, np.ndarray, np.ndarray, float, str]:
    """One MIP through the adapter: ``(status, y, x, bound, log)``, the bound in the minimised scale."""
    status, y, x, bound, log = run_highs(problem, _matrix_model(arrays), options)
    if status == Status.OPTIMAL and not np.isfinite(bound):  # presolve solved it outright: bound = its value
        bound = float(arrays.col_cost @ np.concatenate([x, y]))
    return status, y, x, bound, log


def solve_coverage(problem: LocationProblem, spec: CoverageSpec, options: SolveOptions | None = None) -> CoverageSolution:
    """Solve ``problem`` as the coverage model ``spec`` with HiGHS.

    Parameters
    ----------
    problem
        The array problem (clients, options, arcs with ``arc_km`` or costs, count rows, land, required options).
    spec
        Model and parameters; ``spec.service_km`` in the unit of ``arc_km`` (km) or of ``arc_cost``.
    options
        Time limit (seconds, for all bisection steps of p-center together), relative MIP gap, threads, log.

    Returns
    -------
    CoverageSolution
        Objective recomputed from the open set (and assignment), bound proven by HiGHS or by the bisection; status
        ``infeasible`` (with a ``message`` naming up to three clients out of reach) or ``no_solution`` when there is
        none. Unverified: see :func:`optimizer.check.verify_coverage.verify_coverage`.
    """
    spec.check()
    problem.check_shapes()
    options = options or SolveOptions()
    if options.threads is None and solver_threads() is not None:
        options = replace(options, threads=solver_threads())
    t0 = time.perf_counter()
    deadline = Deadline.after(options.time_limit_s)
    if spec.model in ("lscp", "pmedian_max"):
        missing = uncoverable_clients(problem, spec)
        if missing.size:
            ids = ", ".join(str(problem.client_ids[i]) for i in missing[:3])
            more = f" (+{missing.size - 3} more)" if missing.size > 3 else ""
            msg = f"{missing.size} client(s) have no option within {spec.service_km:g}: {ids}{more}"
            return _empty(problem, spec, Status.INFEASIBLE, msg, {"build": time.perf_counter() - t0})
    if spec.model == "pcenter":
        return _solve_pcenter(problem, spec, deadline, options, t0)
    if spec.model == "lscp":
        arrays = build_lscp(problem, spec)
    elif spec.model == "mclp":
        arrays = build_mclp(problem, spec)
    else:
        arrays = build_assignment(problem, spec, float(spec.service_km), costs=True)
    t_build = time.perf_counter() - t0
    status, y, x, bound, log = _run(problem, arrays, deadline.options(options))
    timings = {"build": t_build, "solve": time.perf_counter() - t0 - t_build}
    if not status.has_solution:
        return _empty(problem, spec, status, "", timings, log=log)
    share = _shares(problem, arrays, y, x) if arrays.arcs is not None else None
    return _finish(problem, spec, y > 0.5, share, arrays.objective_scale * bound, status, timings, log,
                   options.mip_gap)


def _solve_pcenter(problem: LocationProblem, spec: CoverageSpec, deadline: Deadline, options: SolveOptions,
                   t0: float) -> CoverageSolution:
    """Bisection over the sorted distinct distances; each step is a feasibility MIP at one radius."""
    values = distinct_distances(problem, spec)
    capacitated = bool(np.isfinite(problem.capacity).any())
    timings = {"build": time.perf_counter() - t0, "solve": 0.0}
    steps: list[str] = []
    if values.size == 0:
        return _empty(problem, spec, Status.INFEASIBLE, "no client has an arc to any option", timings)
    feasibility = replace(options, mip_gap=1.0)  # any feasible point answers the question

    def feasible(radius: float) -> tuple[Status, np.ndarray | None, np.ndarray | None]:
        tb = time.perf_counter()
        if capacitated:
            arrays = build_assignment(problem, spec, radius, costs=False)
        else:
            arrays = build_cover_feasibility(problem, spec, radius)
        ts = time.perf_counter()
        timings["build"] += ts - tb
        status, y, x, _, _ = _run(problem, arrays, deadline.options(feasibility))
        timings["solve"] += time.perf_counter() - ts
        steps.append(f"radius {radius:.10g}: {status}")
        if not status.has_solution:
            return status, None, None
        return Status.FEASIBLE, y > 0.5, (_shares(problem, arrays, y, x) if capacitated else None)

    def reached(y: np.ndarray, share: np.ndarray | None) -> float:
        if share is None:
            _, _, dist = nearest_open(problem, y)
            return float(dist[clients_to_cover(problem, spec)].max(initial=0.0))
        return float(arc_distance(problem)[share > X_EPS].max(initial=0.0))

    state, y, share = feasible(float(values[-1]))
    if state == Status.INFEASIBLE:
        return _empty(problem, spec, state, "no open set satisfies the rows at the largest distance", timings)
    if y is None:
        return _empty(problem, spec, state, "time limit before a first solution", timings)
    best = (y, share)
    lo, hi = 0, int(np.searchsorted(values, reached(y, share)))
    timed_out = False
    while lo < hi:
        mid = (lo + hi) // 2
        state, y, share = feasible(float(values[mid]))
        if state == Status.FEASIBLE:
            best = (y, share)
            hi = min(mid, int(np.searchsorted(values, reached(y, share))))
        elif state == Status.INFEASIBLE:
            lo = mid + 1
        else:
            timed_out = True
            break
    y, share = best
    status = Status.FEASIBLE if timed_out else Status.OPTIMAL
    return _finish(problem, spec, y, share, float(values[lo]), status, timings, "\n".join(steps), 0.0)


def _shares(problem: LocationProblem, arrays: CoverageArrays, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Problem-arc shares from the x columns: cleaned of noise and closed options, rounded when single source."""
    share = np.zeros(problem.n_arcs)
    x = np.clip(np.asarray(x, float), 0.0, 1.0)
    x[~(y > 0.5)[problem.arc_option[arrays.arcs]]] = 0.0
    x[x < X_EPS] = 0.0
    if problem.single_source:
        x = (x > 0.5).astype(float)
    np.add.at(share, arrays.arcs, x)
    served = np.bincount(problem.arc_client, weights=share, minlength=problem.n_clients)
    scale = np.where(served > 0, 1.0 / np.where(served > 0, served, 1.0), 0.0)
    return share * scale[problem.arc_client]


def nearest_shares(problem: LocationProblem, open_options: np.ndarray) -> np.ndarray:
    """Share 1 on each client's arc to its nearest open option (ties: the first arc); none where no open option
    can serve it."""
    arc, _, _ = nearest_open(problem, open_options)
    share = np.zeros(problem.n_arcs)
    share[arc[arc >= 0]] = 1.0
    return share


def _finish(problem: LocationProblem, spec: CoverageSpec, y: np.ndarray, share: np.ndarray | None, bound: float,
            status: Status, timings: dict[str, float], log: str, mip_gap: float) -> CoverageSolution:
    """Recompute the objective from ``y`` (and the assignment) and settle status and bound."""
    d = arc_distance(problem)
    if share is None:
        share = nearest_shares(problem, y)
    order = np.lexsort((-share, problem.arc_client))  # per client, largest share first
    first = np.ones(len(order), dtype=bool)
    first[1:] = problem.arc_client[order[1:]] != problem.arc_client[order[:-1]]
    top = order[first & (share[order] > 0)]
    assigned = np.full(problem.n_clients, -1)
    dist = np.full(problem.n_clients, np.inf)
    assigned[problem.arc_client[top]] = problem.arc_option[top]
    dist[problem.arc_client[top]] = d[top]
    if spec.model == "pcenter":
        used = share > X_EPS
        far = np.zeros(problem.n_clients)
        np.maximum.at(far, problem.arc_client[used], d[used])
        objective = float(far[clients_to_cover(problem, spec)].max(initial=0.0))
        covered = np.bincount(problem.arc_client[used], minlength=problem.n_clients) > 0
    else:
        covered = np.asarray(coverage_matrix(problem, float(spec.service_km)) @ y.astype(float)).ravel() > 0
        if spec.model == "lscp":
            objective = float(y.sum()) if spec.lscp_objective == "count" else float(problem.option_cost() @ y)
        elif spec.model == "mclp":
            objective = float(np.asarray(problem.demand, float)[covered].sum())
        else:
            objective = float(np.dot(problem.arc_cost, share) + problem.option_cost() @ y)
    tol = max(mip_gap, 1e-9) * max(1.0, abs(objective)) + 1e-9
    if spec.sense == "min":
        bound = min(bound, objective) if np.isfinite(bound) else bound
        closed = np.isfinite(bound) and objective - bound <= tol
    else:
        bound = max(bound, objective) if np.isfinite(bound) else bound
        closed = np.isfinite(bound) and bound - objective <= tol
    status = Status.OPTIMAL if status == Status.OPTIMAL and closed else Status.FEASIBLE
    return CoverageSolution(
        model=spec.model, open_options=np.asarray(y, bool), assigned_option=assigned, assigned_distance=dist,
        covered=covered, arc_share=share, objective=objective, bound=bound, status=status, sense=spec.sense,
        solver=f"HiGHS {highs_version()} via highspy ({spec.model})", timings_s=timings, log=log,
    )


def _empty(problem: LocationProblem, spec: CoverageSpec, status: Status, message: str, timings: dict[str, float],
           log: str = "") -> CoverageSolution:
    bad = float("inf") if status == Status.INFEASIBLE else float("nan")
    return CoverageSolution(
        model=spec.model, open_options=np.zeros(problem.n_options, bool),
        assigned_option=np.full(problem.n_clients, -1), assigned_distance=np.full(problem.n_clients, np.inf),
        covered=np.zeros(problem.n_clients, bool), arc_share=np.zeros(problem.n_arcs), objective=float("nan"),
        bound=bad if spec.sense == "min" else -bad, status=Status(status), sense=spec.sense,
        solver=f"HiGHS {highs_version()} via highspy ({spec.model})", timings_s=timings, log=log, message=message,
    )
