"""The strategy dispatcher: which scheme solves a problem on the highspy backend (measured per problem class).

For uncapacitated problems a heuristic incumbent, the Lagrangian bound, reduced-cost fixing and a Lagrangian
tree (:mod:`optimizer.solver.strategy_uflp`); for small capacitated ones HiGHS on the LP first
(:func:`optimizer.solver.strategy_strong.solve_lp_first`); for larger multi-source capacitated ones the Lagrangian
branch and bound of :mod:`optimizer.solver.strategy_cflp`; for single-source capacitated ones the knapsack
Lagrangian tree of :mod:`optimizer.solver.sscflp` where its knapsacks are exact, else the strengthened rows with a
heuristic incumbent (:mod:`optimizer.solver.strategy_strong`) passed with ``setSolution``. Every path ends in
:func:`optimizer.solver.result.finish`, which recomputes the objective from the cleaned arrays and reports the
proven bound. Time limits: all phases of one solve share a :class:`~optimizer.solver.options.Deadline` (see
there). Which scheme measured fastest for which class: ``benchmarks/perf/README.md``.
"""

from __future__ import annotations

import numpy as np

from optimizer.errors import StrategyError
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
LPFIRST_MIN_LIMIT_S = 1.0  # below this time limit small problems go to "strong" (an incumbent before anything else)
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


def applicable(strategy: str, problem: LocationProblem) -> str | None:
    """Why ``strategy`` does not apply to ``problem`` (``None``: it applies).

    ``plain``, ``lpfirst`` and ``strong`` solve every problem; ``lagrangian`` assumes uncapacitated options (its
    fixing and heuristics rest on nearest-open assignment); ``cflp`` assumes multi-source assignment with finite
    capacities; ``sscflp`` single-source assignment with finite capacities and exact knapsacks.
    """
    capacitated = bool(np.isfinite(problem.capacity).any())
    if strategy == "lagrangian" and capacitated:
        return "the Lagrangian scheme is for uncapacitated problems, and this one has finite capacities"
    if strategy == "cflp" and problem.single_source:
        return "the CFLP scheme is for multi-source assignment, and this problem is single-source"
    if strategy == "cflp" and not capacitated:
        return "the CFLP scheme is for capacitated problems, and this one has no finite capacity"
    if strategy == "sscflp" and not (problem.single_source and capacitated):
        return "the single-source knapsack scheme is for single-source problems with finite capacities"
    if strategy == "sscflp" and not sscflp_applicable(problem):
        return ("the single-source knapsack scheme needs integer demands on a small capacity grid (exact "
                "knapsacks), at most 5,000 clients and bounded DP work")
    return None


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
        (the scheme of :mod:`optimizer.solver.strategy_cflp`; multi-source capacitated problems only),
        ``"sscflp"`` (knapsack Lagrangian tree of :mod:`optimizer.solver.sscflp`; single-source capacitated problems
        with exact knapsacks only) or ``"lpfirst"`` (the LP, then HiGHS' MIP if it is fractional; any problem).

    Returns
    -------
    Solution
        With ``timings_s`` split into ``build`` (matrices), ``heuristic``, ``bound`` and ``solve`` (HiGHS) seconds;
        ``solver`` names the scheme that produced it.

    Raises
    ------
    StrategyError
        When a scheme is asked for outside its class (:func:`applicable`): it never falls back silently. The
        one fallback left is visible: when the Lagrangian scheme finds no incumbent to start from, the strengthened
        model is solved and ``solver`` says so.
    """
    if strategy == "auto":
        strategy = choose_strategy(problem)
        if strategy == "lpfirst" and options.time_limit_s is not None and options.time_limit_s < LPFIRST_MIN_LIMIT_S:
            strategy = "strong"  # so tight a limit: a heuristic incumbent and a Lagrangian bound first
    if strategy not in STRATEGIES:
        msg = f"unknown highspy strategy {strategy!r}; choose {', '.join(STRATEGIES)}"
        raise StrategyError(msg)
    why = applicable(strategy, problem)
    if why is not None:
        raise StrategyError(f"strategy {strategy!r} does not apply: {why}; use auto, plain or strong")
    if strategy == "plain":
        return solve_plain(problem, options)
    if strategy == "lpfirst":
        return solve_lp_first(problem, options)
    if strategy == "lagrangian":
        solution = solve_with_fixing(problem, options)
        if solution is not None:
            return solution
        solution = solve_strong(problem, options)
        solution.solver += ", after the Lagrangian scheme found no incumbent to start from"
        return solution
    if strategy == "cflp":
        return solve_cflp(problem, options)
    if strategy == "sscflp":
        return solve_sscflp(problem, options)
    return solve_strong(problem, options)
