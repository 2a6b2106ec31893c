"""Solve a :class:`~optimizer.problem.LocationProblem` with HiGHS: options, time limits, status and gap.

HiGHS is embedded (the ``highspy`` wheel), so no external solver binary is needed. The Pyomo backend builds the
reference formulation of :mod:`optimizer.model`; other backends plug in through :data:`BACKENDS`.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass

import numpy as np

from optimizer.highs_backend import solve_highspy
from optimizer.problem import LocationProblem, Solution


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings that every backend honours.

    Parameters
    ----------
    time_limit_s
        Wall-clock limit for the solver in seconds (``None``: no limit).
    mip_gap
        Relative MIP gap at which the solver may stop (HiGHS ``mip_rel_gap``).
    threads
        Solver threads (``None``: HiGHS default). Sweeps set this to avoid oversubscribing cores.
    backend
        ``"pyomo"`` (reference formulation) or ``"highspy"`` (vectorised matrix build), or ``"auto"``.
    warm_start
        Boolean mask of open options (length ``n_options``) to start from; the highspy backend completes it to an
        incumbent (assignment, repair) and passes it to HiGHS. Ignored by the Pyomo backend.
    """

    time_limit_s: float | None = None
    mip_gap: float = 1e-6
    threads: int | None = None
    backend: str = "auto"
    log: bool = False
    warm_start: np.ndarray | None = None


def _status_from_pyomo(result) -> str:  # noqa: ANN001 - pyomo result object
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    term, sol = result.termination_condition, result.solution_status
    if term in (TerminationCondition.provenInfeasible, TerminationCondition.locallyInfeasible):
        return "infeasible"
    if term == TerminationCondition.infeasibleOrUnbounded:
        return "infeasible"
    if sol == SolutionStatus.optimal and term == TerminationCondition.convergenceCriteriaSatisfied:
        return "optimal"
    if sol in (SolutionStatus.feasible, SolutionStatus.optimal):
        return "feasible"
    return "no_solution"


def solve_pyomo(problem: LocationProblem, options: SolveOptions) -> Solution:
    """Build the Pyomo model and solve it with HiGHS through Pyomo's highspy interface."""
    from pyomo.contrib.solver.solvers.highs import Highs

    from optimizer.model import build_pyomo_model, extract_solution

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
        config["threads"] = int(options.threads)
    t1 = time.perf_counter()
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        result = solver.solve(model, **config)
    t_solve = time.perf_counter() - t1

    status = _status_from_pyomo(result)
    objective = float(result.incumbent_objective) if result.incumbent_objective is not None else float("nan")
    bound = float(result.objective_bound) if result.objective_bound is not None else float("-inf")
    if status in ("optimal", "feasible"):
        result.solution_loader.load_vars()
        open_options, arc_share = extract_solution(model, problem)
    else:
        open_options = np.zeros(problem.n_options, dtype=bool)
        arc_share = np.zeros(problem.n_arcs)
    if status == "optimal" and not np.isfinite(bound):
        bound = objective
    return Solution(
        open_options=open_options,
        arc_share=arc_share,
        objective=objective,
        bound=bound,
        status=status,
        solver=f"HiGHS {_highs_version()} via Pyomo",
        timings_s={"build": t_build, "solve": t_solve},
        log=buffer.getvalue(),
    )


def _highs_version() -> str:
    import highspy

    h = highspy.Highs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


Backend = Callable[[LocationProblem, SolveOptions], Solution]
BACKENDS: dict[str, Backend] = {"pyomo": solve_pyomo, "highspy": solve_highspy}


def choose_backend(problem: LocationProblem, requested: str) -> str:
    """Pick a backend: Pyomo for readability, the vectorised highspy build for large problems."""
    if requested != "auto":
        if requested not in BACKENDS:
            msg = f"unknown backend {requested!r}; choose one of {sorted(BACKENDS)} or 'auto'"
            raise ValueError(msg)
        return requested
    if "highspy" in BACKENDS and problem.n_arcs > 20_000:
        return "highspy"
    return "pyomo"


def solve_problem(problem: LocationProblem, options: SolveOptions | None = None) -> Solution:
    """Solve ``problem``; the returned :class:`Solution` is unverified (see :mod:`optimizer.verify`)."""
    options = options or SolveOptions()
    backend = choose_backend(problem, options.backend)
    if options.threads is None and os.environ.get("SITING_THREADS"):
        options = SolveOptions(**{**options.__dict__, "threads": int(os.environ["SITING_THREADS"])})
    return BACKENDS[backend](problem, options)
