"""The Pyomo backend: the reference formulation of :mod:`optimizer.model.pyomo_model`, solved by HiGHS via Pyomo."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import numpy as np

from optimizer.problem import LocationProblem, Solution, Status
from optimizer.solver.highs import highs_version, use_threads
from optimizer.solver.options import SolveOptions


def _status_from_pyomo(result) -> Status:  # noqa: ANN001 - pyomo result object
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    term, sol = result.termination_condition, result.solution_status
    if term in (TerminationCondition.provenInfeasible, TerminationCondition.locallyInfeasible):
        return Status.INFEASIBLE
    if term == TerminationCondition.infeasibleOrUnbounded:
        return Status.INFEASIBLE
    if sol == SolutionStatus.optimal and term == TerminationCondition.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if sol in (SolutionStatus.feasible, SolutionStatus.optimal):
        return Status.FEASIBLE
    return Status.NO_SOLUTION


def solve_pyomo(problem: LocationProblem, options: SolveOptions) -> Solution:
    """Build the Pyomo model and solve it with HiGHS through Pyomo's highspy interface."""
    from pyomo.contrib.solver.solvers.highs import Highs

    from optimizer.model.pyomo_model import build_pyomo_model, extract_solution  # pyomo is imported only when used

    t0 = time.perf_counter()
    model = build_pyomo_model(problem)
    t_build = time.perf_counter() - t0

    solver = Highs()
    config: dict = {
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        "rel_gap": options.mip_gap,
        "tee": options.log,
    }
    if options.time_limit_s is not None:
        config["time_limit"] = float(options.time_limit_s)
    if options.threads is not None:
        use_threads(options.threads)  # HiGHS' process-wide scheduler (see optimizer.solver.highs.use_threads)
        config["threads"] = int(options.threads)
    t1 = time.perf_counter()
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        result = solver.solve(model, **config)
    t_solve = time.perf_counter() - t1

    status = _status_from_pyomo(result)
    objective = float(result.incumbent_objective) if result.incumbent_objective is not None else float("nan")
    bound = float(result.objective_bound) if result.objective_bound is not None else float("-inf")
    if status.has_solution:
        result.solution_loader.load_vars()
        open_options, arc_share = extract_solution(model, problem)
    else:
        open_options = np.zeros(problem.n_options, dtype=bool)
        arc_share = np.zeros(problem.n_arcs)
    if status == Status.OPTIMAL and not np.isfinite(bound):
        bound = objective
    return Solution(
        open_options=open_options,
        arc_share=arc_share,
        objective=objective,
        bound=bound,
        status=status,
        solver=f"HiGHS {highs_version()} via Pyomo",
        timings_s={"build": t_build, "solve": t_solve},
        log=buffer.getvalue(),
    )
