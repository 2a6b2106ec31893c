"""Coverage models (LSCP, MCLP, p-center, p-median with a service distance) against brute force, spopt's own
expected values, and the independent verifier on tampered solutions."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from bruteforce import feasible_open_sets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.check.verify_coverage import verify_coverage
from optimizer.errors import VerificationError as CoverageVerificationError
from optimizer.model.coverage import CoverageSpec
from optimizer.output.equity import equity_figures, weighted_quantile
from optimizer.problem import CountRows, LocationProblem, Status
from optimizer.solver.coverage import solve_coverage
from optimizer.solver.options import SolveOptions
from tests.conftest import SHARED

SPOPT = SHARED / "benchmarks" / "spopt-locate-tests"
needs_spopt_cases = pytest.mark.skipif(not SPOPT.is_dir(), reason="../shared is absent: spopt cases skipped")


# ----------------------------------------------------------------------------------------------------------------
# tiny problems and their brute force
# ----------------------------------------------------------------------------------------------------------------


def make_problem(
    client_xy: np.ndarray,
    option_xy: np.ndarray,
    demand: np.ndarray,
    *,
    drop: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    group_at_most_one: list[int] | None = None,
    area_m2: np.ndarray | None = None,
    site_of: np.ndarray | None = None,
    free_m2: np.ndarray | None = None,
    required: list[int] | None = None,
    single_source: bool = True,
) -> LocationProblem:
    """Euclidean arcs (km) with cost = demand × km; ``drop`` (n × m bool) removes arcs."""
    n, m = len(client_xy), len(option_xy)
    km = np.hypot(*(client_xy[:, None, :] - option_xy[None, :, :]).transpose(2, 0, 1))
    allowed = np.ones((n, m), bool) if drop is None else ~drop
    ac, ao = np.nonzero(allowed)
    site_of = np.arange(m) if site_of is None else site_of
    n_sites = int(site_of.max()) + 1
    counts = CountRows.empty(m)
    if group_at_most_one:
        counts = CountRows.from_groups([np.array(group_at_most_one)], [0], [1], ["at most one in group"], m)
    req = None
    if required:
        req = np.zeros(m, bool)
        req[required] = True
    return LocationProblem(
        name="tiny",
        client_ids=np.array([f"c{i}" for i in range(n)]),
        demand=np.asarray(demand, float),
        site_ids=np.array([f"s{s}" for s in range(n_sites)]),
        site_free_m2=np.full(n_sites, np.inf) if free_m2 is None else np.asarray(free_m2, float),
        option_ids=np.array([f"f{j}" for j in range(m)]),
        option_site=np.asarray(site_of),
        option_programme=np.zeros(m, dtype=int),
        option_size=np.zeros(m, dtype=int),
        capacity=np.full(m, np.inf) if capacity is None else np.asarray(capacity, float),
        fixed_cost=np.arange(1, m + 1, dtype=float),
        area_m2=np.full(m, 100.0) if area_m2 is None else np.asarray(area_m2, float),
        arc_client=ac,
        arc_option=ao,
        arc_cost=np.asarray(demand, float)[ac] * km[ac, ao],
        counts=counts,
        single_source=single_source,
        required=req,
        arc_km=km[ac, ao],
    )


def dist_table(problem: LocationProblem) -> np.ndarray:
    """Dense client × option distance (inf where no arc), written out pair by pair for the brute force."""
    d = np.full((problem.n_clients, problem.n_options), np.inf)
    for a in range(problem.n_arcs):
        i, j = problem.arc_client[a], problem.arc_option[a]
        d[i, j] = min(d[i, j], problem.arc_km[a])
    return d


def cost_table(problem: LocationProblem) -> np.ndarray:
    c = np.full((problem.n_clients, problem.n_options), np.inf)
    for a in range(problem.n_arcs):
        c[problem.arc_client[a], problem.arc_option[a]] = problem.arc_cost[a]
    return c


def single_source_assignments(problem: LocationProblem, y: np.ndarray, allowed: np.ndarray, must: np.ndarray):
    """Every map client → open option over ``allowed`` pairs that respects capacities (``None``: a client that
    need not be served and is not)."""
    choices = [[j for j in np.flatnonzero(y) if allowed[i, j]] if must[i] else [None] for i in range(problem.n_clients)]
    if any(not c for c in choices):
        return
    for pick in itertools.product(*choices):
        load = np.zeros(problem.n_options)
        for i, j in enumerate(pick):
            if j is not None:
                load[j] += problem.demand[i]
        if (load <= problem.capacity + 1e-9).all():
            yield pick


def brute(problem: LocationProblem, spec: CoverageSpec) -> float:
    """Optimum by enumeration (``inf``/``-inf`` when infeasible)."""
    d = dist_table(problem)
    if spec.model == "pcenter" and spec.service_km is not None:
        d = np.where(d <= spec.service_km, d, np.inf)  # the cap: farther arcs do not exist
    must = np.ones(problem.n_clients, bool) if spec.cover_zero_demand else problem.demand > 0
    if spec.cover == "reachable" and spec.service_km is not None:
        must &= d.min(axis=1) <= spec.service_km  # clients no candidate reaches are left out
    best = -np.inf if spec.model == "mclp" else np.inf
    for y in feasible_open_sets(problem, spec.p):
        near = np.where(y[None, :], d, np.inf).min(axis=1) if y.any() else np.full(problem.n_clients, np.inf)
        if spec.model == "lscp":
            if (near[must] <= spec.service_km).all():
                val = y.sum() if spec.lscp_objective == "count" else float(problem.option_cost() @ y)
                best = min(best, val)
        elif spec.model == "mclp":
            best = max(best, float(problem.demand[near <= spec.service_km].sum()))
        elif spec.model == "pcenter" and np.isinf(problem.capacity).all():
            best = min(best, float(near[must].max(initial=0.0)))
        elif spec.model == "pcenter":
            for pick in single_source_assignments(problem, y, np.isfinite(d), must):
                best = min(best, max((d[i, j] for i, j in enumerate(pick) if j is not None), default=0.0))
        elif spec.model == "pmedian_max":
            c = cost_table(problem)
            within = d <= spec.service_km
            opening = float(problem.option_cost() @ y)
            if np.isinf(problem.capacity).all():
                cc = np.where(y[None, :] & within, c, np.inf).min(axis=1)[must]
                if np.isfinite(cc).all():
                    best = min(best, float(cc.sum()) + opening)
            else:
                for pick in single_source_assignments(problem, y, within, must):
                    best = min(best, sum(c[i, j] for i, j in enumerate(pick) if j is not None) + opening)
    return float(best)


@st.composite
def tiny_cases(draw, model: str, capacitated: bool = False):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 5))
    coord = st.integers(0, 12)
    cxy = np.array([[draw(coord), draw(coord)] for _ in range(n)], float)
    oxy = np.array([[draw(coord), draw(coord)] for _ in range(m)], float)
    demand = np.array([draw(st.integers(0, 5)) for _ in range(n)], float)
    drop = np.array([[draw(st.booleans()) and draw(st.booleans()) for _ in range(m)] for _ in range(n)])
    drop[np.arange(n), np.array([draw(st.integers(0, m - 1)) for _ in range(n)])] = False  # each client keeps an arc
    capacity = None
    if capacitated:
        capacity = np.array([draw(st.sampled_from([4.0, 6.0, 10.0, np.inf])) for _ in range(m)])
    group = None
    if m >= 2:
        group = draw(st.one_of(st.none(), st.lists(st.integers(0, m - 1), min_size=2, max_size=m, unique=True)))
    shared_site = draw(st.booleans()) and m >= 2
    site_of = np.array([0, 0] + list(range(1, m - 1))) if shared_site else None
    free = None if not shared_site else np.full(m - 1, np.inf)
    if shared_site and draw(st.booleans()):
        free[0] = 150.0  # the two options on site 0 (100 m² each) cannot both open
    required = draw(st.one_of(st.just([]), st.lists(st.integers(0, m - 1), max_size=1)))
    problem = make_problem(cxy, oxy, demand, drop=drop, capacity=capacity, group_at_most_one=group,
                           site_of=site_of, free_m2=free, required=required)  # fmt: skip
    km = np.unique(problem.arc_km)
    service = float(draw(st.sampled_from(list(km) + [float(km.max()) * 0.5, 3.0])))
    p = draw(st.one_of(st.none(), st.integers(1, m))) if model in ("lscp", "pmedian_max") else draw(st.integers(1, m))
    spec = CoverageSpec(
        model,
        service_km=None if model == "pcenter" and draw(st.booleans()) else service,  # p-center: an optional cap
        p=p,
        lscp_objective=draw(st.sampled_from(["count", "cost"])),
        cover_zero_demand=draw(st.booleans()),
        cover=draw(st.sampled_from(["all", "reachable"])),
    )
    return problem, spec


def check_against_brute(problem: LocationProblem, spec: CoverageSpec) -> None:
    expected = brute(problem, spec)
    sol = solve_coverage(problem, spec)
    if not np.isfinite(expected):
        assert sol.status == "infeasible", (expected, sol.status, sol.objective)
        return
    assert sol.status == "optimal", (sol.status, sol.message, sol.log)
    assert sol.objective == pytest.approx(expected, rel=1e-9, abs=1e-9)
    report = verify_coverage(problem, spec, sol)
    assert report.ok, report.violations
    assert report.objective == pytest.approx(expected, rel=1e-9, abs=1e-9)


TINY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@TINY
@given(tiny_cases("lscp"))
def test_lscp_matches_brute_force(case):
    check_against_brute(*case)


@TINY
@given(tiny_cases("mclp"))
def test_mclp_matches_brute_force(case):
    check_against_brute(*case)


@TINY
@given(tiny_cases("pcenter"))
def test_pcenter_matches_brute_force(case):
    check_against_brute(*case)


@TINY
@given(tiny_cases("pcenter", capacitated=True))
def test_capacitated_single_source_pcenter_matches_brute_force(case):
    check_against_brute(*case)


@TINY
@given(tiny_cases("pmedian_max"))
def test_pmedian_with_service_distance_matches_brute_force(case):
    check_against_brute(*case)


@TINY
@given(tiny_cases("pmedian_max", capacitated=True))
def test_capacitated_pmedian_with_service_distance_matches_brute_force(case):
    check_against_brute(*case)


# ----------------------------------------------------------------------------------------------------------------
# the verifier rejects tampered solutions
# ----------------------------------------------------------------------------------------------------------------


def line_problem() -> LocationProblem:
    """Clients at x = 0, 1, 5, 6, 10 on a line; options at x = 0, 5, 10, 3 (km)."""
    cxy = np.array([[0, 0], [1, 0], [5, 0], [6, 0], [10, 0]], float)
    oxy = np.array([[0, 0], [5, 0], [10, 0], [3, 0]], float)
    return make_problem(cxy, oxy, np.array([1.0, 2.0, 3.0, 4.0, 5.0]))


def test_verifier_rejects_lscp_solution_that_leaves_a_client_uncovered():
    problem = line_problem()
    spec = CoverageSpec("lscp", service_km=1.5)
    sol = solve_coverage(problem, spec)
    assert sol.status == "optimal" and sol.objective == 3  # options at 0, 5 and 10
    verify_coverage(problem, spec, sol).raise_if_failed()
    tampered = replace(sol, open_options=sol.open_options.copy())
    tampered.open_options[2] = False  # close the option at x = 10: client at 10 is 4 km from the one at 5
    tampered.objective = 2.0
    tampered.bound = 2.0
    tampered.covered = sol.covered  # still claims everyone is covered
    with pytest.raises(CoverageVerificationError, match="not covered|reported covered"):
        verify_coverage(problem, spec, tampered).raise_if_failed()


def test_verifier_rejects_mclp_miscounted_coverage():
    problem = line_problem()
    spec = CoverageSpec("mclp", service_km=1.5, p=1)
    sol = solve_coverage(problem, spec)
    assert sol.objective == pytest.approx(7.0)  # option at 5 covers clients at 5 and 6 (3 + 4)
    verify_coverage(problem, spec, sol).raise_if_failed()
    overcount = replace(sol, objective=sol.objective + 1.0, bound=sol.objective + 1.0)
    with pytest.raises(CoverageVerificationError, match="objective"):
        verify_coverage(problem, spec, overcount).raise_if_failed()
    wrong_mask = replace(sol, covered=sol.covered.copy())
    wrong_mask.covered[4] = True  # claims the client at x = 10 is covered
    with pytest.raises(CoverageVerificationError, match="reported covered"):
        verify_coverage(problem, spec, wrong_mask).raise_if_failed()


def test_verifier_rejects_pcenter_objective_that_is_not_the_real_max_distance():
    problem = line_problem()
    spec = CoverageSpec("pcenter", p=2)
    sol = solve_coverage(problem, spec)
    report = verify_coverage(problem, spec, sol).raise_if_failed()
    assert sol.objective == pytest.approx(report.client_distance.max())
    second = np.sort(np.unique(report.client_distance))[-2]
    tampered = replace(sol, objective=float(second), bound=float(second))
    with pytest.raises(CoverageVerificationError, match="pcenter objective"):
        verify_coverage(problem, spec, tampered).raise_if_failed()


def test_verifier_rejects_pmedian_assignment_beyond_the_service_distance():
    problem = line_problem()
    spec = CoverageSpec("pmedian_max", service_km=3.0, p=2)
    sol = solve_coverage(problem, spec)
    verify_coverage(problem, spec, sol).raise_if_failed()
    share = np.zeros(problem.n_arcs)
    share[sol.arc_share > 0] = 1.0
    # move client c4 (x = 10) onto an open option more than 3 km away
    open_opts = np.flatnonzero(sol.open_options)
    far = [a for a in range(problem.n_arcs) if problem.arc_client[a] == 4 and problem.arc_option[a] in open_opts
           and problem.arc_km[a] > 3.0]  # fmt: skip
    assert far, "the instance must have a far open option for client c4"
    share[problem.arc_client == 4] = 0.0
    share[far[0]] = 1.0
    tampered = replace(sol, arc_share=share, objective=float(problem.arc_cost @ share + problem.option_cost() @ sol.open_options))
    with pytest.raises(CoverageVerificationError, match="beyond the service distance"):
        verify_coverage(problem, spec, tampered).raise_if_failed()


def test_verifier_rejects_rows_broken_by_the_open_set():
    problem = make_problem(np.array([[0, 0], [9, 0]], float), np.array([[0, 0], [9, 0]], float), np.ones(2),
                           required=[0], group_at_most_one=[0, 1])  # fmt: skip
    spec = CoverageSpec("lscp", service_km=1.0)
    assert solve_coverage(problem, spec).status == "infeasible"  # both needed, at most one allowed
    both = replace(solve_coverage(problem, CoverageSpec("lscp", service_km=20.0)))
    both.open_options = np.array([True, True])
    both.objective = both.bound = 2.0
    with pytest.raises(CoverageVerificationError, match="at most one in group"):
        verify_coverage(problem, spec, both).raise_if_failed()


def test_lscp_names_uncoverable_clients():
    problem = line_problem()
    sol = solve_coverage(problem, CoverageSpec("lscp", service_km=0.5))
    assert sol.status == "infeasible"
    assert "c1" in sol.message and "c3" in sol.message


def test_pcenter_time_limit_keeps_an_honest_bound():
    rng = np.random.default_rng(3)
    problem = make_problem(rng.uniform(0, 100, (300, 2)), rng.uniform(0, 100, (60, 2)), rng.integers(1, 9, 300))
    spec = CoverageSpec("pcenter", p=8)
    full = solve_coverage(problem, spec)
    assert full.status == "optimal"
    cut = solve_coverage(problem, spec, SolveOptions(time_limit_s=0.0))
    assert cut.status in ("feasible", "no_solution")
    if cut.has_solution:
        assert cut.bound <= full.objective + 1e-9 <= cut.objective + 1e-9
        verify_coverage(problem, spec, cut).raise_if_failed()


# ----------------------------------------------------------------------------------------------------------------
# equity figures
# ----------------------------------------------------------------------------------------------------------------


def test_equity_figures_by_hand():
    d = np.array([1.0, 2.0, 4.0, 10.0])
    w = np.array([50.0, 30.0, 15.0, 5.0])
    eq = equity_figures(d, w, within_km=(2.0, 5.0))
    assert eq["max_km"] == 10.0
    assert eq["p95_km"] == 4.0  # 95 % of the demand lives within 4 km
    assert eq["mean_km"] == pytest.approx((50 + 60 + 60 + 50) / 100)
    assert eq["share_within"] == {"2": pytest.approx(0.8), "5": pytest.approx(0.95)}
    assert weighted_quantile(d, w, 0.5) == 1.0
    half = equity_figures(np.array([1.0, np.inf]), np.array([1.0, 1.0]))
    assert half["unserved_share"] == 0.5 and half["max_km"] is None and half["mean_km"] is None
    assert equity_figures(np.array([7.0, 1.0]), np.array([0.0, 2.0]))["max_km"] == 1.0  # no demand, no say


# ----------------------------------------------------------------------------------------------------------------
# spopt's own expected values (../shared/benchmarks/spopt-locate-tests/expected.csv)
# ----------------------------------------------------------------------------------------------------------------


def matrix(dist: np.ndarray, weight: np.ndarray, required=None) -> LocationProblem:
    from optimizer.data.matrix import matrix_problem

    return matrix_problem(weight, None, np.zeros(dist.shape[1]), dist, required=required)


def lattice(kind: str) -> tuple[np.ndarray, np.ndarray]:
    dist = pd.read_csv(SPOPT / "synthetic" / f"lattice_{kind}_distances.csv", index_col=0)
    weight = pd.read_csv(SPOPT / "synthetic" / f"lattice_{kind}_weights.csv", index_col=0)["weight"]
    return dist.to_numpy(float), weight.reindex(dist.index).to_numpy(float)


def san_francisco() -> tuple[np.ndarray, np.ndarray]:
    """spopt's SF test matrix: tracts × 16 stores (network distance, m) and POP2000 per tract."""
    raw = pd.read_csv(SPOPT / "data" / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    piv = raw.pivot_table(values="distance", index="DestinationName", columns="name")
    weight = raw.drop_duplicates("DestinationName").set_index("DestinationName")["demand"].reindex(piv.index)
    return piv.to_numpy(float), weight.to_numpy(float)


def solved(problem: LocationProblem, spec: CoverageSpec):
    sol = solve_coverage(problem, spec)
    assert sol.status == "optimal"
    verify_coverage(problem, spec, sol).raise_if_failed()
    return sol


@needs_spopt_cases
def test_spopt_lscp_synthetic_radius_8_opens_3():
    dist, w = lattice("network")
    assert solved(matrix(dist, w), CoverageSpec("lscp", service_km=8)).objective == 3


@needs_spopt_cases
def test_spopt_lscp_san_francisco_radius_5000_opens_8():
    dist, w = san_francisco()
    assert solved(matrix(dist, w), CoverageSpec("lscp", service_km=5000)).objective == 8


@needs_spopt_cases
def test_spopt_mclp_synthetic_radius_7_p4_leaves_weight_7_uncovered():
    dist, w = lattice("network")
    sol = solved(matrix(dist, w), CoverageSpec("mclp", service_km=7, p=4))
    assert w.sum() == 618 and sol.objective == 611 and int((~sol.covered).sum()) == 1


@needs_spopt_cases
def test_spopt_mclp_san_francisco_radius_5000_p4():
    dist, w = san_francisco()
    sol = solved(matrix(dist, w), CoverageSpec("mclp", service_km=5000, p=4))
    assert w.sum() == 955113 and sol.objective == 955113 - 79866 and int((~sol.covered).sum()) == 21


@needs_spopt_cases
def test_spopt_pcenter_synthetic_p3_with_f3_f4_required():
    dist, w = lattice("euclidean")
    sol = solved(matrix(dist, w, required=[3, 4]), CoverageSpec("pcenter", p=3))
    assert sol.objective == pytest.approx(6.2520432, abs=5e-8)
    assert list(np.flatnonzero(sol.open_options)) == [2, 3, 4]
