"""Sparsification with a guarantee: the certified sparse optimum equals the dense optimum."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.check.verify import verify_problem
from optimizer.data.matrix import matrix_problem
from optimizer.geo.distances import block_km, knearest_grouped
from optimizer.model.arcs import (
    PointArcSource,
    beyond_relaxation,
    matrix_cost_block,
    nearest_arcs,
    with_arcs,
)
from optimizer.problem import CountRows
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem
from optimizer.solver.sparsified import solve_sparsified


def _points(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clients, sites = rng.random((n, 2)) * 50, rng.random((m, 2)) * 50
    weights = rng.integers(1, 10, n).astype(float)
    dist = np.sqrt(((clients[:, None] - sites[None]) ** 2).sum(-1))
    return dist * weights[:, None], weights


def test_nearest_arcs_keeps_the_cheapest_and_reports_the_next() -> None:
    cost, _ = _points(0, 30, 12)
    cost[3, :5] = np.inf  # forbidden pairs are never kept
    k = np.full(30, 4)
    k[7] = 12
    arcs = nearest_arcs(matrix_cost_block(cost), 30, 12, k)
    for i in range(30):
        mine = arcs.arc_option[arcs.arc_client == i]
        order = np.argsort(cost[i])
        expected = order[: k[i]][np.isfinite(cost[i, order[: k[i]]])]
        assert set(mine) == set(expected)
        rest = np.setdiff1d(np.flatnonzero(np.isfinite(cost[i])), mine)
        assert arcs.beyond_cost[i] == (cost[i, rest].min() if len(rest) else np.inf)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["pmedian", "uflp", "cflp", "sscflp"])
def test_certified_sparse_optimum_equals_dense(seed: int, kind: str) -> None:
    n, m = 40, 12
    cost, weights = _points(seed, n, m)
    rng = np.random.default_rng(seed)
    capacity = None
    fixed = np.zeros(m)
    p = None
    if kind == "pmedian":
        p = 3
    else:
        fixed = rng.uniform(50, 150, m)
    if kind in ("cflp", "sscflp"):
        capacity = np.full(m, weights.sum() / 3.0)
    dense = matrix_problem(weights, capacity, fixed, cost, p=p, single_source=kind == "sscflp")
    expected = solve_problem(dense, SolveOptions(mip_gap=0.0))
    result = solve_sparsified(dense, matrix_cost_block(cost.astype(np.float32)), k=2, growth=2,
                              options=SolveOptions(mip_gap=0.0))
    assert result.certified
    assert result.problem.n_arcs < dense.n_arcs or result.k.min() >= m
    assert verify_problem(result.problem, result.solution).ok
    # float32 costs in the sparse model: compare the dense objective of the same decisions
    assert result.solution.objective == pytest.approx(expected.objective, rel=1e-6)
    assert result.solution.bound <= expected.objective * (1 + 1e-6)


def test_relaxation_keeps_rows_and_adds_an_open_dummy() -> None:
    cost, weights = _points(1, 10, 5)
    dense = matrix_problem(weights, None, np.ones(5), cost, p=2)
    arcs = nearest_arcs(matrix_cost_block(cost), 10, 5, 1)
    relaxed = beyond_relaxation(dense, arcs)
    assert relaxed.n_options == 6 and relaxed.required_mask()[-1]
    assert relaxed.counts.matrix.shape == (1, 6) and relaxed.counts.matrix[:, 5].nnz == 0
    assert relaxed.n_arcs == 10 + 10  # one kept arc and one beyond arc per client
    sol = solve_problem(relaxed, SolveOptions(mip_gap=0.0))
    assert sol.objective <= solve_problem(dense, SolveOptions(mip_gap=0.0)).objective + 1e-9


def test_uncertified_result_still_has_a_dense_bound() -> None:
    cost, weights = _points(2, 40, 12)
    dense = matrix_problem(weights, None, np.zeros(12), cost, p=2)
    exact = solve_problem(dense, SolveOptions(mip_gap=0.0)).objective
    result = solve_sparsified(dense, matrix_cost_block(cost), k=1, growth=1, max_rounds=1)
    assert not result.certified
    assert result.solution.bound <= exact + 1e-6
    assert verify_problem(result.problem, result.solution).ok


def test_count_rows_unchanged_in_sparse_problem() -> None:
    cost, weights = _points(3, 20, 6)
    dense = matrix_problem(weights, None, np.zeros(6), cost)
    rows = CountRows.from_groups([np.arange(3), np.arange(3, 6)], [1, 1], [1, 1], ["a", "b"], 6)
    dense = type(dense)(**{**dense.__dict__, "counts": rows})
    result = solve_sparsified(dense, matrix_cost_block(cost), k=2, options=SolveOptions(mip_gap=0.0))
    assert result.certified
    assert result.solution.objective == pytest.approx(solve_problem(dense, SolveOptions(mip_gap=0.0)).objective)


def test_small_k_and_few_facilities_leave_clients_without_an_open_neighbour_and_are_certified() -> None:
    """The known k-nearest bug: with k = 1 and p = 1 most clients' only arc goes to a closed option.

    A plain k-nearest model is then infeasible; the beyond arcs keep the relaxation feasible and the certificate
    grows k until the optimum is proven equal to the dense one.
    """
    rng = np.random.default_rng(5)
    west, east = rng.normal(0, 1, (15, 2)), rng.normal((40, 0), 1, (15, 2))  # two clusters of clients
    clients = np.vstack([west, east])
    sites = np.vstack([rng.normal(0, 1, (4, 2)), rng.normal((40, 0), 1, (4, 2))])
    weights = np.ones(30)
    cost = np.sqrt(((clients[:, None] - sites[None]) ** 2).sum(-1))
    dense = matrix_problem(weights, None, np.zeros(8), cost, p=1)
    sparse_k1 = solve_problem(with_arcs(dense, nearest_arcs(matrix_cost_block(cost), 30, 8, 1)),
                              SolveOptions(mip_gap=0.0))
    assert sparse_k1.status == "infeasible"  # no single option is every client's nearest
    exact = solve_problem(dense, SolveOptions(mip_gap=0.0))
    result = solve_sparsified(dense, matrix_cost_block(cost), k=1, growth=2, options=SolveOptions(mip_gap=0.0))
    assert result.certified and result.rounds >= 2
    assert result.history[0]["beyond_clients"] >= 15  # the far cluster went beyond in the first round
    assert result.solution.objective == pytest.approx(exact.objective, rel=1e-9)
    assert verify_problem(result.problem, result.solution).ok


def test_knearest_grouped_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.random((200, 2)) * 5e4, rng.random((70, 2)) * 5e4
    ga, gb = rng.integers(0, 3, 200), rng.integers(0, 3, 70)
    k = rng.integers(1, 30, 200)
    origin, dest, km, next_km = knearest_grouped(a, b, k, origin_group=ga, dest_group=gb)
    full = block_km(a, b, origin_group=ga, dest_group=gb).astype(float)
    assert np.all(np.diff(origin) >= 0)
    for i in range(200):
        row = np.sort(full[i][np.isfinite(full[i])])
        mine = km[origin == i]
        kk = min(k[i], len(row))
        assert len(mine) == kk and np.allclose(mine, row[:kk], rtol=1e-6)
        assert np.all(gb[dest[origin == i]] == ga[i])
        assert next_km[i] == (pytest.approx(row[kk], rel=1e-6) if kk < len(row) else np.inf)


def test_point_arc_source_agrees_with_its_dense_rows() -> None:
    rng = np.random.default_rng(3)
    n, m = 120, 40
    source = PointArcSource(rng.random((n, 2)) * 3e4, rng.random((m, 2)) * 3e4, rng.integers(0, 2, n),
                            rng.integers(0, 2, m), rng.uniform(1, 5, n), rng.uniform(0, 2, n), 1.3)
    fast = nearest_arcs(source, n, m, 5)
    slow = nearest_arcs(matrix_cost_block(source(np.arange(n)).astype(float)), n, m, 5)
    assert np.array_equal(fast.arc_client, slow.arc_client)
    assert np.allclose(fast.arc_cost, slow.arc_cost, rtol=1e-5)
    assert np.allclose(fast.beyond_cost, slow.beyond_cost, rtol=1e-5)
    assert fast.arc_km is not None and np.all(fast.arc_km > 0)
