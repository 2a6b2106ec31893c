"""The uncapacitated Lagrangian tree (node-level arcs, early stop, row branching, best-first search), region moves
for exactly-one rows, the prune level with a gap, and the sparsified solve's time-limit finish.

Correctness only (brute force, the Pyomo model, the verifier); no timing assertion except that a time-limited
sparsified solve ends near its limit with slack for a shared machine.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))  # tests/model: a shared problem builder

from test_highs_backend import make_problem  # noqa: E402
from test_partition_pmedian import partition_problem  # noqa: E402

from optimizer.solver.lagrangian.uflp import UflLagrangian, lagrangian_bound, reduced_cost_fixing  # noqa: E402
from optimizer.solver.assign import ArcIndex  # noqa: E402
from optimizer.solver.heuristics import incumbent_for, solution_cost  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402
from optimizer.solver.partition import arc_columns, partition_groups, region_descent  # noqa: E402
from optimizer.solver.uncapacitated_tree import branch_and_bound  # noqa: E402
from optimizer.check.verify import verify_problem  # noqa: E402


def _tree_optimum(problem, branching: str, search: str, gap: float = 0.0):  # noqa: ANN001, ANN202
    index = ArcIndex.of(problem)
    start = incumbent_for(problem, index=index)
    ub = solution_cost(problem, *start)
    lr = lagrangian_bound(problem, ub, index=index, max_iter=30)  # a weak root: the tree must do the work
    return branch_and_bound(problem, start, lr.multipliers, index=index, gap=gap, branching=branching,
                            search=search, node_iter=30)  # fmt: skip


@pytest.mark.parametrize("branching", ["flip", "fractional", "row"])
@pytest.mark.parametrize("search", ["depth", "best"])
@pytest.mark.parametrize("seed", [0, 3])
def test_tree_equals_pyomo_on_partition_problems(seed: int, branching: str, search: str) -> None:
    problem = partition_problem(seed, n=60, regions=4, per_region=5)
    ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
    bb = _tree_optimum(problem, branching, search)
    assert bb.finished
    assert bb.upper_bound == pytest.approx(ref.objective, rel=1e-9)
    y, x = bb.incumbent
    assert solution_cost(problem, y, x) == pytest.approx(ref.objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_tree_equals_pyomo_on_pmedian_and_uflp(seed: int) -> None:
    for rows in ("p", "none"):
        problem = make_problem(seed, n=40, m=15, capacitated=False, rows=rows, integer=seed % 2 == 0)
        ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
        bb = _tree_optimum(problem, "auto", "depth")
        assert bb.finished and bb.upper_bound == pytest.approx(ref.objective, rel=1e-9)


def test_stopped_tree_bound_is_valid() -> None:
    problem = partition_problem(5, n=80, regions=5, per_region=6)
    ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
    index = ArcIndex.of(problem)
    start = incumbent_for(problem, index=index)
    lr = lagrangian_bound(problem, solution_cost(problem, *start), index=index, max_iter=20)
    for search in ("depth", "best"):
        bb = branch_and_bound(problem, start, lr.multipliers, index=index, max_nodes=3, search=search, node_iter=10)
        assert bb.bound <= ref.objective + 1e-6


def test_prune_level_honours_the_gap_on_integer_costs() -> None:
    """With integer costs the level was ``UB − 1 + gap·UB``, above the incumbent for any gap·UB > 1, so a tree
    asked for a 5 % gap could never prune; it must be the lower of ``UB − 1`` and ``UB·(1 − gap)``."""
    problem = make_problem(0, n=20, m=6, capacitated=False, rows="p", integer=True)
    lag = UflLagrangian(problem)
    assert lag.integral
    assert lag.prune_level(1000.0, 0.05) == pytest.approx(950.0)
    assert lag.prune_level(1000.0, 0.0) == pytest.approx(999.0 + 1e-6)
    assert lag.prune_level(1000.0, 1e-6) == pytest.approx(999.0 + 1e-6)


def test_node_arc_reduction_keeps_the_optimum() -> None:
    """Reduced-cost fixing at the root and node-level arcs never remove the optimal solution's arcs."""
    problem = partition_problem(2, n=90, regions=5, per_region=6)
    ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
    index = ArcIndex.of(problem)
    start = incumbent_for(problem, index=index)
    ub = solution_cost(problem, *start)
    lr = lagrangian_bound(problem, ub, index=index)
    fix_closed, fix_open, keep = reduced_cost_fixing(problem, lr, ub)
    keep |= start[1] > 0
    from dataclasses import replace

    kept = np.flatnonzero(keep)
    sub = replace(problem, arc_client=problem.arc_client[kept], arc_option=problem.arc_option[kept],
                  arc_cost=problem.arc_cost[kept])  # fmt: skip
    bb = branch_and_bound(sub, (start[0], start[1][kept]), lr.multipliers, forced_open=fix_open & start[0],
                          forced_closed=fix_closed & ~start[0], branching="row")  # fmt: skip
    assert bb.finished and bb.upper_bound == pytest.approx(ref.objective, rel=1e-9)


