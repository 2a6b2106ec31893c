"""Issue 18 solver pieces against brute force, exact recomputation and the Pyomo model (no timing assertions).

* the incremental option values ``ρ(λ)`` of the uncapacitated Lagrangian equal the full recomputation, and the
  bound and tree built on them equal the Pyomo optimum;
* the partial-sort ``y`` subproblem of one count row equals the general one and enumeration;
* ``count_within`` of a point source equals counting dense cost rows;
* a one-per-region sparsified solve with the region-move incumbent is proven (certified) and equals the dense
  optimum;
* the knapsack values without their table (facilities whose items all fit skip the DP) equal enumeration.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))  # tests/model: a shared problem builder

from test_highs_backend import make_problem  # noqa: E402
from test_partition_pmedian import partition_problem  # noqa: E402

import optimizer.solver.lagrangian.uflp as uflp  # noqa: E402
from optimizer.check.verify import verify_problem  # noqa: E402
from optimizer.model.arcs import PointArcSource, count_within  # noqa: E402
from optimizer.solver.assign import ArcIndex  # noqa: E402
from optimizer.solver.heuristics import incumbent_for, solution_cost  # noqa: E402
from optimizer.solver.lagrangian.common import ActiveArcs  # noqa: E402
from optimizer.solver.lagrangian.incremental import IncrementalRho  # noqa: E402
from optimizer.solver.lagrangian.knapsack import Knapsacks  # noqa: E402
from optimizer.solver.lagrangian.uflp import YSubproblem, lagrangian_bound  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402
from optimizer.solver.sparsified import solve_sparsified  # noqa: E402
from optimizer.solver.uncapacitated_tree import branch_and_bound  # noqa: E402


@pytest.mark.parametrize("seed", range(4))
def test_incremental_rho_equals_recomputation(seed: int) -> None:
    problem = partition_problem(seed, n=70, regions=4, per_region=5)
    index = ArcIndex.of(problem)
    act = ActiveArcs(problem, index.order)
    f = problem.option_cost().astype(float)
    inc = IncrementalRho(act, f)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, problem.arc_cost.max(), problem.n_clients)
    for step in range(120):  # a few clients move per step, sometimes most (full recomputation), sometimes none
        share = [0.0, 0.05, 0.3, 0.9][step % 4]
        moved = rng.random(problem.n_clients) < share
        lam = np.where(moved, np.maximum(0.0, lam + rng.normal(0, 0.2 * problem.arc_cost.mean(), len(lam))), lam)
        np.testing.assert_allclose(inc.values(lam), inc.exact(lam), rtol=1e-9, atol=1e-6)
        y = np.zeros(problem.n_options, dtype=bool)
        y[rng.choice(problem.n_options, 4, replace=False)] = True
        pos = act.below(lam)
        red = act.cost[pos] - lam[act.client[pos]]
        by_arcs = np.bincount(act.client[pos], weights=y[act.option[pos]] * (red < 0), minlength=problem.n_clients)
        np.testing.assert_array_equal(inc.served(lam, y), by_arcs)


@pytest.mark.parametrize("seed", range(3))
def test_incremental_bound_and_tree_equal_pyomo(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uflp, "INCREMENTAL_MIN_ARCS", 0)  # every relaxation takes the incremental path
    for problem in (partition_problem(seed, n=60, regions=4, per_region=5),
                    make_problem(seed, n=40, m=15, capacitated=False, rows="p")):  # fmt: skip
        ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
        index = ArcIndex.of(problem)
        start = incumbent_for(problem, index=index)
        lr = lagrangian_bound(problem, solution_cost(problem, *start), index=index, max_iter=40)
        assert lr.bound <= ref.objective + 1e-6
        monkeypatch.setattr(uflp, "INCREMENTAL_MIN_ARCS", 10**9)
        plain = lagrangian_bound(problem, solution_cost(problem, *start), index=index, max_iter=40)
        monkeypatch.setattr(uflp, "INCREMENTAL_MIN_ARCS", 0)
        assert lr.raw_bound == pytest.approx(plain.raw_bound, rel=1e-9)  # same steps, same bound
        bb = branch_and_bound(problem, start, lr.multipliers, index=index, node_iter=30)
        assert bb.finished and bb.upper_bound == pytest.approx(ref.objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_single_row_partial_sort_equals_enumeration(seed: int) -> None:
    problem = make_problem(seed, n=10, m=7, capacitated=False, rows="p")
    sub = YSubproblem(problem)
    rng = np.random.default_rng(seed)
    m = problem.n_options
    for _ in range(10):
        rho = rng.normal(0, 5, m)
        fo = rng.random(m) < 0.15
        fc = (rng.random(m) < 0.2) & ~fo
        fast = sub.prepare(fo, fc)(rho, False)
        general = sub.prepare(fo, fc)(rho, True)
        assert fast[0] == pytest.approx(general[0], abs=1e-9)
        best = np.inf
        lo, up = problem.counts.lower[0], problem.counts.upper[0]
        for pick in itertools.product([0, 1], repeat=m):
            y = np.array(pick, bool)
            if (y & fc).any() or (fo & ~y).any() or not lo <= y.sum() <= up:
                continue
            best = min(best, float(rho[y].sum()))
        assert fast[0] == pytest.approx(best, abs=1e-9)
        if np.isfinite(best):
            assert float(rho[fast[1]].sum()) == pytest.approx(best, abs=1e-9)


def _points(seed: int, n: int = 400, regions: int = 4, per_region: int = 12):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 60_000, (regions, 2))
    cxy = centres[rng.integers(0, regions, n)] + rng.normal(0, 9_000, (n, 2))
    option_region = np.repeat(np.arange(regions), per_region)
    oxy = centres[option_region] + rng.normal(0, 7_000, (len(option_region), 2))
    source = PointArcSource(cxy, oxy, np.zeros(n, int), np.zeros(len(oxy), int), rng.uniform(0.5, 2.0, n),
                            rng.uniform(0.2, 1.5, n), 1.3)  # fmt: skip
    return source, option_region


@pytest.mark.parametrize("seed", range(3))
def test_count_within_equals_dense_rows(seed: int) -> None:
    source, _ = _points(seed, n=150)
    dense = np.asarray(source(np.arange(150)), float)
    rng = np.random.default_rng(seed)
    threshold = np.quantile(dense, rng.uniform(0.05, 0.6, 150), axis=1).diagonal()
    fast = count_within(source, 150, dense.shape[1], threshold)
    slow = np.count_nonzero(dense <= threshold[:, None], axis=1)
    # float32 rows against a float64 radius: a pair exactly at the threshold may fall either way
    assert np.all(np.abs(fast - slow) <= 1)
    assert np.mean(fast == slow) > 0.95


@pytest.mark.parametrize("seed", range(2))
def test_region_incumbent_route_is_certified_and_equals_the_dense_optimum(seed: int) -> None:
    regions, per_region, n = 4, 12, 400
    source, option_region = _points(seed, n=n, regions=regions, per_region=per_region)
    template = partition_problem(0, n=n, regions=regions, per_region=per_region)
    template = replace(template, demand=np.ones(n), arc_client=np.zeros(0, int), arc_option=np.zeros(0, int),
                       arc_cost=np.zeros(0))  # fmt: skip
    result = solve_sparsified(template, source, k=2, options=SolveOptions(mip_gap=1e-9, backend="highspy"))
    sol = result.solution
    assert result.certified and sol.status == "optimal"
    assert verify_problem(result.problem, sol).ok
    assert "incumbent" in result.history[0]  # the region moves ran after round 1
    m = regions * per_region
    ci, oj = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(m), indexing="ij"))
    dense = replace(template, arc_client=ci, arc_option=oj,
                    arc_cost=np.asarray(source(np.arange(n)), float).ravel())  # fmt: skip
    ref = solve_problem(dense, SolveOptions(backend="pyomo", mip_gap=0.0))
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_without_table_equals_enumeration(seed: int) -> None:
    problem = make_problem(seed, n=8, m=4, single_source=True, capacitated=True, integer=True)
    knap = Knapsacks(problem)
    rng = np.random.default_rng(seed)
    for scale in (5.0, 45.0):  # few profitable items (they all fit: no DP) and many (DP)
        lam = rng.uniform(0, scale, problem.n_clients)
        v, x, _ = knap.evaluate(lam)
        v_table = knap.evaluate(lam, table=True)[0]
        np.testing.assert_allclose(v, v_table, atol=1e-9)
        for j in range(problem.n_options):
            chosen = knap.order[x & (knap.option == j)]
            assert problem.demand[problem.arc_client[chosen]].sum() <= problem.capacity[j] + 1e-9
            value = problem.fixed_cost[j] + (problem.arc_cost[chosen] - lam[problem.arc_client[chosen]]).sum()
            assert value == pytest.approx(v[j], abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_separate_rows_equal_the_dense_optimum(seed: int) -> None:
    """Own-region assignment (source groups = rows): each row is an independent 1-median, solved by evaluating every
    pair once and keeping only the assignment arcs; equal to the Pyomo optimum of the dense problem."""
    from optimizer.solver.partition import partition_groups, separate_regions

    regions, per_region, n = 4, 6, 120
    source, option_region = _points(seed, n=n, regions=regions, per_region=per_region)
    rng = np.random.default_rng(seed)
    client_region = rng.integers(0, regions, n)
    source = replace(source, client_group=client_region, option_group=option_region)
    template = partition_problem(0, n=n, regions=regions, per_region=per_region)
    template = replace(template, demand=np.ones(n), arc_client=np.zeros(0, int), arc_option=np.zeros(0, int),
                       arc_cost=np.zeros(0))  # fmt: skip
    assert separate_regions(source, partition_groups(template)) is not None
    coupled = replace(source, client_group=np.zeros(n, int), option_group=np.zeros(len(option_region), int))
    assert separate_regions(coupled, partition_groups(template)) is None  # any assignment: the rows interact
    result = solve_sparsified(template, source, k=2, options=SolveOptions(mip_gap=0.0, backend="highspy"))
    sol = result.solution
    assert result.certified and result.rounds == 0 and result.problem.n_arcs == n
    assert verify_problem(result.problem, sol).ok
    m = regions * per_region
    ci, oj = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(m), indexing="ij"))
    allowed = client_region[ci] == option_region[oj]
    cost = np.asarray(source(np.arange(n)), float).ravel()
    dense = replace(template, arc_client=ci[allowed], arc_option=oj[allowed], arc_cost=cost[allowed])
    ref = solve_problem(dense, SolveOptions(backend="pyomo", mip_gap=0.0))
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)
