"""Independent check of a solution solved part by part (:mod:`optimizer.solver.models`): each part by its model's
verifier, and the joined solution against the parts.

* the default p-median / CFLP part: :func:`optimizer.check.verify.verify_problem` (every constraint, objective);
* a coverage part: :func:`optimizer.check.verify_coverage.verify_coverage` (coverage recomputed from the open set,
  rows, objective, bound); a p-median with a service distance that serves every client also passes
  ``verify_problem`` (its objective is the p-median's);
* the joined solution: exactly the parts' open options and shares, and its objective the cost of that allocation
  recomputed from the arcs.

Any violation is raised as the one :class:`~optimizer.errors.VerificationError` by
:meth:`~optimizer.check.verify.VerificationReport.raise_if_failed`.
"""

from __future__ import annotations

import numpy as np

from optimizer.check.verify import VerificationReport, verify_problem
from optimizer.check.verify_coverage import CoverageReport, verify_coverage
from optimizer.problem import LocationProblem
from optimizer.solver.models import ModelSolution


def verify_models(problem: LocationProblem, result: ModelSolution) -> tuple[VerificationReport, list[VerificationReport]]:
    """Check every part and the joined solution.

    Returns
    -------
    (VerificationReport, list of VerificationReport)
        The report of the whole (objective = the allocation's cost, recomputed; its violations include every
        part's, prefixed with the part's model) and one report per part (a :class:`CoverageReport` for a
        coverage part: covered demand and distances recomputed).
    """
    checks: list[str] = []
    violations: list[str] = []
    reports: list[VerificationReport] = []
    for part in result.parts:
        label = part.group.model + (f" ({', '.join(part.group.programmes)})" if part.group.programmes else "")
        if part.coverage is None:
            report = verify_problem(part.problem, part.solution)
        else:
            report = verify_coverage(part.problem, part.group.spec, part.coverage)
            if part.group.model == "pmedian_max" and _serves_everyone(part.problem, part.solution.arc_share):
                generic = verify_problem(part.problem, part.solution)
                report.checks += [f"p-median: {c}" for c in generic.checks]
                report.violations += generic.violations
        reports.append(report)
        checks += [f"{label}: {c}" for c in report.checks]
        violations += [f"{label}: {v}" for v in report.violations]
    whole = len(result.parts) == 1 and result.parts[0].coverage is None and result.parts[0].problem is problem
    objective = reports[0].objective if whole else _check_join(problem, result, checks, violations)
    return VerificationReport(objective, checks, violations), reports


def _serves_everyone(problem: LocationProblem, share: np.ndarray) -> bool:
    served = np.zeros(problem.n_clients)
    np.add.at(served, problem.arc_client, np.asarray(share, float))
    return bool(np.all(np.abs(served - 1.0) <= 1e-6))


def _allocation_cost(problem: LocationProblem, open_options: np.ndarray, share: np.ndarray) -> float:
    """Σ arc cost × share over the used arcs plus the opening cost of the open options, one term at a time."""
    x = np.asarray(share, float)
    transport = sum(float(problem.arc_cost[a]) * float(x[a]) for a in np.flatnonzero(x > 1e-9))
    opening = sum(float(problem.fixed_cost[j]) + problem.land_cost_per_m2 * float(problem.area_m2[j])
                  for j in np.flatnonzero(open_options))
    return transport + opening


def _check_join(problem: LocationProblem, result: ModelSolution, checks: list[str], violations: list[str]) -> float:
    """The joined arrays are exactly the parts' (mapped back through their option and arc indices)."""
    checks.append("joined solution = the parts' open options and shares")
    y = np.zeros(problem.n_options, bool)
    share = np.zeros(problem.n_arcs)
    for part in result.parts:
        y[part.group.options[np.asarray(part.solution.open_options, bool)]] = True
        share[part.arcs] += part.solution.arc_share
    sol = result.solution
    if not np.array_equal(y, np.asarray(sol.open_options, bool)):
        violations.append("the joined open options differ from the parts'")
    if np.abs(share - np.asarray(sol.arc_share, float)).max(initial=0.0) > 1e-9:
        violations.append("the joined allocation differs from the parts'")
    checks.append("joined objective = cost of the allocation, recomputed")
    cost = _allocation_cost(problem, y, share)
    if np.isfinite(sol.objective) and abs(cost - sol.objective) > 1e-6 * max(1.0, abs(cost)):
        violations.append(f"joined objective {sol.objective:.6f} differs from the allocation's cost {cost:.6f}")
    return cost


__all__ = ["CoverageReport", "verify_models"]
