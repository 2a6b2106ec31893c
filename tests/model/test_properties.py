"""Property-based tests (hypothesis) on random tiny facility-location problems.

Each example is a ``random_problem`` of ``tests/model/test_model_bruteforce.py`` (2 regions, shared sites, land and
capacity that can bind, single- or multi-source) drawn by seed. Properties:

* the MIP optimum equals brute-force enumeration (``tests/bruteforce.py``), and the verifier accepts it;
* adding a candidate (an option on a new site) never worsens the optimum;
* scaling every cost by ``k`` scales the optimum by ``k``;
* permuting the client order does not change the optimum;
* the verifier rejects the optimal solution with any single constraint broken.

Examples are tiny and few (``max_examples``) so the file runs in well under a minute; ``deadline=None`` because a
solve occasionally takes longer than hypothesis' default 200 ms.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sps
from bruteforce import brute_force
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_bruteforce import random_problem

from optimizer.check.verify import verify_problem
from optimizer.problem import CountRows, LocationProblem
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

OPTS = SolveOptions(mip_gap=0.0, backend="highspy")
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(min_value=0, max_value=10_000)
sources = st.booleans()


def _optimum(problem: LocationProblem) -> float:
    sol = solve_problem(problem, OPTS)
    if sol.status == "infeasible":
        return np.inf
    assert sol.status == "optimal", sol.status
    assert verify_problem(problem, sol).ok
    return sol.objective


def _close(a: float, b: float) -> bool:
    if not np.isfinite(a) or not np.isfinite(b):
        return a == b
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@SETTINGS
@given(seed=seeds, single_source=sources)
def test_mip_equals_brute_force(seed: int, single_source: bool) -> None:
    problem = random_problem(seed, single_source=single_source, n=4, m=4)
    assert _close(_optimum(problem), brute_force(problem))


def _with_extra_option(p: LocationProblem, rng: np.random.Generator) -> LocationProblem:
    """One more option on a new site (unlimited land), in the 'total' count row only, with arcs to some clients."""
    m = p.n_options
    clients = np.flatnonzero(rng.random(p.n_clients) < 0.7)
    counts = p.counts
    column = sps.csr_matrix(np.array([[0.0], [1.0]])[: counts.matrix.shape[0]])
    matrix = sps.hstack([counts.matrix, column]).tocsr()
    return dataclasses.replace(
        p,
        site_ids=np.append(p.site_ids, "new"),
        site_free_m2=np.append(p.site_free_m2, np.inf),
        option_ids=np.append(p.option_ids, "o_new"),
        option_site=np.append(p.option_site, len(p.site_ids)),
        option_programme=np.append(p.option_programme, "p"),
        option_size=np.append(p.option_size, "s"),
        capacity=np.append(p.capacity, rng.choice([np.inf, 10.0])),
        fixed_cost=np.append(p.fixed_cost, rng.uniform(0, 10)),
        area_m2=np.append(p.area_m2, 1.0),
        arc_client=np.concatenate([p.arc_client, clients]),
        arc_option=np.concatenate([p.arc_option, np.full(len(clients), m)]),
        arc_cost=np.concatenate([p.arc_cost, rng.uniform(0, 20, len(clients))]),
        counts=CountRows.from_matrix(matrix, counts.lower, counts.upper, counts.names),
    )


@SETTINGS
@given(seed=seeds, single_source=sources)
def test_adding_a_candidate_never_worsens(seed: int, single_source: bool) -> None:
    base = random_problem(seed, single_source=single_source)
    more = _with_extra_option(base, np.random.default_rng(seed + 1))
    more.check_shapes()
    before, after = _optimum(base), _optimum(more)
    assert after <= before + 1e-6 * max(1.0, abs(before)) if np.isfinite(before) else True


@SETTINGS
@given(seed=seeds, single_source=sources, k=st.sampled_from([0.5, 3.0, 1000.0]))
def test_scaling_costs_scales_objective(seed: int, single_source: bool, k: float) -> None:
    base = random_problem(seed, single_source=single_source)
    scaled = dataclasses.replace(base, arc_cost=base.arc_cost * k, fixed_cost=base.fixed_cost * k,
                                 land_cost_per_m2=base.land_cost_per_m2 * k)
    a, b = _optimum(base), _optimum(scaled)
    assert _close(a * k, b) if np.isfinite(a) else not np.isfinite(b)


@SETTINGS
@given(seed=seeds, single_source=sources, perm_seed=st.integers(0, 1000))
def test_client_order_does_not_matter(seed: int, single_source: bool, perm_seed: int) -> None:
    base = random_problem(seed, single_source=single_source)
    perm = np.random.default_rng(perm_seed).permutation(base.n_clients)  # new client i is old client perm[i]
    new_index = np.argsort(perm)
    permuted = dataclasses.replace(base, client_ids=base.client_ids[perm], demand=base.demand[perm],
                                   arc_client=new_index[base.arc_client])
    assert _close(_optimum(base), _optimum(permuted))


BREAKS = ["close a used facility", "unserve a client", "over-serve a client", "tamper objective",
          "bound above objective", "break a count row", "exceed land", "exceed capacity", "close a required facility",
          "split a single-source client"]


def _break(p: LocationProblem, sol, what: str):
    """(problem, solution) with exactly one constraint broken, or None when this problem has no such constraint."""
    y, x = sol.open_options.copy(), sol.arc_share.copy()
    used = np.flatnonzero(x > 0.5)
    if what == "close a used facility":
        y[p.arc_option[used[0]]] = False
    elif what == "unserve a client":
        x[np.flatnonzero(x > 1e-9)[0]] = 0.0
    elif what == "over-serve a client":
        spare = np.flatnonzero((x < 1e-9) & y[p.arc_option])
        if not spare.size:
            return None
        x[spare[0]] = 1.0
    elif what == "tamper objective":
        return p, dataclasses.replace(sol, objective=sol.objective + 1.0)
    elif what == "bound above objective":
        return p, dataclasses.replace(sol, bound=sol.objective + 1.0)
    elif what == "break a count row":  # tighten the row's upper bound below what is open
        counted = p.counts.matrix @ y.astype(float)
        upper = p.counts.upper.copy()
        upper[0] = counted[0] - 1
        return dataclasses.replace(p, counts=dataclasses.replace(p.counts, upper=upper)), sol
    elif what == "exceed land":
        free = p.site_free_m2.copy()
        free[p.option_site[np.flatnonzero(y)[0]]] = 0.0
        return dataclasses.replace(p, site_free_m2=free), sol
    elif what == "exceed capacity":
        cap = p.capacity.copy()
        cap[p.arc_option[used[0]]] = 0.5 * p.demand[p.arc_client[used[0]]]
        return dataclasses.replace(p, capacity=cap), sol
    elif what == "close a required facility":
        closed = np.flatnonzero(~y)
        if not closed.size:
            return None
        req = np.zeros(p.n_options, dtype=bool)
        req[closed[0]] = True
        return dataclasses.replace(p, required=req), sol
    elif what == "split a single-source client":
        if not p.single_source:
            return None
        a = used[0]
        x[a] = 0.5
        others = np.flatnonzero((p.arc_client == p.arc_client[a]) & (np.arange(p.n_arcs) != a))
        if not others.size:
            return None
        x[others[0]] = 0.5
        y[p.arc_option[others[0]]] = True
    return p, dataclasses.replace(sol, open_options=y, arc_share=x)


@SETTINGS
@given(seed=seeds, single_source=sources)
def test_verifier_rejects_any_single_broken_constraint(seed: int, single_source: bool) -> None:
    p = random_problem(seed, single_source=single_source)
    sol = solve_problem(p, OPTS)
    if sol.status != "optimal":
        return
    assert verify_problem(p, sol).ok
    for what in BREAKS:
        broken = _break(p, sol, what)
        if broken is None:
            continue
        report = verify_problem(*broken)
        assert not report.ok, what


def test_break_list_covers_every_constraint_type() -> None:
    """Every check the verifier runs is exercised by at least one break above."""
    p = random_problem(0, single_source=True)
    checks = set(verify_problem(p, solve_problem(p, OPTS)).checks)
    covered = {"share bounds", "single source", "every client fully served", "served only by open facilities",
               "capacity", "count rows", "land per site", "required facilities open", "objective recomputed"}
    assert checks <= covered, checks - covered
    assert len(BREAKS) >= len(covered)


@pytest.mark.parametrize("single_source", [True, False])
def test_random_problem_is_deterministic(single_source: bool) -> None:
    a, b = (random_problem(7, single_source=single_source) for _ in range(2))
    assert np.array_equal(a.arc_cost, b.arc_cost) and np.array_equal(a.capacity, b.capacity)
