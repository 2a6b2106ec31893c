"""Multi-period siting (issue 17, item 3): the coupled MIP against brute force on tiny problems, and a small
multi-period named instance solved, verified per period and exported with a layer per period."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from small_instances import S6_PERIODS, small_instance
from test_model_bruteforce import random_problem

from optimizer.check.verify import verify_problem
from optimizer.errors import InputError
from optimizer.model.periods import MultiPeriodProblem
from optimizer.problem import LocationProblem
from optimizer.solver.options import SolveOptions
from optimizer.solver.periods import solve_periods

ROOT = Path(__file__).resolve().parents[2]


def _period_cost(p: LocationProblem, y: np.ndarray) -> float:
    """Cheapest yearly cost of period problem ``p`` with exactly the options ``y`` open (inf: infeasible)."""
    counted = p.counts.matrix @ y.astype(float)
    if (counted < p.counts.lower - 1e-9).any() or (counted > p.counts.upper + 1e-9).any():
        return np.inf
    land = np.bincount(p.option_site, weights=p.area_m2 * y, minlength=len(p.site_ids))
    if (land > p.site_free_m2 + 1e-9).any() or (p.required_mask() & ~y).any():
        return np.inf
    choices = [[a for a in np.flatnonzero(p.arc_client == i) if y[p.arc_option[a]]] for i in range(p.n_clients)]
    if any(not c for c in choices):
        return np.inf
    best = np.inf
    for pick in itertools.product(*choices):
        pick = np.array(pick, dtype=int)
        load = np.bincount(p.arc_option[pick], weights=p.demand[p.arc_client[pick]], minlength=p.n_options)
        if (load <= p.capacity + 1e-9).all():
            best = min(best, float(p.arc_cost[pick].sum()))
    return best + float(np.dot(p.option_cost(), y))


def brute_force_periods(mp: MultiPeriodProblem) -> float:
    """Optimal total by enumerating every open set in every period (the coupling recomputed by hand)."""
    m, t_n = mp.n_options, mp.n_periods
    sets = [np.array(b, dtype=bool) for b in itertools.product([0, 1], repeat=m)]
    cost = [[_period_cost(p, y) if (y <= mp.available[t]).all() and (y >= mp.required[t]).all() else np.inf
             for y in sets] for t, p in enumerate(mp.periods)]
    best = np.inf
    for seq in itertools.product(range(len(sets)), repeat=t_n):
        total, before = 0.0, mp.initially_open.copy()
        for t, k in enumerate(seq):
            y = sets[k]
            if np.isinf(cost[t][k]) or (mp.no_reopen & y & ~before).any():
                total = np.inf
                break
            total += mp.years[t] * cost[t][k] + mp.open_cost[y & ~before].sum() + mp.close_cost[before & ~y].sum()
            before = y
        best = min(best, total)
    return best


def random_periods(seed: int) -> MultiPeriodProblem:
    """Three periods of a tiny random problem: demand growing, one option available only at first (temporary
    land), one existing option open at the start that may close, one-off opening and closing costs."""
    rng = np.random.default_rng(seed)
    base = random_problem(seed, single_source=True, n=4, m=4)
    factors = [1.0, rng.uniform(1.0, 1.6), rng.uniform(1.2, 2.0)]
    periods = [dataclasses.replace(base, demand=base.demand * f, arc_cost=base.arc_cost * f) for f in factors]
    available = np.ones((3, 4), dtype=bool)
    available[1:, 1] = False  # option 1 on temporary land: gone after the first period
    existing = np.array([False, False, False, True])
    return MultiPeriodProblem(
        name=f"mp{seed}", labels=("a", "b", "c"), start=np.array([2025, 2028, 2031]), years=np.array([3.0, 3.0, 10.0]),
        periods=periods, option_ids=base.option_ids, available=available, required=np.zeros((3, 4), dtype=bool),
        open_cost=np.where(existing, 0.0, rng.uniform(5, 40, 4)), close_cost=rng.uniform(0, 15, 4),
        initially_open=existing, no_reopen=existing)


@pytest.mark.parametrize("seed", range(8))
def test_multi_period_mip_matches_brute_force(seed: int) -> None:
    mp = random_periods(seed)
    expected = brute_force_periods(mp)
    sol = solve_periods(mp, SolveOptions(mip_gap=0.0, time_limit_s=60))
    if not np.isfinite(expected):
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)
    for t, (p, s) in enumerate(zip(mp.periods, sol.solutions)):
        assert verify_problem(p, s).ok, (t, verify_problem(p, s).violations)
        assert not (sol.open[t] & ~mp.available[t]).any()


def test_brute_force_cases_use_the_coupling() -> None:
    """Across the seeds the optimum both uses the temporary option and closes it, and re-plans between periods."""
    moves = set()
    for seed in range(8):
        mp = random_periods(seed)
        sol = solve_periods(mp, SolveOptions(mip_gap=0.0, time_limit_s=60))
        if sol.status.has_solution:
            moves.add((bool(sol.open[0, 1]), bool(sol.closed(mp.initially_open)[1:].any())))
    assert (True, True) in moves


# ------------------------------------------------------------------------------------------------------------
# A small multi-period named instance (two arrondissements), solved end to end through the pipeline
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, dict]:
    from optimizer.pipeline import run

    folder = tmp_path_factory.mktemp("periods")
    # no free land on the existing zones while linear and circular coexist: the banks must start on reserve land
    manifest = small_instance(folder, S6_PERIODS, assumptions="[assumptions]\ncoexistence_free_land_share = 0.0\n")
    summary = run(manifest, out_dir=folder / "out").summary
    return folder, summary


def test_small_instance_is_solved_and_verified_per_period(small_run) -> None:
    _, s = small_run
    assert s["status"] == "optimal" and s["verification"]["passed"] and s["verification"]["per_period"]
    assert [p["period"] for p in s["periods"]] == ["2025-2027", "2028-2030", "2031-2040"]
    checks = s["verification"]["checks"]
    assert any(c.startswith("2031-2040: materialenbank: facilities per region") for c in checks)
    assert "reserve land only inside its window" in checks
    assert all(p["facilities"] == 2 for p in s["periods"])  # one bank per arrondissement in every period
    assert s["objective"]["total"] == pytest.approx(s["verification"]["objective_recomputed"], rel=1e-9)


def test_reserve_land_is_used_in_its_window_and_left_after_it(small_run) -> None:
    """S6 over time: with no free zone land until 2030 both banks start on reserve land; the window ends in 2030,
    so in 2031 they close there (closing cost) and open on a zone (opening cost again)."""
    _, s = small_run
    reserve = [p["land_take_by_kind_ha"]["reserve"] for p in s["periods"]]
    assert reserve[0] > 0 and reserve[1] > 0 and reserve[2] == 0.0
    assert s["periods"][0]["reserve_land_open"] and not s["periods"][2]["reserve_land_open"]
    assert s["periods"][0]["free_land_share"] == 0.0 and s["periods"][2]["free_land_share"] == 1.0
    last = s["periods"][2]
    assert len(last["closed"]) == 2 and len(last["opened"]) == 2
    assert last["closing_cost_eur"] > 0 and last["opening_cost_eur"] > 0
    assert s["objective"]["closing"] == pytest.approx(last["closing_cost_eur"])


def test_geopackage_has_a_period_field_and_a_layer_per_period(small_run) -> None:
    import pyogrio

    folder, s = small_run
    gpkg = folder / "out" / "result.gpkg"
    layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    assert {"facilities", "allocations", "transitions", "facilities_2025_2027", "facilities_2031_2040",
            "allocations_2028_2030"} <= layers
    fac = pyogrio.read_dataframe(gpkg, layer="facilities")
    assert sorted(fac["period"].unique()) == ["2025-2027", "2028-2030", "2031-2040"]
    assert len(pyogrio.read_dataframe(gpkg, layer="facilities_2028_2030")) == 2
    written = json.loads((folder / "out" / "summary.json").read_text())
    assert written["periods"][1]["period"] == "2028-2030"


def test_the_verifier_catches_reserve_land_after_its_window(small_run, tmp_path) -> None:
    """Tampered solution: the last period keeps a bank on a reserve site; the per-period verifier refuses it."""
    from optimizer.check.periods import verify_siting_periods
    from optimizer.data.instance import load_instance
    from optimizer.model.periods_compile import compile_siting_periods
    from optimizer.output.periods import siting_period_tables
    from optimizer.solver.periods import solve_periods as solve

    folder, _ = small_run
    ps = compile_siting_periods(load_instance(folder / "small.toml"))
    sol = solve(ps.mp, SolveOptions(mip_gap=1e-6, time_limit_s=60))
    reserve_opts = np.flatnonzero(ps.base.options["reserve"].fillna(False).to_numpy(bool))
    last = sol.solutions[2]
    region = ps.base.options["region"].to_numpy()
    j_old = int(np.flatnonzero(last.open_options)[0])
    j_new = int(next(j for j in reserve_opts if region[j] == region[j_old]))
    y = last.open_options.copy()
    y[j_old], y[j_new] = False, True
    p = ps.mp.periods[2]
    x = last.arc_share.copy()
    moved = np.flatnonzero(p.arc_option == j_old)
    for a in moved[x[moved] > 0.5]:
        x[a] = 0.0
        x[np.flatnonzero((p.arc_client == p.arc_client[a]) & (p.arc_option == j_new))] = 1.0
    sol.solutions[2] = dataclasses.replace(last, open_options=y, arc_share=x)
    per, _, _ = siting_period_tables(ps, sol)
    report = verify_siting_periods(ps, sol, per)
    assert any("reserve land outside its window" in v for v in report.violations), report.violations


def test_a_bad_periods_section_names_the_key(tmp_path) -> None:
    from optimizer.data.instance import load_instance

    manifest = small_instance(tmp_path, '[periods]\ndemand_factor = { materialenbank = "period_end_year" }\n')
    with pytest.raises(InputError) as err:
        load_instance(manifest)
    assert err.value.field == "periods.demand_factor" and "one per period" in err.value.message
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_cli_solves_a_multi_period_instance_and_reports_each_period(small_run, tmp_path) -> None:
    from click.testing import CliRunner

    from optimizer.cli import app

    folder, _ = small_run
    runner = CliRunner()
    res = runner.invoke(app, ["solve", str(folder / "small.toml"), "--out", str(tmp_path / "out")],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "2031-2040" in res.output and "verified per period: yes" in res.output
    res = runner.invoke(app, ["report", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Per period" in md and "| 2025-2027 |" in md
    # the one pipeline writes every kind's layers the same way: GeoParquet and another CRS too (issue 14) ...
    res = runner.invoke(app, ["solve", str(folder / "small.toml"), "--geoparquet", "--crs", "EPSG:4326",
                              "--out", str(tmp_path / "wgs")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "wgs" / "facilities_2031_2040.parquet").exists()
    # ... and what a multi-period solve cannot honour is refused in one line, before any work
    bad = runner.invoke(app, ["solve", str(folder / "small.toml"), "--backend", "pyomo", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "multi-period" in bad.output and not (tmp_path / "x").exists()


def test_siting_verify_rechecks_a_stored_multi_period_result(small_run, tmp_path) -> None:
    """`siting verify` reads every period's stored rows back and re-checks them against the instance; an edited
    allocation (another period's bank, beyond its region) and an edited total both fail, naming the period."""
    from optimizer.check.stored import verify_stored

    folder, _ = small_run
    assert verify_stored(folder / "out").violations == []
    edited = tmp_path / "edited"
    shutil.copytree(folder / "out", edited)
    alloc = pd.read_csv(edited / "allocations.csv", dtype=str)
    last = alloc["period"] == "2031-2040"
    alloc.loc[alloc.index[last][0], "cost"] = str(float(alloc.loc[alloc.index[last][0], "cost"]) * 0.5)
    alloc.to_csv(edited / "allocations.csv", index=False)
    summary = json.loads((edited / "summary.json").read_text())
    summary["objective"]["total"] *= 0.9
    (edited / "summary.json").write_text(json.dumps(summary))
    found = verify_stored(edited).violations
    assert any(v.startswith("2031-2040: allocations.csv") and "cost" in v for v in found), found
    assert any("objective" in v and "differs from recomputed" in v for v in found), found


# ------------------------------------------------------------------------------------------------------------
# The chain over periods: a tiny chain whose chemical plant grows (the P2C ramp-up), against enumeration
# ------------------------------------------------------------------------------------------------------------
def _chain_cost(p, y: np.ndarray) -> float:
    """Yearly cost of chain period ``p`` with exactly the facilities ``y`` open: the flow LP (scipy), or inf."""
    from scipy.optimize import linprog

    from optimizer.model.chain import build_matrix

    _, a, lo, up, *_ = build_matrix(p)
    a = a.toarray()
    a_y, a_f = a[:, : p.n_fac], a[:, p.n_fac:]
    rhs = a_y @ y.astype(float)
    flow = np.abs(a_f).sum(axis=1) > 0
    if ((rhs < lo - 1e-9) | (rhs > up + 1e-9))[~flow].any():
        return np.inf
    lo_f, up_f, rows = (lo - rhs)[flow], (up - rhs)[flow], a_f[flow]
    eq = np.isclose(lo_f, up_f)
    upper, lower = ~eq & np.isfinite(up_f), ~eq & np.isfinite(lo_f)
    res = linprog(p.arc_cost_per_t, A_ub=np.vstack([rows[upper], -rows[lower]]),
                  b_ub=np.concatenate([up_f[upper], -lo_f[lower]]), A_eq=rows[eq], b_eq=lo_f[eq], bounds=(0, None),
                  method="highs")
    if res.status != 0:
        return np.inf
    return float(res.fun) + p.land_cost_per_m2 * float(p.fac_area_m2[y & ~p.fac_existing].sum())


@pytest.mark.parametrize("seed", range(3))
def test_chain_over_periods_matches_enumeration(seed: int) -> None:
    from tests.studies.test_chain import COSTS, tiny_chain

    from optimizer.check.chain import verify_chain

    p, coords = tiny_chain(seed)
    chem = np.flatnonzero(p.fac_existing & (p.fac_echelon == 2))
    first = p.fac_capacity_t.copy()
    first[chem] *= 0.4  # the existing chemical plant starts at 40% of its later capacity
    periods = [dataclasses.replace(p, fac_capacity_t=first, gw_supply_t=p.gw_supply_t * 0.3), p]
    rng = np.random.default_rng(seed)
    mp = MultiPeriodProblem(
        name="chain", labels=("a", "b"), start=np.array([2025, 2028]), years=np.array([3.0, 10.0]), periods=periods,
        option_ids=p.fac_ids, available=np.ones((2, p.n_fac), bool), required=np.tile(p.fac_existing, (2, 1)),
        open_cost=np.where(p.fac_existing, 0.0, rng.uniform(100, 3000, p.n_fac)),
        close_cost=np.where(p.fac_existing, 0.0, rng.uniform(0, 500, p.n_fac)),
        initially_open=p.fac_existing.copy(), no_reopen=p.fac_existing.copy())
    new = np.flatnonzero(~p.fac_existing)
    sets = []
    for bits in itertools.product([0, 1], repeat=len(new)):
        y = p.fac_existing.copy()
        y[new] = np.array(bits, bool)
        sets.append(y)
    cost = [[_chain_cost(q, y) for y in sets] for q in periods]
    best = min(mp.years[0] * cost[0][i] + mp.years[1] * cost[1][k] + mp.open_cost[sets[i]].sum()
               + mp.open_cost[sets[k] & ~sets[i]].sum() + mp.close_cost[sets[i] & ~sets[k]].sum()
               for i in range(len(sets)) for k in range(len(sets)))
    sol = solve_periods(mp, SolveOptions(mip_gap=0.0, time_limit_s=60))
    if not np.isfinite(best):
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    for q, s in zip(periods, sol.solutions):
        assert verify_chain(q, s, coords, COSTS) == []


def test_p2c_rampup_follows_the_study_and_the_timeline() -> None:
    """s2e (compiled, not solved: 10+ minutes on this machine; benchmarks/instances/run_all.py solves it): P2C at
    26,000 t/yr before 2028 and 65,000 t/yr from 2028 (L10751-10754), imports and sorted share per period."""
    from optimizer.data.instance import load_instance
    from optimizer.model.periods_compile import compile_chain_periods

    inst = load_instance("s2e-p2c-rampup")
    pc = compile_chain_periods(inst)
    assert pc.mp.labels == ("2025-2027", "2028-2030", "2031-2040")
    p2c = [int(np.flatnonzero(c.facilities["existing_id"] == "indaver-p2c-antwerpen")[0]) for c in pc.periods]
    assert [c.problem.fac_capacity_t[j] for c, j in zip(pc.periods, p2c)] == [26_000, 65_000, 65_000]
    spec = inst.periods
    base = pc.base.problem
    for t, c in enumerate(pc.periods):
        assert c.problem.gw_supply_t.sum() == pytest.approx(base.gw_supply_t.sum() * spec.import_factor[t])
        assert c.problem.yields[0] == pytest.approx(base.yields[0] * spec.sorted_share_factor[t])
    assert pc.mp.required[:, pc.base.facilities["existing"].to_numpy(bool)].all()  # the Indaver sites stay open
    assert set(spec.assumptions_used) >= {"chain_import_factor_by_period", "opening_cost_eur_per_m2"}
