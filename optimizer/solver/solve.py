"""Solve a :class:`~optimizer.problem.LocationProblem`: pick a backend and run it with the :class:`SolveOptions`.

``pyomo`` builds the readable reference formulation (:mod:`optimizer.solver.pyomo_backend`); ``highspy`` the
vectorised matrices and the strategy of :mod:`optimizer.solver.strategies`. Other backends plug in through
:data:`BACKENDS`. ``SolveOptions`` (time limit, gap, threads) are in :mod:`optimizer.solver.options`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from optimizer.problem import LocationProblem, Solution
from optimizer.settings import solver_threads
from optimizer.solver.options import SolveOptions
from optimizer.solver.pyomo_backend import solve_pyomo
from optimizer.solver.strategies import solve_highspy


Backend = Callable[[LocationProblem, SolveOptions], Solution]
BACKENDS: dict[str, Backend] = {"pyomo": solve_pyomo, "highspy": solve_highspy}


def choose_backend(problem: LocationProblem, requested: str) -> str:
    """The backend to use: ``requested``, or for ``"auto"`` the vectorised highspy build for every size.

    The Pyomo model stays the reference formulation (``--backend pyomo``) that the tests cross-check the highspy
    backend against; building it costs more than most small solves (OR-Library cap41–134: 0.09–1.5 s through
    Pyomo against 0.02–0.3 s for the same formulation built as arrays; ``benchmarks/perf/README.md``).
    """
    if requested != "auto":
        if requested not in BACKENDS:
            msg = f"unknown backend {requested!r}; choose one of {sorted(BACKENDS)} or 'auto'"
            raise ValueError(msg)
        return requested
    return "highspy" if "highspy" in BACKENDS else "pyomo"


def solve_problem(problem: LocationProblem, options: SolveOptions | None = None) -> Solution:
    """Solve ``problem``; the returned :class:`Solution` is unverified (see :mod:`optimizer.check.verify`)."""
    options = options or SolveOptions()
    backend = choose_backend(problem, options.backend)
    if options.threads is None and solver_threads() is not None:
        options = replace(options, threads=solver_threads())
    return BACKENDS[backend](problem, options)
