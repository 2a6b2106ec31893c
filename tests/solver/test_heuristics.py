"""Heuristics and bounds: feasible incumbents, local optimality, exact subproblems and valid Lagrangian bounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from bruteforce import brute_force
from hypothesis import HealthCheck, given, settings
from test_highs_backend import make_problem
from test_highs_backend import (
    problems as specs,  # the same random problem classes as the backend tests
)

from optimizer.check.verify import verify_problem
from optimizer.problem import CountRows, LocationProblem, Solution
from optimizer.solver.assign import ArcIndex, assign
from optimizer.solver.heuristics import (
    greedy_open,
    incumbent_for,
    local_search,
    solution_cost,
)
from optimizer.solver.lagrangian.cflp import cflp_lagrangian
from optimizer.solver.lagrangian.cover import CoverKnapsack
from optimizer.solver.lagrangian.uflp import (
    YSubproblem,
    lagrangian_bound,
    reduced_cost_fixing,
)
from optimizer.solver.uncapacitated_tree import branch_and_bound


def _as_solution(problem: LocationProblem, y: np.ndarray, x: np.ndarray) -> Solution:
    return Solution(y, x, solution_cost(problem, y, x), float("-inf"), "feasible")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs)
def test_incumbent_is_feasible(spec: dict) -> None:
    problem = make_problem(**spec, n=6, m=5)
    start = incumbent_for(problem)
    optimum = brute_force(problem)
    if start is None:
        return  # the heuristics may fail on tight instances, but must never return an infeasible point
    report = verify_problem(problem, _as_solution(problem, *start))
    assert report.ok, report.violations
    assert report.objective >= optimum - 1e-6


def _pmedian(seed: int, n: int = 12, m: int = 8, p: int = 3) -> LocationProblem:
    rng = np.random.default_rng(seed)
    pts, sites = rng.random((n, 2)), rng.random((m, 2))
    cost = np.round(100 * np.sqrt(((pts[:, None] - sites[None]) ** 2).sum(-1)))
    ci, oj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    return LocationProblem(
        name="pm", client_ids=np.arange(n), demand=np.ones(n), site_ids=np.arange(m), site_free_m2=np.full(m, np.inf),
        option_ids=np.arange(m), option_site=np.arange(m), option_programme=np.zeros(m), option_size=np.zeros(m),
        capacity=np.full(m, np.inf), fixed_cost=np.zeros(m), area_m2=np.zeros(m), arc_client=ci.ravel(),
        arc_option=oj.ravel(), arc_cost=cost.ravel(), counts=CountRows.from_groups([np.arange(m)], [p], [p], ["p"], m),
        single_source=False,
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_local_search_is_a_swap_local_optimum(seed: int) -> None:
    problem = _pmedian(seed)
    index = ArcIndex.of(problem)
    y = local_search(problem, greedy_open(problem, index), index)
    assert y.sum() == 3
    cost = solution_cost(problem, y, assign(problem, y, index))
    for out, inn in itertools.product(np.flatnonzero(y), np.flatnonzero(~y)):
        z = y.copy()
        z[out], z[inn] = False, True
        assert solution_cost(problem, z, assign(problem, z, index)) >= cost - 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_bound_fixing_and_tree(seed: int) -> None:
    problem = _pmedian(seed, n=14, m=9, p=2 + seed % 3)
    optimum = brute_force(problem)
    y, x = incumbent_for(problem)
    ub = solution_cost(problem, y, x)
    lr = lagrangian_bound(problem, ub)
    assert lr.bound <= optimum + 1e-9
    fix_closed, fix_open, keep = reduced_cost_fixing(problem, lr, ub)
    # an optimal solution survives the fixing: brute force on the reduced problem gives the same optimum
    reduced = LocationProblem(**{
        **problem.__dict__, "arc_client": problem.arc_client[keep | (x > 0)], "arc_option": problem.arc_option[keep | (x > 0)],
        "arc_cost": problem.arc_cost[keep | (x > 0)],
    })  # fmt: skip
    assert min(brute_force(reduced), ub) == pytest.approx(optimum)
    tree = branch_and_bound(problem, (y, x), lr.multipliers, branching="flip")
    assert tree.finished
    assert tree.upper_bound == pytest.approx(optimum)


def test_y_subproblem_matches_enumeration() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(1, 7))
        perm = rng.permutation(m)
        groups = [g for g in np.split(perm, np.sort(rng.integers(0, m + 1, 2))) if len(g)][: int(rng.integers(0, 3))]
        lo = [int(rng.integers(0, len(g) + 1)) for g in groups]
        up = [int(rng.integers(low, len(g) + 1)) for g, low in zip(groups, lo)]
        problem = _pmedian(0, n=1, m=m, p=1)
        problem = LocationProblem(**{
            **problem.__dict__, "counts": CountRows.from_groups(groups, lo, up, [str(i) for i in range(len(groups))], m),
            "required": rng.random(m) < 0.2,
        })  # fmt: skip
        fo, fc = rng.random(m) < 0.2, rng.random(m) < 0.2
        rho = rng.normal(size=m).round(2)
        value, y, flip = YSubproblem(problem).solve(rho, forced_open=fo, forced_closed=fc)
        a = problem.counts.matrix.toarray()
        req = problem.required_mask() | fo

        def best(fix: dict[int, bool]) -> float:
            out = np.inf
            for bits in itertools.product([False, True], repeat=m):
                z = np.array(bits)
                if (req & ~z).any() or (fc & ~req & z).any() or any(z[j] != v for j, v in fix.items()):
                    continue
                c = a @ z
                if (c < np.array(lo)).any() or (c > np.array(up)).any():
                    continue
                out = min(out, float(rho @ z))
            return out

        _assert_value_and_flips(value, y, flip, best)


def _assert_value_and_flips(value: float, y: np.ndarray, flip: np.ndarray, best) -> None:  # noqa: ANN001
    """The subproblem's value equals enumeration ``best({})`` and each flip cost equals ``best({j: not y_j})``."""
    expected = best({})
    assert value == pytest.approx(expected) or (np.isinf(value) and np.isinf(expected))
    if np.isfinite(expected):
        for j in range(len(y)):
            alt = best({j: not y[j]}) - expected
            assert flip[j] == pytest.approx(alt) or (np.isinf(flip[j]) and np.isinf(alt))


