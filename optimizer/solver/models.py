"""Solve a problem part by part, each :class:`~optimizer.model.plan.ModelGroup` by its own model, and join the parts.

The default p-median / CFLP group goes to :func:`optimizer.solver.solve.solve_problem` (the strategies of issue 5),
a coverage group to :func:`optimizer.solver.coverage.solve_coverage`. The groups share one deadline, in order. A
problem that is one default group is handed to ``solve_problem`` whole, exactly as before the coverage models.

The joined :class:`~optimizer.problem.Solution` holds the open options and arc shares of every part. Its
objective is the problem's cost of that allocation (transport + fixed + land: what the verifier and the result
tables recompute); its bound is the sum of the parts' bounds only when every part minimised that cost, and
``-inf`` otherwise — a coverage model's bound counts facilities or covered demand, and lives in its
:class:`GroupResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.model.plan import ModelGroup, is_whole, subproblem
from optimizer.problem import LocationProblem, Solution, Status, objective_parts
from optimizer.solver.coverage import CoverageSolution, solve_coverage
from optimizer.solver.options import SolveOptions, with_time_left
from optimizer.solver.solve import solve_problem


@dataclass
class GroupResult:
    """One part solved: its problem, the arcs it maps to, the solution and (coverage models) the coverage figures."""

    group: ModelGroup
    problem: LocationProblem
    arcs: np.ndarray  # problem arc of each of the part's arcs
    solution: Solution
    coverage: CoverageSolution | None = None

    @property
    def status(self) -> Status:
        return Status(self.solution.status)

    @property
    def gap(self) -> float:
        """Relative gap in the part's own objective (0 when optimal, ``inf`` without a bound)."""
        return self.coverage.gap if self.coverage is not None else self.solution.gap

    @property
    def message(self) -> str:
        return self.coverage.message if self.coverage is not None else ""


@dataclass
class ModelSolution:
    """The joined solution of every part and the parts themselves."""

    solution: Solution
    parts: list[GroupResult]

    @property
    def gap(self) -> float:
        """The largest relative gap over the parts (each in its own objective)."""
        return max((p.gap for p in self.parts), default=float("inf"))

    @property
    def failed(self) -> GroupResult | None:
        """The first part without a solution (infeasible or out of time), if any."""
        return next((p for p in self.parts if not p.status.has_solution), None)


def solve_models(problem: LocationProblem, groups: list[ModelGroup], options: SolveOptions | None = None,
                 ) -> ModelSolution:
    """Solve every group of ``problem`` with its model and join the parts (unverified: see
    :func:`optimizer.check.verify_models.verify_models`).

    Parameters
    ----------
    problem
        The whole array problem.
    groups
        Its parts (:func:`optimizer.model.plan.siting_groups` or :func:`~optimizer.model.plan.matrix_groups`).
    options
        Time limit (seconds, shared by all parts in turn), gap, threads, backend of the default model.

    Returns
    -------
    ModelSolution
        Stops at the first part without a solution; the joined solution then has that part's status.
    """
    options = options or SolveOptions()
    t0 = time.perf_counter()
    if is_whole(problem, groups):
        solution = solve_problem(problem, options)
        return ModelSolution(solution, [GroupResult(groups[0], problem, np.arange(problem.n_arcs), solution)])
    parts: list[GroupResult] = []
    for group in groups:
        sub, arcs = subproblem(problem, group)
        left = with_time_left(options, time.perf_counter() - t0)
        if group.spec is None:
            parts.append(GroupResult(group, sub, arcs, solve_problem(sub, left)))
        else:
            coverage = solve_coverage(sub, group.spec, left)
            parts.append(GroupResult(group, sub, arcs, coverage.to_solution(), coverage))
        if not parts[-1].status.has_solution:
            break
    return ModelSolution(_join(problem, parts, time.perf_counter() - t0), parts)


def _join(problem: LocationProblem, parts: list[GroupResult], seconds: float) -> Solution:
    """The parts' open options and shares on the whole problem; objective, bound and status as the module says."""
    timings = {"solve": seconds}
    failed = next((p for p in parts if not p.status.has_solution), None)
    solver = "; ".join(dict.fromkeys(p.solution.solver for p in parts))
    if failed is not None:
        return Solution(np.zeros(problem.n_options, bool), np.zeros(problem.n_arcs), float("nan"),
                        float("inf") if failed.status == Status.INFEASIBLE else float("-inf"), failed.status,
                        solver, timings, failed.solution.log)
    y = np.zeros(problem.n_options, bool)
    share = np.zeros(problem.n_arcs)
    for p in parts:
        y[p.group.options[np.asarray(p.solution.open_options, bool)]] = True
        share[p.arcs] = p.solution.arc_share
    objective = objective_parts(problem, y, share)["total"]
    bound = (sum(p.solution.bound for p in parts) if all(p.group.minimises_cost for p in parts)
             else float("-inf"))
    status = Status.OPTIMAL if all(p.status == Status.OPTIMAL for p in parts) else Status.FEASIBLE
    log = "\n".join(p.solution.log for p in parts if p.solution.log)
    return Solution(y, share, objective, min(bound, objective), status, solver, timings, log)
