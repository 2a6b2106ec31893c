"""Independent check of every result before anything is written.

Two layers, deliberately written without reusing the model code:

* :func:`verify_problem` checks a solution against the array problem: every constraint type of
  :mod:`optimizer.model`, and the objective recomputed from scratch (loops over the solution's open options and
  used arcs only, so it stays cheap).
* Domain checks (:func:`verify_siting`, in :mod:`optimizer.siting_checks`) re-derive the study's rules from the
  instance tables — one facility per region, the size rule, eligibility, modes, land, assignment inside the
  region — and recompute transport from coordinates, so an error in compiling the instance is caught too.

A violation raises :class:`VerificationError`; it is an error, never a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.problem import LocationProblem, Solution

ABS_TOL = 1e-6
REL_TOL = 1e-6


class VerificationError(Exception):
    """A solution breaks a constraint or its objective does not match the recomputed one."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        head = "; ".join(violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"verification failed: {head}{more}")


@dataclass
class VerificationReport:
    """What was checked and the recomputed objective."""

    objective: float
    checks: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> "VerificationReport":
        if self.violations:
            raise VerificationError(self.violations)
        return self


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= ABS_TOL * max(1.0, scale) + REL_TOL * max(abs(a), abs(b))


def verify_problem(problem: LocationProblem, solution: Solution) -> VerificationReport:
    """Check ``solution`` against every constraint of ``problem`` and recompute its objective."""
    y = np.asarray(solution.open_options, dtype=bool)
    x = np.asarray(solution.arc_share, dtype=float)
    violations: list[str] = []
    checks: list[str] = []

    if y.shape != (problem.n_options,) or x.shape != (problem.n_arcs,):
        return VerificationReport(float("nan"), [], ["solution arrays do not match the problem's shape"])

    checks.append("share bounds")
    if np.any(x < -ABS_TOL) or np.any(x > 1 + ABS_TOL):
        violations.append("an assignment share lies outside [0, 1]")
    if problem.single_source:
        checks.append("single source")
        frac = np.flatnonzero((x > ABS_TOL) & (x < 1 - ABS_TOL))
        if frac.size:
            violations.append(f"client {problem.client_ids[problem.arc_client[frac[0]]]} is split over facilities")

    checks.append("every client fully served")
    served = np.zeros(problem.n_clients)
    np.add.at(served, problem.arc_client, x)
    bad = np.flatnonzero(np.abs(served - 1.0) > 1e-6)
    for i in bad[:3]:
        violations.append(f"client {problem.client_ids[i]} is served {served[i]:.6f} times (must be 1)")

    checks.append("served only by open facilities")
    used = np.flatnonzero(x > ABS_TOL)
    closed = used[~y[problem.arc_option[used]]]
    for a in closed[:3]:
        violations.append(
            f"client {problem.client_ids[problem.arc_client[a]]} is served by closed option {problem.option_ids[problem.arc_option[a]]}"
        )

    checks.append("capacity")
    load = np.zeros(problem.n_options)
    np.add.at(load, problem.arc_option, x * problem.demand[problem.arc_client])
    limit = np.where(y, problem.capacity, 0.0)
    over = np.flatnonzero(load > limit + 1e-6 * np.maximum(1.0, np.where(y, problem.capacity, 1.0)))
    for j in over[:3]:
        violations.append(f"option {problem.option_ids[j]} carries {load[j]:.3f} over capacity {problem.capacity[j]:.3f}")

    checks.append("count rows")
    counted = problem.counts.matrix @ y.astype(float)
    for r in np.flatnonzero((counted < problem.counts.lower - 1e-9) | (counted > problem.counts.upper + 1e-9))[:3]:
        violations.append(
            f"{problem.counts.names[r]}: {counted[r]:.0f} open, allowed {problem.counts.lower[r]:g}..{problem.counts.upper[r]:g}"
        )

    checks.append("land per site")
    land = np.zeros(len(problem.site_ids))
    np.add.at(land, problem.option_site, problem.area_m2 * y)
    for s in np.flatnonzero(land > problem.site_free_m2 + 1e-6)[:3]:
        violations.append(f"site {problem.site_ids[s]} uses {land[s]:.0f} m² of {problem.site_free_m2[s]:.0f} m² free")

    checks.append("required facilities open")
    missing = np.flatnonzero(problem.required_mask() & ~y)
    for j in missing[:3]:
        violations.append(f"required option {problem.option_ids[j]} is not open")

    checks.append("objective recomputed")
    transport = sum(float(problem.arc_cost[a]) * float(x[a]) for a in used)
    opening = sum(
        float(problem.fixed_cost[j]) + problem.land_cost_per_m2 * float(problem.area_m2[j]) for j in np.flatnonzero(y)
    )
    recomputed = transport + opening
    if np.isfinite(solution.objective) and not _close(recomputed, solution.objective, scale=abs(recomputed)):
        violations.append(f"objective {solution.objective:.6f} differs from recomputed {recomputed:.6f}")
    if np.isfinite(solution.bound) and solution.bound > recomputed + 1e-6 * max(1.0, abs(recomputed)):
        violations.append(f"proven bound {solution.bound:.6f} exceeds the objective {recomputed:.6f}")
    return VerificationReport(recomputed, checks, violations)
