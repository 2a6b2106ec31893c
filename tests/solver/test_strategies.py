"""One contract for every solver strategy of the highspy backend: inside its class it finds the Pyomo model's
optimum (and says it was the scheme that ran); outside its class it raises — it never falls back silently.

Problems are drawn by hypothesis *within* each strategy's class, so every example exercises the scheme named
(before, a strategy drawn at random for a random problem fell back to "strong" for most draws and the test
still passed).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_highs_backend import _same_optimum, make_problem

from optimizer.errors import StrategyError
from optimizer.solver import strategies
from optimizer.solver.options import SolveOptions
from optimizer.solver.strategies import applicable, solve_highspy

# strategy -> (the problem class it is made for, what its Solution.solver says)
CLASSES = {
    "plain": ({}, "(plain)"),
    "strong": ({}, "(strong)"),
    "lagrangian": ({"capacitated": st.just(False)}, "(Lagrangian fixing)"),
    "cflp": ({"capacitated": st.just(True), "single_source": st.just(False)}, "(CFLP Lagrangian"),
    "lpfirst": ({}, "(LP first)"),
    # make_problem's demands are integers 1-5: exact knapsacks
    "sscflp": ({"capacitated": st.just(True), "single_source": st.just(True)}, "(single-source knapsack"),
}


def problems_for(strategy: str) -> st.SearchStrategy[dict]:
    """Random small problems of the class ``strategy`` is made for (all classes for plain and strong)."""
    fixed, _ = CLASSES[strategy]
    base = {"seed": st.integers(0, 10_000), "single_source": st.booleans(), "capacitated": st.booleans(),
            "rows": st.sampled_from(["none", "p", "groups"]), "land": st.booleans(), "required": st.booleans(),
            "integer": st.booleans()}
    return st.fixed_dictionaries({**base, **fixed})


def _contract(strategy: str, spec: dict) -> None:
    problem = make_problem(**spec)
    assert applicable(strategy, problem) is None
    ours = _same_optimum(problem, strategy)
    if ours is not None:  # a feasible problem: the scheme named is the one that produced the solution
        marker = CLASSES[strategy][1]
        assert marker in ours.solver or (strategy == "lagrangian" and "after the Lagrangian scheme" in ours.solver), \
            ours.solver


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("plain"))
def test_plain_matches_pyomo(spec: dict) -> None:
    _contract("plain", spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("strong"))
def test_strong_matches_pyomo(spec: dict) -> None:
    _contract("strong", spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("lagrangian"))
def test_lagrangian_matches_pyomo(spec: dict) -> None:
    _contract("lagrangian", spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("cflp"))
def test_cflp_matches_pyomo(spec: dict) -> None:
    _contract("cflp", spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("lpfirst"))
def test_lpfirst_matches_pyomo(spec: dict) -> None:
    _contract("lpfirst", spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=problems_for("sscflp"))
def test_sscflp_matches_pyomo(spec: dict) -> None:
    _contract("sscflp", spec)


@pytest.mark.parametrize(("strategy", "spec", "why"), [
    ("lagrangian", {"capacitated": True}, "uncapacitated"),
    ("lagrangian", {"capacitated": True, "single_source": True}, "uncapacitated"),
    ("cflp", {"capacitated": True, "single_source": True}, "multi-source"),
    ("cflp", {"capacitated": False}, "capacitated problems"),
    ("sscflp", {"capacitated": True}, "single-source"),
    ("sscflp", {"capacitated": False, "single_source": True}, "single-source"),
    ("simplex", {}, "unknown highspy strategy"),
])
def test_a_strategy_outside_its_class_raises(strategy: str, spec: dict, why: str) -> None:
    problem = make_problem(3, **spec)
    with pytest.raises(StrategyError, match=why):
        solve_highspy(problem, SolveOptions(time_limit_s=10), strategy=strategy)


def test_every_class_has_its_scheme_under_auto() -> None:
    """``auto`` never raises: it picks the scheme of the problem's class."""
    for spec in ({"capacitated": False}, {"capacitated": True}, {"capacitated": True, "single_source": True}):
        problem = make_problem(4, **spec)
        chosen = strategies.choose_strategy(problem)
        assert applicable(chosen, problem) is None
        sol = solve_highspy(problem, SolveOptions(time_limit_s=10, mip_gap=0.0))
        assert CLASSES[chosen][1] in sol.solver or "after the Lagrangian" in sol.solver


def test_the_one_fallback_left_is_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the Lagrangian scheme finds no incumbent to start from, the strengthened model is solved — and the
    solution says so (``solver``), so a caller can tell which scheme produced it."""
    monkeypatch.setattr(strategies, "solve_with_fixing", lambda problem, options: None)
    problem = make_problem(5, capacitated=False, rows="p")
    sol = solve_highspy(problem, SolveOptions(time_limit_s=10, mip_gap=0.0), strategy="lagrangian")
    assert sol.status == "optimal"
    assert "(strong)" in sol.solver and "after the Lagrangian scheme found no incumbent" in sol.solver


def test_solves_with_different_thread_counts_in_one_process() -> None:
    """HiGHS keeps one thread scheduler per process: a solve asking for another thread count than the one before
    ended without a solution (Pyomo) or with a poor one (highspy) until the adapter reset the scheduler."""
    from optimizer.solver.solve import solve_problem

    problem = make_problem(6, n=12, m=6, capacitated=True, single_source=True, integer=True)
    results = []
    for backend in ("pyomo", "highspy"):
        for threads in (None, 1, 2, 1):
            sol = solve_problem(problem, SolveOptions(backend=backend, threads=threads, mip_gap=0.0))
            assert sol.status == "optimal", (backend, threads, sol.status)
            results.append(sol.objective)
    assert np.allclose(results, results[0])