def _brute_partition(problem, groups):  # noqa: ANN001, ANN202
    cost = np.full((problem.n_clients, problem.n_options), np.inf)
    cost[problem.arc_client, problem.arc_option] = problem.arc_cost
    best = np.inf
    for pick in itertools.product(*groups):
        pick = list(pick)
        best = min(best, cost[:, pick].min(axis=1).sum() + problem.option_cost()[pick].sum())
    return best


@pytest.mark.parametrize("seed", range(4))
def test_region_descent_is_feasible_and_never_worse(seed: int) -> None:
    problem = partition_problem(seed, n=50, regions=3, per_region=5)
    groups = partition_groups(problem)
    assert groups is not None and len(groups) == 3
    start = np.zeros(problem.n_options, bool)
    start[[g[0] for g in groups]] = True
    y, value = region_descent(arc_columns(problem), groups, problem.option_cost(), start)
    assert all(y[g].sum() == 1 for g in groups)
    cost = np.full((problem.n_clients, problem.n_options), np.inf)
    cost[problem.arc_client, problem.arc_option] = problem.arc_cost
    assert value == pytest.approx(cost[:, y].min(axis=1).sum() + problem.option_cost()[y].sum())
    assert value <= cost[:, start].min(axis=1).sum() + 1e-9
    assert value >= _brute_partition(problem, groups) - 1e-9
    # a local optimum: no single region's move improves it
    for g in groups:
        for j in g:
            alt = y.copy()
            alt[g] = False
            alt[j] = True
            assert cost[:, alt].min(axis=1).sum() >= value - 1e-9


def test_partition_groups_rejects_other_structures() -> None:
    assert partition_groups(make_problem(0, capacitated=False, rows="p")) is None
    assert partition_groups(make_problem(0, capacitated=False, rows="none")) is None


def test_sparsified_time_limit_finish_is_a_verified_dense_solution() -> None:
    """A sparsified any-assignment solve stopped by its limit returns a dense solution (nearest open option after
    region moves, or a time-limited round whose relaxation uses no beyond arc), verified, with the best relaxation
    bound, and stays near its limit."""
    from optimizer.model.arcs import PointArcSource
    from optimizer.solver.sparsified import solve_sparsified

    rng = np.random.default_rng(4)
    regions, per_region, n = 6, 40, 3000
    centres = rng.uniform(0, 100_000, (regions, 2))
    cxy = centres[rng.integers(0, regions, n)] + rng.normal(0, 15_000, (n, 2))
    option_region = np.repeat(np.arange(regions), per_region)
    oxy = centres[option_region] + rng.normal(0, 12_000, (len(option_region), 2))
    source = PointArcSource(cxy, oxy, np.zeros(n, int), np.zeros(len(oxy), int), rng.uniform(0.5, 2.0, n),
                            rng.uniform(0.5, 2.0, n), 1.3)  # fmt: skip
    template = partition_problem(0, n=n, regions=regions, per_region=per_region)
    from dataclasses import replace

    template = replace(template, demand=np.ones(n), arc_client=np.zeros(0, int), arc_option=np.zeros(0, int),
                       arc_cost=np.zeros(0))  # fmt: skip
    limit = 3.0
    t0 = time.perf_counter()
    result = solve_sparsified(template, source, k=4, options=SolveOptions(time_limit_s=limit, mip_gap=1e-9, backend="highspy"))
    wall = time.perf_counter() - t0
    sol = result.solution
    assert sol.has_solution
    # stopped by the deadline: the finish (nearest open option) or a time-limited round without beyond arcs
    assert "nearest open option" in sol.solver or "(sparsified, time limit)" in sol.solver, sol.solver
    assert verify_problem(result.problem, sol).ok
    best_round = max(h["bound"] for h in result.history if np.isfinite(h["bound"]))
    assert sol.bound == pytest.approx(min(best_round, sol.objective))
    assert wall < limit + 15.0  # ample slack on a shared machine; the old rounds took ≥ 1 s each past the limit
