"""Independent check of a coverage solution (LSCP, MCLP, p-center, p-median with a service distance).

Written without the model code (:mod:`optimizer.model.coverage` is not imported): distances are read again from the
problem's arcs, coverage is recomputed by looping over the *open* options only, and every row the models impose
(count rows, exactly ``p``, land per site, required options, capacities, single source) is re-checked from the raw
arrays. The reported objective, coverage mask and bound must agree with the recomputed ones; any disagreement is a
violation, never a warning: :meth:`CoverageReport.raise_if_failed` raises the one
:class:`~optimizer.errors.VerificationError` of every verifier.

The spec is read by attribute (``model``, ``service_km``, ``p``, ``lscp_objective``, ``cover_zero_demand``,
``cover``) so that this module does not depend on the model layer's classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.check.verify import VerificationReport
from optimizer.problem import LocationProblem

MODELS = ("lscp", "mclp", "pcenter", "pmedian_max")

ABS_TOL = 1e-6
REL_TOL = 1e-9


@dataclass
class CoverageReport(VerificationReport):
    """What was checked, the recomputed objective, and per client its coverage and distance to the serving facility.

    ``covered`` is recomputed from the open set (nearest open option within the service distance; p-center: served);
    ``client_distance`` is the distance to the nearest open option (assignment models: to the assigned one).
    """

    covered_demand: float = float("nan")
    client_distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    covered: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= ABS_TOL * max(1.0, abs(a), abs(b)) + REL_TOL * max(abs(a), abs(b))


def verify_coverage(problem: LocationProblem, spec: object, solution: object) -> CoverageReport:
    """Check ``solution`` against ``problem`` under ``spec`` and recompute its objective.

    Parameters
    ----------
    problem
        The array problem the solution claims to solve.
    spec
        An object with ``model`` (``lscp``/``mclp``/``pcenter``/``pmedian_max``), ``service_km``, ``p``,
        ``lscp_objective``, ``cover_zero_demand`` and ``cover`` (a :class:`~optimizer.model.coverage.CoverageSpec`).
    solution
        An object with ``open_options`` (bool per option), ``objective``, ``bound``; optionally ``covered`` (bool
        per client, checked when present) and ``arc_share`` (share per arc: checked for assignment models; for the
        others each client's share must sit on an arc to its nearest open option).

    Returns
    -------
    CoverageReport
        ``violations`` empty when the solution is feasible and its figures are right.
    """
    model = str(spec.model)
    y = np.asarray(solution.open_options)
    n, m = problem.n_clients, problem.n_options
    checks: list[str] = []
    violations: list[str] = []
    if y.shape != (m,):
        violations.append(f"open_options has shape {y.shape}, the problem has {m} options")
        return CoverageReport(float("nan"), checks, violations)
    y = y.astype(bool)
    demand = np.asarray(problem.demand, dtype=float)
    dist = np.asarray(problem.arc_km if problem.arc_km is not None else problem.arc_cost, dtype=float)
    service = spec.service_km
    must = np.ones(n, bool) if spec.cover_zero_demand else demand > 0
    if getattr(spec, "cover", "all") == "reachable" and service is not None:
        checks.append("clients beyond reach of every candidate left out (cover = reachable)")
        reach = np.full(n, np.inf)
        np.minimum.at(reach, problem.arc_client, dist)
        must &= reach <= service
    open_idx = np.flatnonzero(y)

    # --- rows over the open set -----------------------------------------------------------------------------
    checks.append("count rows")
    counted = problem.counts.dot(y)
    for r in np.flatnonzero((counted < problem.counts.lower - 1e-9) | (counted > problem.counts.upper + 1e-9))[:3]:
        violations.append(f"{problem.counts.names[r]}: {counted[r]:.0f} open, allowed "
                          f"{problem.counts.lower[r]:g}..{problem.counts.upper[r]:g}")
    if spec.p is not None:
        checks.append("exactly p open")
        if len(open_idx) != int(spec.p):
            violations.append(f"{len(open_idx)} facilities open, p = {int(spec.p)}")
    checks.append("land per site")
    used_m2: dict[int, float] = {}
    for j in open_idx:
        s = int(problem.option_site[j])
        used_m2[s] = used_m2.get(s, 0.0) + float(problem.area_m2[j])
    for s, used in used_m2.items():
        if used > float(problem.site_free_m2[s]) + 1e-6:
            violations.append(f"site {problem.site_ids[s]} uses {used:.0f} m² of {problem.site_free_m2[s]:.0f} m² free")
    checks.append("required options open")
    for j in np.flatnonzero(problem.required_mask() & ~y)[:3]:
        violations.append(f"required option {problem.option_ids[j]} is not open")

    # --- nearest open option per client, one open option at a time ----------------------------------------------
    nearest = np.full(n, np.inf)
    for j in open_idx:
        arcs_j = np.flatnonzero(problem.arc_option == j)
        np.minimum.at(nearest, problem.arc_client[arcs_j], dist[arcs_j])
    recomputed_cover = nearest <= (service if service is not None else np.inf)
    client_distance = nearest.copy()

    share = getattr(solution, "arc_share", None)
    assignment = model == "pmedian_max" or (model == "pcenter" and bool(np.isfinite(problem.capacity).any()))
    if assignment:
        if share is None or np.shape(share) != (problem.n_arcs,):
            violations.append("an assignment model needs arc_share for every arc")
            return CoverageReport(float("nan"), checks, violations)
        client_distance = _check_assignment(problem, spec, np.asarray(share, float), y, dist, must, checks, violations)
    elif share is not None:
        _check_nearest(problem, np.asarray(share, float), y, dist, nearest, checks, violations)
    if model == "pcenter":
        recomputed_cover = np.isfinite(client_distance)
    covered_demand = float(demand[recomputed_cover].sum())

    reported_cover = getattr(solution, "covered", None)
    if reported_cover is not None and model in MODELS:
        checks.append("reported coverage matches the recomputed one")
        reported_cover = np.asarray(reported_cover, bool)
        for i in np.flatnonzero(reported_cover != recomputed_cover)[:3]:
            violations.append(
                f"client {problem.client_ids[i]} reported {'covered' if reported_cover[i] else 'uncovered'}, "
                f"nearest open option is {nearest[i]:.6g} away (service distance "
                f"{'none' if service is None else f'{service:g}'})"
            )

    # --- objective per model --------------------------------------------------------------------------------
    opening = sum(float(problem.fixed_cost[j]) + problem.land_cost_per_m2 * float(problem.area_m2[j])
                  for j in open_idx)
    if model == "lscp":
        checks.append("every client to cover within the service distance of an open option")
        for i in np.flatnonzero(must & ~recomputed_cover)[:3]:
            violations.append(f"client {problem.client_ids[i]} is not covered: nearest open option "
                              f"{nearest[i]:.6g} away, service distance {service:g}")
        objective = float(len(open_idx)) if spec.lscp_objective == "count" else opening
    elif model == "mclp":
        objective = covered_demand
    elif model == "pcenter":
        checks.append("every client reaches an open option")
        for i in np.flatnonzero(must & ~np.isfinite(client_distance))[:3]:
            violations.append(f"client {problem.client_ids[i]} has no open option it can be served from")
        objective = float(client_distance[must].max(initial=0.0))
    elif model == "pmedian_max":
        x = np.asarray(share, float)
        objective = sum(float(problem.arc_cost[a]) * float(x[a]) for a in np.flatnonzero(x > ABS_TOL)) + opening
    else:
        violations.append(f"unknown coverage model {model!r}")
        return CoverageReport(float("nan"), checks, violations)

    checks.append("objective recomputed")
    reported = float(solution.objective)
    if not _same(objective, reported):
        violations.append(f"{model} objective {reported:.10g} differs from recomputed {objective:.10g}")
    bound = float(getattr(solution, "bound", np.nan))
    if np.isfinite(bound):
        checks.append("bound on the right side of the objective")
        slack = ABS_TOL * max(1.0, abs(objective))
        if (bound < objective - slack) if model == "mclp" else (bound > objective + slack):
            violations.append(f"proven bound {bound:.10g} lies beyond the objective {objective:.10g}")
    return CoverageReport(objective, checks, violations, covered_demand, client_distance, recomputed_cover)


def _check_nearest(problem: LocationProblem, x: np.ndarray, y: np.ndarray, dist: np.ndarray, nearest: np.ndarray,
                   checks: list[str], violations: list[str]) -> None:
    """Shares of a model without an assignment (LSCP, MCLP, uncapacitated p-center): each client that an open option
    can reach sends share 1 along one arc to an open option at its nearest open distance; the others send none."""
    checks.append("each client allocated to its nearest open option")
    if x.shape != (problem.n_arcs,):
        violations.append("arc_share does not match the problem's arcs")
        return
    used = np.flatnonzero(x > ABS_TOL)
    served = np.zeros(problem.n_clients)
    for a in used:
        i, j = int(problem.arc_client[a]), int(problem.arc_option[a])
        served[i] += x[a]
        if not y[j]:
            violations.append(f"client {problem.client_ids[i]} is allocated to closed option {problem.option_ids[j]}")
        elif dist[a] > nearest[i] + ABS_TOL * max(1.0, nearest[i]):
            violations.append(f"client {problem.client_ids[i]} is allocated {dist[a]:.6g} away, its nearest open "
                              f"option is {nearest[i]:.6g} away")
    want = np.isfinite(nearest).astype(float)
    for i in np.flatnonzero(np.abs(served - want) > 1e-6)[:3]:
        violations.append(f"client {problem.client_ids[i]} is allocated {served[i]:.6f} times (must be {want[i]:g})")


def _check_assignment(
    problem: LocationProblem,
    spec: object,
    x: np.ndarray,
    y: np.ndarray,
    dist: np.ndarray,
    must: np.ndarray,
    checks: list[str],
    violations: list[str],
) -> np.ndarray:
    """Shares: bounds, single source, every client served once from open options within the service distance,
    capacities. Returns each client's largest distance over the arcs it uses."""
    n = problem.n_clients
    checks.append("assignment shares")
    if np.any(x < -ABS_TOL) or np.any(x > 1 + ABS_TOL):
        violations.append("an assignment share lies outside [0, 1]")
    used = np.flatnonzero(x > ABS_TOL)
    if problem.single_source:
        frac = used[x[used] < 1 - ABS_TOL]
        for a in frac[:3]:
            violations.append(f"client {problem.client_ids[problem.arc_client[a]]} is split over facilities")
    served = np.zeros(n)
    far = np.full(n, -np.inf)
    for a in used:
        i = int(problem.arc_client[a])
        served[i] += x[a]
        far[i] = max(far[i], dist[a])
        j = int(problem.arc_option[a])
        if not y[j]:
            violations.append(f"client {problem.client_ids[i]} is served by closed option {problem.option_ids[j]}")
        if spec.service_km is not None and dist[a] > spec.service_km:
            violations.append(f"client {problem.client_ids[i]} is served from {dist[a]:.6g} away, beyond the "
                              f"service distance {spec.service_km:g}")  # fmt: skip
    for i in np.flatnonzero(must & (np.abs(served - 1.0) > 1e-6))[:3]:
        violations.append(f"client {problem.client_ids[i]} is served {served[i]:.6f} times (must be 1)")
    checks.append("capacity")
    load = np.zeros(problem.n_options)
    for a in used:
        load[problem.arc_option[a]] += x[a] * float(problem.demand[problem.arc_client[a]])
    for j in np.flatnonzero(load > np.asarray(problem.capacity, float) + 1e-6 * np.maximum(1.0, load))[:3]:
        violations.append(f"option {problem.option_ids[j]} carries {load[j]:.6g} over capacity {problem.capacity[j]:.6g}")
    return np.where(np.isfinite(far) & (served > 0), far, np.inf)