def test_cover_knapsack_matches_enumeration() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        m = int(rng.integers(1, 7))
        problem = make_problem(int(rng.integers(0, 1000)), n=4, m=m, capacitated=True)
        knap = CoverKnapsack(problem)
        v = rng.normal(size=m).round(2)
        fo, fc = rng.random(m) < 0.2, rng.random(m) < 0.2
        value, y, flip = knap.solve(v, fo, fc, flips=True)
        need = problem.demand.sum()

        def best(fix: dict[int, bool]) -> float:
            out = np.inf
            for bits in itertools.product([False, True], repeat=m):
                z = np.array(bits)
                if (fo & ~z).any() or (fc & ~fo & z).any() or any(z[j] != val for j, val in fix.items()):
                    continue
                if problem.capacity[z].sum() >= need - 1e-9:
                    out = min(out, float(v @ z))
            return out

        _assert_value_and_flips(value, y, flip, best)


@pytest.mark.parametrize("seed", range(5))
def test_cflp_lagrangian_bound_is_valid(seed: int) -> None:
    problem = make_problem(seed, n=6, m=5, capacitated=True)
    optimum = brute_force(problem)
    result = cflp_lagrangian(problem, max_iter=300)
    assert result.bound <= optimum + 1e-6
    if result.incumbent is not None:
        assert verify_problem(problem, _as_solution(problem, *result.incumbent)).ok
        assert result.upper_bound >= optimum - 1e-6


@pytest.mark.parametrize("seed", range(8))
def test_single_source_repair(seed: int) -> None:
    problem = make_problem(seed, n=12, m=5, single_source=True, capacitated=True)
    y = np.ones(problem.n_options, dtype=bool)
    x = assign(problem, y)
    if x is not None:
        assert verify_problem(problem, _as_solution(problem, y, x)).ok
