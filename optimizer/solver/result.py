"""From solver values to a clean :class:`~optimizer.problem.Solution`: rounding, objective, status and bound.

Every highspy path ends in :func:`finish`, which recomputes the objective from the cleaned arrays (never trusting
the solver's own figure) and settles status and bound against the requested gap.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import LocationProblem, Solution, Status, objective_parts

SHARE_EPS = 1e-9  # shares below this are solver noise


def clean_solution(problem: LocationProblem, y_value: np.ndarray, x_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round solver values to a clean ``(open_options, arc_share)``: no noise, no share on closed options.

    Single-source shares become 0/1 (each client's largest share wins); multi-source shares are clipped, cleared
    below :data:`SHARE_EPS` and on closed options, and rescaled to sum to exactly 1 per client.
    """
    open_options = np.asarray(y_value) > 0.5
    x = np.clip(np.asarray(x_value, dtype=float), 0.0, 1.0)
    x[~open_options[problem.arc_option]] = 0.0
    n = problem.n_clients
    if problem.single_source:
        order = np.lexsort((-x, problem.arc_client))  # per client, largest share first
        first = np.ones(len(order), dtype=bool)
        first[1:] = problem.arc_client[order[1:]] != problem.arc_client[order[:-1]]
        keep = order[first & (x[order] > 0.5)]
        x = np.zeros_like(x)
        x[keep] = 1.0
        return open_options, x
    x[x < SHARE_EPS] = 0.0
    served = np.bincount(problem.arc_client, weights=x, minlength=n)
    scale = np.where(served > 0, 1.0 / np.where(served > 0, served, 1.0), 0.0)
    return open_options, x * scale[problem.arc_client]


def finish(
    problem: LocationProblem,
    status: Status,
    y: np.ndarray,
    x: np.ndarray,
    bound: float,
    *,
    solver: str,
    timings_s: dict[str, float],
    log: str = "",
    gap_tol: float = 1e-6,
) -> Solution:
    """Clean the values, recompute the objective from the arrays and settle status and bound.

    ``optimal`` means optimal within the requested relative gap ``max(gap_tol, 1e-6)`` (as HiGHS and the Pyomo
    backend report it); a wider gap gives ``feasible``. The bound is capped at the objective (a bound above it
    can only be round-off).
    """
    if not Status(status).has_solution:
        return Solution(
            open_options=np.zeros(problem.n_options, dtype=bool),
            arc_share=np.zeros(problem.n_arcs),
            objective=float("nan"),
            bound=bound if status != Status.INFEASIBLE else float("inf"),
            status=Status(status),
            solver=solver,
            timings_s=timings_s,
            log=log,
        )
    open_options, share = clean_solution(problem, y, x)
    objective = objective_parts(problem, open_options, share)["total"]
    bound = min(bound, objective) if np.isfinite(bound) else bound
    tol = max(gap_tol, 1e-6)
    closed = np.isfinite(bound) and objective - bound <= tol * max(1.0, abs(objective)) * (1 + 1e-9) + 1e-9
    status = Status.OPTIMAL if closed else Status.FEASIBLE
    return Solution(open_options, share, objective, bound, status, solver, timings_s, log)
