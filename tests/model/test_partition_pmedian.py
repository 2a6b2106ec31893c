"""p-median with partition count rows and "any" assignment (the structure of ``fine-2k-500 --set assignment=any``).

Exactly one option per region (one count row per region, lower = upper = 1), uncapacitated, single-source, and
every client may use any option in the whole area (all client × option arcs, cost = demand × distance). The
highspy backend (Lagrangian bound, reduced-cost fixing, Lagrangian tree and HiGHS on the reduced model) must
return the optimum of the Pyomo reference model and of plain HiGHS, verified. No timing assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.check.verify import verify_problem
from optimizer.problem import CountRows, LocationProblem
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem
from optimizer.solver.strategies import choose_strategy, solve_highspy
from optimizer.solver.strategy_strong import solve_plain
from optimizer.solver.strategy_uflp import solve_with_fixing


def partition_problem(seed: int, *, n: int = 120, regions: int = 5, per_region: int = 6) -> LocationProblem:
    """Clients and options scattered around ``regions`` centres; exactly one option per region; any assignment."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.0, 100.0, size=(regions, 2))
    client_region = rng.integers(0, regions, n)
    clients = centres[client_region] + rng.normal(0.0, 12.0, size=(n, 2))
    option_region = np.repeat(np.arange(regions), per_region)
    m = len(option_region)
    options = centres[option_region] + rng.normal(0.0, 10.0, size=(m, 2))
    demand = rng.integers(1, 20, n).astype(float)
    ci, oj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    ci, oj = ci.ravel(), oj.ravel()
    dist = np.hypot(*(clients[ci] - options[oj]).T)
    groups = [np.flatnonzero(option_region == r) for r in range(regions)]
    counts = CountRows.from_groups(groups, np.ones(regions), np.ones(regions), [f"r{r}" for r in range(regions)], m)
    return LocationProblem(
        name=f"partition{seed}",
        client_ids=np.array([f"c{i}" for i in range(n)]),
        demand=demand,
        site_ids=np.array([f"s{j}" for j in range(m)]),
        site_free_m2=np.full(m, np.inf),
        option_ids=np.array([f"o{j}" for j in range(m)]),
        option_site=np.arange(m),
        option_programme=np.array(["bank"] * m),
        option_size=np.array(["large"] * m),
        capacity=np.full(m, np.inf),
        fixed_cost=np.zeros(m),
        area_m2=np.ones(m),
        arc_client=ci,
        arc_option=oj,
        arc_cost=demand[ci] * dist,
        counts=counts,
        single_source=True,
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_partition_any_assignment_equals_reference(seed: int) -> None:
    problem = partition_problem(seed)
    assert choose_strategy(problem) == "lagrangian"
    ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
    plain = solve_plain(problem, SolveOptions(backend="highspy", mip_gap=0.0))
    assert ref.status == "optimal" and plain.status == "optimal"
    assert plain.objective == pytest.approx(ref.objective, rel=1e-7)
    ours = solve_highspy(problem, SolveOptions(backend="highspy", mip_gap=0.0, time_limit_s=30))
    assert ours.status == "optimal", ours.log[-2000:]
    assert ours.objective == pytest.approx(ref.objective, rel=1e-7)
    assert ours.bound <= ref.objective * (1 + 1e-9)
    assert int(ours.open_options.sum()) == 5
    report = verify_problem(problem, ours)
    assert not report.violations, report.violations
    assert report.objective == pytest.approx(ours.objective, rel=1e-9)
    # the same through HiGHS on the reduced model (no Lagrangian tree)
    via_highs = solve_with_fixing(problem, SolveOptions(backend="highspy", mip_gap=0.0, time_limit_s=30), branch=False)
    assert via_highs.status == "optimal", via_highs.log[-2000:]
    assert via_highs.objective == pytest.approx(ref.objective, rel=1e-7)
    assert not verify_problem(problem, via_highs).violations
