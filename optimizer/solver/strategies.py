"""The strategy dispatcher: which scheme solves a problem on the highspy backend (measured per problem class).

For uncapacitated problems a heuristic incumbent, the Lagrangian bound, reduced-cost fixing and a Lagrangian
tree (:mod:`optimizer.solver.strategy_uflp`); for multi-source capacitated ones the Lagrangian branch and bound
of :mod:`optimizer.solver.strategy_cflp`; for single-source capacitated ones the strengthened rows with a
heuristic incumbent (:mod:`optimizer.solver.strategy_strong`) passed with ``setSolution``. Every path ends in
:func:`optimizer.solver.result.finish`, which recomputes the objective from the cleaned arrays and reports the
proven bound. Time limits: all phases of one solve share a :class:`~optimizer.solver.options.Deadline` (see
there). Which scheme measured fastest for which class: ``benchmarks/perf/README.md``.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import LocationProblem, Solution
from optimizer.solver.options import SolveOptions
from optimizer.solver.sscflp import applicable as sscflp_applicable
from optimizer.solver.sscflp import solve_sscflp
from optimizer.solver.strategy_cflp import solve_cflp
from optimizer.solver.strategy_strong import solve_lp_first, solve_plain, solve_strong
from optimizer.solver.strategy_uflp import solve_with_fixing

# capacitated problems up to this many arcs go to the LP-first HiGHS solve (OR-Library cap41–cap134, 800–2,500 arcs:
# 1.2–4× faster than the Lagrangian tree and than a direct HiGHS model; benchmarks/perf/README.md "Fixed costs")
SMALL_MAX_ARCS = 10_000
STRATEGIES = ("auto", "plain", "lpfirst", "strong", "lagrangian", "cflp", "sscflp")


def choose_strategy(problem: LocationProblem) -> str:
    """Pick the scheme that measured fastest for the problem's class (see ``benchmarks/perf/README.md``).

    * uncapacitated (p-median, UFLP; any count rows, land and required options): ``"lagrangian"``;
    * capacitated with at most :data:`SMALL_MAX_ARCS` arcs (unless single-source with exact knapsacks):
      ``"lpfirst"`` — HiGHS' set-up costs more than any Lagrangian scheme saves there;
    * multi-source with finite capacities: ``"cflp"``;
    * single-source capacitated: ``"sscflp"`` (:mod:`optimizer.solver.sscflp`) where its knapsacks are exact
      (:func:`optimizer.solver.sscflp.applicable`), otherwise ``"strong"``.
    """
    capacitated = bool(np.isfinite(problem.capacity).any())
    if not capacitated:
        return "lagrangian"
    exact_knapsacks = problem.single_source and sscflp_applicable(problem)
    if problem.n_arcs <= SMALL_MAX_ARCS and not exact_knapsacks:
        return "lpfirst"
    if not problem.single_source:
        return "cflp"
    return "sscflp" if sscflp_applicable(problem) else "strong"


def solve_highspy(
    problem: LocationProblem,
    options: SolveOptions,
    *,
    strategy: str = "auto",
) -> Solution:
    """Solve ``problem`` with the vectorised highspy build.

    Parameters
    ----------
    problem
        The array problem.
    options
        ``time_limit_s`` covers heuristics, bounds and HiGHS together.
        ``warm_start`` (open-option mask), if set, is completed to an incumbent and passed with ``setSolution``.
    strategy
        ``"auto"`` (choose by problem class, see :func:`choose_strategy`), ``"plain"`` (default HiGHS on the
        plain formulation), ``"strong"`` (strengthened rows + heuristic incumbent), ``"lagrangian"`` (incumbent,
        Lagrangian bound, reduced-cost fixing and Lagrangian branching; uncapacitated problems only) or ``"cflp"``
        (the scheme of :mod:`optimizer.solver.strategy_cflp`; multi-source capacitated problems only) or ``"sscflp"``
        (knapsack Lagrangian tree of :mod:`optimizer.solver.sscflp`; single-source capacitated problems only). A scheme
        asked for outside its class falls back to ``"strong"``, as does ``"lagrangian"`` when no heuristic finds
        an incumbent to start from.

    Returns
    -------
    Solution
        With ``timings_s`` split into ``build`` (matrices), ``heuristic``, ``bound`` and ``solve`` (HiGHS) seconds.
    """
    if strategy == "auto":
        strategy = choose_strategy(problem)
    capacitated = bool(np.isfinite(problem.capacity).any())
    if (strategy == "lagrangian" and capacitated) or (strategy == "cflp" and (problem.single_source or not capacitated)):
        strategy = "strong"  # the scheme's fixing and heuristics assume its problem class
    if strategy == "plain":
        return solve_plain(problem, options)
    if strategy == "lpfirst":
        return solve_lp_first(problem, options)
    if strategy == "lagrangian":
        solution = solve_with_fixing(problem, options)
        return solution if solution is not None else solve_strong(problem, options)
    if strategy == "cflp":
        return solve_cflp(problem, options)
    if strategy == "sscflp":
        if sscflp_applicable(problem):
            return solve_sscflp(problem, options)
        strategy = "strong"  # the knapsack Lagrangian needs a single-source capacitated problem with exact DPs
    if strategy != "strong":
        msg = f"unknown highspy strategy {strategy!r}; choose {', '.join(STRATEGIES)}"
        raise ValueError(msg)
    return solve_strong(problem, options)
