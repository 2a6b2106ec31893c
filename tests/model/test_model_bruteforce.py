"""The MIP against brute-force enumeration on tiny random instances (single- and multi-source)."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import brute_force

from optimizer.check.verify import verify_problem
from optimizer.problem import CountRows, LocationProblem
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem


def random_problem(seed: int, *, single_source: bool, n: int = 5, m: int = 4) -> LocationProblem:
    """Tiny problem: 2 regions, sizes as options at shared sites, land and capacity that can bind."""
    rng = np.random.default_rng(seed)
    n_sites = m // 2 if m >= 2 else 1
    option_site = np.arange(m) % n_sites
    area = rng.choice([1.0, 2.0], size=m)
    ci, oj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    keep = rng.random(ci.size) < 0.8
    keep[np.arange(n) * m] = True  # every client keeps at least one arc
    ci, oj = ci.ravel()[keep], oj.ravel()[keep]
    demand = rng.uniform(1, 4, n)
    region = np.arange(m) % 2
    counts = CountRows.from_groups(
        [np.flatnonzero(region == 0), np.arange(m)], [1, 1], [1, rng.integers(2, m + 1)], ["region0", "total"], m
    )
    return LocationProblem(
        name=f"rand{seed}",
        client_ids=np.array([f"c{i}" for i in range(n)]),
        demand=demand,
        site_ids=np.array([f"s{s}" for s in range(n_sites)]),
        site_free_m2=rng.choice([2.0, 3.0, np.inf], size=n_sites),
        option_ids=np.array([f"o{j}" for j in range(m)]),
        option_site=option_site,
        option_programme=np.array(["p"] * m),
        option_size=np.array(["s"] * m),
        capacity=rng.choice([np.inf, 8.0, 12.0], size=m),
        fixed_cost=rng.uniform(0, 10, m),
        area_m2=area,
        arc_client=ci,
        arc_option=oj,
        arc_cost=rng.uniform(0, 20, len(ci)),
        counts=counts,
        single_source=single_source,
        land_cost_per_m2=float(rng.choice([0.0, 1.5])),
    )


@pytest.mark.parametrize("single_source", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_mip_matches_brute_force(seed: int, single_source: bool) -> None:
    problem = random_problem(seed, single_source=single_source)
    expected = brute_force(problem)
    solution = solve_problem(problem, SolveOptions(mip_gap=0.0))
    if not np.isfinite(expected):
        assert solution.status == "infeasible"
        return
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(expected, rel=1e-7, abs=1e-7)
    report = verify_problem(problem, solution)
    assert report.ok, report.violations
    assert report.objective == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_verifier_rejects_broken_solution() -> None:
    problem = random_problem(3, single_source=True)
    solution = solve_problem(problem)
    assert solution.status == "optimal"
    broken = type(solution)(**{**solution.__dict__, "open_options": np.zeros_like(solution.open_options)})
    assert not verify_problem(problem, broken).ok
    wrong_obj = type(solution)(**{**solution.__dict__, "objective": solution.objective + 1.0})
    assert any("differs" in v for v in verify_problem(problem, wrong_obj).violations)
