"""Brute-force enumeration of tiny LocationProblems: the independent reference for the MIP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from optimizer.problem import LocationProblem


def feasible_open_sets(problem: LocationProblem, p: int | None = None) -> Iterator[np.ndarray]:
    """Every open set (bool per option) that satisfies the required options, count rows, land and, if given,
    exactly ``p`` open; in the order of ``itertools.product``. Tiny problems only."""
    req = problem.required_mask()
    for bits in itertools.product([False, True], repeat=problem.n_options):
        y = np.array(bits, dtype=bool)
        if p is not None and y.sum() != p:
            continue
        if (req & ~y).any():
            continue
        counted = problem.counts.matrix @ y.astype(float)
        if (counted < problem.counts.lower - 1e-9).any() or (counted > problem.counts.upper + 1e-9).any():
            continue
        land = np.zeros(len(problem.site_ids))
        np.add.at(land, problem.option_site, problem.area_m2 * y)
        if (land > problem.site_free_m2 + 1e-9).any():
            continue
        yield y


def brute_force(problem: LocationProblem) -> float:
    """Optimal objective by enumerating every set of open options and every single-source assignment.

    Multi-source problems are enumerated over open sets with the assignment solved as an LP (scipy linprog),
    single-source ones over all client→option maps. Returns ``inf`` when infeasible. Tiny problems only.
    """
    m, n = problem.n_options, problem.n_clients
    best = np.inf
    arcs_of = [np.flatnonzero(problem.arc_client == i) for i in range(n)]
    for y in feasible_open_sets(problem):
        opening = float(np.dot(problem.option_cost(), y))
        if opening >= best:
            continue
        choices = [[a for a in arcs if y[problem.arc_option[a]]] for arcs in arcs_of]
        if any(not c for c in choices):
            continue
        if problem.single_source:
            for pick in itertools.product(*choices):
                pick = np.array(pick, dtype=int)
                load = np.zeros(m)
                np.add.at(load, problem.arc_option[pick], problem.demand[problem.arc_client[pick]])
                if (load > problem.capacity + 1e-9).any():
                    continue
                best = min(best, opening + float(problem.arc_cost[pick].sum()))
        else:
            best = min(best, opening + _transport_lp(problem, choices))
    return best


def _transport_lp(problem: LocationProblem, choices: list[list[int]]) -> float:
    from scipy.optimize import linprog

    arcs = np.array([a for c in choices for a in c], dtype=int)
    n, m = problem.n_clients, problem.n_options
    a_eq = np.zeros((n, len(arcs)))
    a_eq[problem.arc_client[arcs], np.arange(len(arcs))] = 1.0
    finite = np.isfinite(problem.capacity)
    a_ub = np.zeros((m, len(arcs)))
    a_ub[problem.arc_option[arcs], np.arange(len(arcs))] = problem.demand[problem.arc_client[arcs]]
    res = linprog(problem.arc_cost[arcs], A_ub=a_ub[finite], b_ub=problem.capacity[finite], A_eq=a_eq,
                  b_eq=np.ones(n), bounds=(0, 1), method="highs")
    return float(res.fun) if res.status == 0 else np.inf
