"""The single-source knapsack Lagrangian (optimizer.solver.sscflp) against enumeration and published optima.

* the 0-1 knapsack DP (values and the chosen sets) equals enumeration of every subset, per facility;
* the bound is ≤ the brute-force optimum and the arc fixing keeps every arc of a solution within the level;
* the whole scheme returns the brute-force optimum, verified, on tiny random problems with count rows, land,
  required options and forbidden arcs, and the published optimum on Holmberg p1–p12 (when ../shared is present).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: bruteforce

from bruteforce import brute_force  # noqa: E402
from test_highs_backend import make_problem  # noqa: E402

from optimizer.bench.readers import benchmark_set, benchmarks_available  # noqa: E402
from optimizer.check.verify import verify_problem  # noqa: E402
from optimizer.solver.assign import gap_local_search  # noqa: E402
from optimizer.solver.lagrangian.knapsack import Knapsacks  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402
from optimizer.solver.sscflp import SscflpLagrangian, _start_multipliers, applicable, solve_sscflp  # noqa: E402
from optimizer.solver.strategies import choose_strategy  # noqa: E402


def _single(seed: int, **kw) -> object:
    kw.setdefault("n", 7)
    kw.setdefault("m", 4)
    return make_problem(seed, single_source=True, capacitated=True, integer=True, **kw)


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_dp_equals_enumeration(seed: int) -> None:
    problem = _single(seed, n=8, m=4)
    knap = Knapsacks(problem)
    assert knap.exact
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 45, problem.n_clients)
    v, x, table = knap.evaluate(lam, table=True)
    for j in range(problem.n_options):
        arcs = np.flatnonzero(problem.arc_option == j)
        red = problem.arc_cost[arcs] - lam[problem.arc_client[arcs]]
        weight = problem.demand[problem.arc_client[arcs]]
        best = 0.0
        for pick in itertools.product([0, 1], repeat=len(arcs)):
            pick = np.array(pick, bool)
            if weight[pick].sum() <= problem.capacity[j] + 1e-9:
                best = min(best, float(red[pick].sum()))
        assert v[j] - problem.fixed_cost[j] == pytest.approx(best, abs=1e-9)
        chosen = knap.order[x & (knap.option == j)]  # the DP's chosen set: feasible and of that value
        assert problem.demand[problem.arc_client[chosen]].sum() <= problem.capacity[j] + 1e-9
        assert (problem.arc_cost[chosen] - lam[problem.arc_client[chosen]]).sum() == pytest.approx(best, abs=1e-9)
        assert table[j, knap.cap[j]] == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_bound_and_fixing_are_valid(seed: int) -> None:
    problem = _single(seed, n=7, m=4)
    opt = brute_force(problem)
    if not np.isfinite(opt):
        return
    lag = SscflpLagrangian(problem)
    lag.ub = opt + 1.0
    res = lag.run(_start_multipliers(problem, None), heuristic_every=0)
    assert res.bound <= opt + 1e-9
    lag.ub = opt + 1.0  # (the run may have found the optimum) integer costs: the level is ub − 1 + ε ≥ opt
    fix_closed, fix_open, keep = lag.fixing(res)
    # every optimal solution (enumerated) uses only kept arcs and respects the option fixings
    arcs_of = [np.flatnonzero(problem.arc_client == i) for i in range(problem.n_clients)]
    for pick in itertools.product(*arcs_of):
        pick = np.array(pick)
        y = np.zeros(problem.n_options, bool)
        y[problem.arc_option[pick]] = True
        load = np.bincount(problem.arc_option[pick], weights=problem.demand, minlength=problem.n_options)
        if np.any(load > problem.capacity + 1e-9):
            continue
        x = np.zeros(problem.n_arcs)
        x[pick] = 1.0
        if not lag.feas.feasible(y):
            continue
        cost = float(problem.arc_cost[pick].sum() + problem.option_cost()[y].sum())
        if cost <= opt + 1e-9:
            assert keep[pick].all(), (seed, pick)
            assert not (y & fix_closed).any() and not (fix_open & ~y).any()


@pytest.mark.parametrize("seed", range(8))
def test_root_stops_when_the_bound_stalls(seed: int) -> None:
    # the root's stall rule (sscflp.ROOT_STALL_WINDOW) only ends the subgradient earlier: the bound stays valid
    problem = _single(seed, n=30, m=8)
    opt = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0)).objective  # the reference model
    runs = {}
    for window in (None, 50):
        lag = SscflpLagrangian(problem)
        lag.ub = opt + 1.0
        runs[window] = lag.run(_start_multipliers(problem, None), heuristic_every=0, stall_window=window)
        assert runs[window].bound <= opt + 1e-9
    # these relaxations stall long before theta runs out (331 steps without the rule): it stops at a window's end
    assert runs[50].iterations < runs[None].iterations and runs[50].iterations % 50 == 0


@pytest.mark.parametrize("seed", range(24))
def test_scheme_matches_brute_force(seed: int) -> None:
    rows = ("none", "p", "groups")[seed % 3]
    problem = _single(seed, n=7, m=5, rows=rows, land=seed % 4 == 1, required=seed % 5 == 2)
    assert applicable(problem)
    opt = brute_force(problem)
    sol = solve_sscflp(problem, SolveOptions(mip_gap=0.0, time_limit_s=60))
    if not np.isfinite(opt):
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal", sol.log
    assert sol.objective == pytest.approx(opt, abs=1e-6)
    assert sol.bound <= opt + 1e-6
    report = verify_problem(problem, sol)
    assert report.ok, report.violations


@pytest.mark.parametrize("seed", range(3))
def test_larger_instances_match_pyomo(seed: int) -> None:
    """40 × 12: big enough for the tree, its leaves (assignment MIPs) and the fixing to act."""
    problem = make_problem(seed, n=40, m=12, single_source=True, capacitated=True, integer=True)
    ref = solve_problem(problem, SolveOptions(backend="pyomo", mip_gap=0.0))
    ours = solve_sscflp(problem, SolveOptions(mip_gap=0.0, time_limit_s=60))
    assert ref.status == ours.status == "optimal", ours.log
    assert ours.objective == pytest.approx(ref.objective)
    assert verify_problem(problem, ours).ok


def test_routing_and_local_search() -> None:
    single = _single(1)
    assert choose_strategy(single) == "sscflp"
    # fractional demands without a fine common grid: the strengthened rows instead
    frac = make_problem(1, single_source=True, capacitated=True)
    frac = type(frac)(**{**frac.__dict__, "demand": frac.demand + 0.123456789})
    assert not applicable(frac) and choose_strategy(frac) == "lpfirst"  # small: HiGHS' LP first
    big = make_problem(1, n=250, m=60, single_source=True, capacitated=True)
    big = type(big)(**{**big.__dict__, "demand": big.demand + 0.123456789})
    assert not applicable(big) and choose_strategy(big) == "strong"
    # shift/swap moves never worsen an assignment nor break a capacity
    from optimizer.solver.assign import assign_single_source
    from optimizer.solver.heuristics import solution_cost

    for seed in range(5):
        problem = make_problem(seed, n=30, m=6, single_source=True, capacitated=True, integer=True)
        y = np.ones(problem.n_options, bool)
        x = assign_single_source(problem, y)
        if x is None:
            continue
        better = gap_local_search(problem, y, x)
        assert solution_cost(problem, y, better) <= solution_cost(problem, y, x) + 1e-9
        load = np.bincount(problem.arc_option, weights=better * problem.demand[problem.arc_client],
                           minlength=problem.n_options)  # fmt: skip
        assert np.all(load <= problem.capacity + 1e-9)
        assert np.all(np.bincount(problem.arc_client, weights=better, minlength=problem.n_clients) == 1)


@pytest.mark.skipif(not benchmarks_available(), reason="../shared/benchmarks is absent")
def test_holmberg_subset_published_optima() -> None:
    """Holmberg p1–p12 through the default path (this scheme) equal the published optima, verified."""
    for case in benchmark_set("holmberg")[:12]:
        problem = case.load()
        sol = solve_problem(problem, SolveOptions(time_limit_s=120))
        assert sol.status == "optimal", case.name
        assert sol.objective == pytest.approx(case.known, abs=1e-6), case.name
        assert verify_problem(problem, sol).ok, case.name
        assert "knapsack Lagrangian" in sol.solver
