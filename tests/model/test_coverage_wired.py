"""The coverage models through the ordinary pipeline: matrix files with ``[problem] model``, programmes with ``model``
in ``models/``, the S3c named instance, and the verifiers on the wired path (tampered results are rejected)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from optimizer.check.verify import verify_siting
from optimizer.check.verify_models import verify_models
from optimizer.cli import app
from optimizer.data.instance import load_instance
from optimizer.data.matrix_files import load_matrix_instance
from optimizer.errors import InfeasibleError, InputError, VerificationError
from optimizer.model.coverage import CoverageSpec
from optimizer.model.plan import ModelGroup, check_separable, matrix_groups
from optimizer.pipeline import run, solve, solve_options
from optimizer.problem import LocationProblem
from optimizer.solver.models import solve_models
from optimizer.solver.options import SolveOptions
from tests.model.test_coverage import brute

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------------------------
# matrix files: [problem] model / service, brute force through the pipeline
# ----------------------------------------------------------------------------------------------------------------


def matrix_toml(path: Path, dist: np.ndarray, demand: np.ndarray, problem: dict) -> Path:
    """A one-file matrix instance whose costs are the distances (blank = no pair)."""
    lines = ["[problem]", 'name = "tiny"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in problem.items()]
    for i, d in enumerate(demand):
        lines += ["[[demands]]", f'id = "c{i}"', f"demand = {float(d)}"]
    for j in range(dist.shape[1]):
        lines += ["[[facilities]]", f'id = "f{j}"', 'capacity = "inf"', "fixed_cost = 0"]
    rows = ", ".join("[" + ", ".join('"inf"' if not np.isfinite(v) else f"{v:g}" for v in row) + "]" for row in dist)
    lines += ["[costs]", f"dense = [{rows}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@st.composite
def matrix_cases(draw):
    n, m = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    dist = np.array([[draw(st.integers(0, 9)) for _ in range(m)] for _ in range(n)], float)
    for i in range(n):
        for j in range(m):
            if draw(st.integers(0, 4)) == 0:
                dist[i, j] = np.inf
        if not np.isfinite(dist[i]).any():
            dist[i, draw(st.integers(0, m - 1))] = draw(st.integers(0, 9))
    demand = np.array([draw(st.integers(0, 5)) for _ in range(n)], float)
    model = draw(st.sampled_from(["lscp", "mclp", "pcenter", "pmedian_max"]))
    problem: dict = {"model": model, "cover": draw(st.sampled_from(["all", "reachable"])),
                     "cover_zero_demand": draw(st.booleans())}
    if model != "pcenter" or draw(st.booleans()):
        problem["service"] = float(draw(st.integers(0, 9)))
    if model in ("mclp", "pcenter") or draw(st.booleans()):
        problem["p"] = draw(st.integers(1, m))
    return dist, demand, problem


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=matrix_cases())
def test_matrix_coverage_models_match_brute_force(case, tmp_path: Path) -> None:
    dist, demand, settings_ = case
    path = matrix_toml(tmp_path / "tiny.toml", dist, demand, settings_)
    problem = load_matrix_instance(path)
    spec = CoverageSpec(settings_["model"], service_km=settings_.get("service"), p=settings_.get("p"),
                        cover=settings_["cover"], cover_zero_demand=settings_["cover_zero_demand"])
    # the brute force reads distances from arc_km; in a matrix instance the costs are the distances
    expected = brute(replace(problem, arc_km=problem.arc_cost, counts=problem.counts.__class__.empty(problem.n_options)),
                     spec)
    if not np.isfinite(expected):
        with pytest.raises(InfeasibleError):
            run(path)
        return
    summary = run(path).summary
    assert summary["status"] == "optimal"
    assert summary["objective"]["total"] == pytest.approx(expected, abs=1e-9)  # the model's own objective
    assert summary["model"]["objective_recomputed"] == pytest.approx(expected, abs=1e-9)
    assert summary["model"]["name"] == settings_["model"]


def test_matrix_lscp_writes_covered_clients_and_equity(tmp_path: Path) -> None:
    dist = np.array([[0, 5], [1, 4], [5, 0], [9, 9]], float)
    path = matrix_toml(tmp_path / "line.toml", dist, np.array([1, 2, 3, 4.0]),
                       {"model": "mclp", "service": 1.5, "p": 1, "equity_within": [1, 2]})
    summary = run(path, out_dir=tmp_path / "out").summary
    assert summary["objective"]["total"] == 3.0  # f0 covers c0 + c1 (3), f1 covers c2 (3): a tie at 3
    clients = pd.read_csv(tmp_path / "out" / "clients.csv")
    assert clients["covered"].sum() in (1, 2) and not clients.loc[3, "covered"]
    equity = summary["equity"]
    assert equity["within_km"] == [1.0, 1.5, 2.0]
    assert equity["by_programme"]["all"]["max_km"] == 9.0  # c3 is served by the open facility 9 away


@pytest.mark.parametrize(("problem", "field", "message"), [
    ({"model": "lscpp"}, "problem.model", "model must be one of"),
    ({"model": "lscp"}, "problem.service", "needs a service distance"),
    ({"model": "mclp", "service": 2}, "problem.p", "needs the number of facilities"),
    ({"service": 2}, "problem.service", "applies to the coverage models only"),
    ({"model": "lscp", "service": -1}, "problem.service", "number ≥ 0"),
    ({"model": "lscp", "service": 1, "cover": "some"}, "problem.cover", "cover must be one of"),
])
def test_matrix_model_keys_are_checked(tmp_path: Path, problem: dict, field: str, message: str) -> None:
    path = matrix_toml(tmp_path / "bad.toml", np.array([[1.0]]), np.array([1.0]), problem)
    with pytest.raises(InputError, match=message) as err:
        load_matrix_instance(path)
    assert err.value.field == field and err.value.file == str(path)


# ----------------------------------------------------------------------------------------------------------------
# the verifier on the wired path
# ----------------------------------------------------------------------------------------------------------------


def line_matrix(tmp_path: Path, problem: dict) -> LocationProblem:
    """Clients at x = 0, 1, 5, 6, 10 and options at x = 0, 5, 10, 3 on a line; costs = distances."""
    xs, fs = np.array([0, 1, 5, 6, 10.0]), np.array([0, 5, 10, 3.0])
    return load_matrix_instance(matrix_toml(tmp_path / "line.toml", np.abs(xs[:, None] - fs[None, :]),
                                            np.array([1, 2, 3, 4, 5.0]), problem))


def test_wired_verifier_rejects_an_lscp_solution_that_leaves_a_client_uncovered(tmp_path: Path) -> None:
    problem = line_matrix(tmp_path, {"model": "lscp", "service": 1.5})
    result = solve_models(problem, matrix_groups(problem), SolveOptions())
    assert result.parts[0].coverage.objective == 3
    verify_models(problem, result)[0].raise_if_failed()
    part = result.parts[0]
    y = part.coverage.open_options.copy()
    y[2] = False  # close the option at x = 10: the client at 10 is 4 km from the one at 5
    part.coverage = replace(part.coverage, open_options=y, objective=2.0, bound=2.0)
    part.solution = part.coverage.to_solution()
    with pytest.raises(VerificationError, match="not covered|reported covered"):
        verify_models(problem, result)[0].raise_if_failed()


def test_wired_verifier_rejects_miscounted_mclp_coverage(tmp_path: Path) -> None:
    problem = line_matrix(tmp_path, {"model": "mclp", "service": 1.5, "p": 1})
    result = solve_models(problem, matrix_groups(problem), SolveOptions())
    assert result.parts[0].coverage.objective == 7.0  # the option at 5 covers the clients at 5 and 6
    verify_models(problem, result)[0].raise_if_failed()
    part = result.parts[0]
    part.coverage = replace(part.coverage, objective=8.0, bound=8.0)
    with pytest.raises(VerificationError, match="mclp objective"):
        verify_models(problem, result)[0].raise_if_failed()
    covered = part.coverage.covered.copy()
    covered[4] = True
    part.coverage = replace(part.coverage, objective=7.0, bound=7.0, covered=covered)
    with pytest.raises(VerificationError, match="reported covered"):
        verify_models(problem, result)[0].raise_if_failed()


def test_wired_verifier_rejects_an_allocation_to_a_farther_open_option(tmp_path: Path) -> None:
    problem = line_matrix(tmp_path, {"model": "lscp", "service": 1.5})
    result = solve_models(problem, matrix_groups(problem), SolveOptions())
    share = result.parts[0].solution.arc_share.copy()
    c4 = np.flatnonzero(problem.arc_client == 4)
    open_far = [a for a in c4 if result.parts[0].coverage.open_options[problem.arc_option[a]] and share[a] == 0]
    share[c4] = 0.0
    share[open_far[0]] = 1.0
    result.parts[0].coverage = replace(result.parts[0].coverage, arc_share=share)
    with pytest.raises(VerificationError, match="nearest open"):
        verify_models(problem, result)[0].raise_if_failed()


def test_groups_with_different_models_may_not_share_scarce_land() -> None:
    from tests.model.test_coverage import make_problem

    problem = make_problem(np.zeros((2, 2)), np.zeros((2, 2)), np.ones(2), site_of=np.array([0, 0]),
                           free_m2=np.array([150.0]))
    problem = replace(problem, option_programme=np.array(["a", "b"]))
    groups = [ModelGroup(None, ("a",), np.array([0]), np.array([0]), {}),
              ModelGroup(CoverageSpec("lscp", service_km=1.0), ("b",), np.array([1]), np.array([1]), {})]
    with pytest.raises(InputError, match="compete for the free land of site s0"):
        check_separable(problem, groups)
    check_separable(replace(problem, site_free_m2=np.array([200.0])), groups)  # room for both: fine


# ----------------------------------------------------------------------------------------------------------------
# programmes with a model: --set model=..., the checks on load
# ----------------------------------------------------------------------------------------------------------------


def test_pcenter_on_the_banks_lowers_the_largest_distance() -> None:
    """The p-median's farthest municipality is at least as far as the p-center's (same counts per region)."""
    median = run("materialenbanken", backend="highspy").summary
    center = run("materialenbanken", overrides={"model": "pcenter"}, backend="highspy").summary
    m, c = (s["equity"]["by_programme"]["materialenbank"] for s in (median, center))
    assert center["programmes"]["materialenbank"]["model"]["objective"] == pytest.approx(c["max_km"])
    assert c["max_km"] <= m["max_km"] + 1e-9 and c["mean_km"] >= m["mean_km"] - 1e-9
    assert center["programmes"]["materialenbank"]["facilities"] == median["programmes"]["materialenbank"]["facilities"]
    assert median["bound"] is not None and center["bound"] is None  # a p-center bound is in km, not EUR/yr


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"model": "lscp"}, "service_km", "needs a service distance"),
    ({"model": "lscp", "service_km": "no_such_assumption"}, "service_km", "unknown assumption"),
    ({"model": "mclpp"}, "model", "must be one of"),
    ({"equity_within_km": "5,x"}, "equity_within_km", "distances in km"),
])
def test_model_parameters_are_checked_on_load(overrides: dict, field: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        load_instance("materialenbanken", overrides)
    assert err.value.field == field and err.value.file == "--set"


def test_a_programme_p_is_a_count_row_and_mclp_counts_what_it_covers() -> None:
    inst = load_instance("materialenbanken")
    prog = replace(inst.programmes[0], model="mclp", service_km=12.0, p=3, per_region=None, assignment="any")
    inst.programmes = [prog]
    r = solve(inst, solve_options(inst.parameters, backend="highspy"))
    sp, tables, summary = r.model, r.tables, r.summary
    entry = summary["programmes"]["materialenbank"]
    assert entry["facilities"] == 3 and any(n.endswith("exactly p = 3") for n in sp.problem.counts.names)
    covered = tables.demand["materialenbank_covered"].to_numpy(bool)
    tonnes = tables.demand["population"].to_numpy(float) * inst.assumption(prog.demand_per_inhabitant)
    assert entry["model"]["objective"] == pytest.approx(tonnes[covered].sum())
    assert entry["model"]["covered_share"] == pytest.approx(tonnes[covered].sum() / tonnes.sum())


def test_lscp_and_mclp_refuse_enforced_capacities() -> None:
    from optimizer.model.formulation import compile_instance

    inst = load_instance("materialenbanken", {"model": "mclp", "service_km": "12", "enforce_capacity": "true"})
    with pytest.raises(InputError, match="cannot honour capacities") as err:
        compile_instance(inst)
    assert err.value.field == "enforce_capacity"


# ----------------------------------------------------------------------------------------------------------------
# S3c: the urban reuse network as a named instance
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3c():
    return run("s3c-urban-reuse", backend="highspy")


def road_km(units: pd.DataFrame, sites: pd.DataFrame, circuity: float, f_intra: float) -> np.ndarray:
    d = np.hypot(units["x"].to_numpy()[:, None] - sites["x"].to_numpy()[None, :],
                 units["y"].to_numpy()[:, None] - sites["y"].to_numpy()[None, :]) / 1000.0
    r = f_intra * np.sqrt(units["area_km2"].to_numpy() / np.pi)
    return circuity * np.sqrt(d * d + (r * r)[:, None])


def test_s3c_shop_counts_per_city_match_brute_force_for_the_small_cities(s3c) -> None:
    inst = s3c.model.instance
    circuity, f_intra = inst.assumption("access_circuity"), inst.assumption("intrazonal_distance_factor")
    service = inst.assumption("s3c_shop_cycle_km")
    counts = s3c.summary["programmes"]["s3c_shop"]["facilities_per_region"]
    for city in ("Turnhout", "Oostende", "Mechelen"):
        units = inst.demand[(inst.demand["city"] == city) & (inst.demand["population"] > 0)]
        sites = inst.candidates[inst.candidates["nis"] == units["nis"].iloc[0]]
        km = road_km(units, sites, circuity, f_intra)
        best = next(k for k in range(1, len(sites) + 1)
                    if any((km[:, list(c)].min(axis=1) <= service).all()
                           for c in itertools.combinations(range(len(sites)), k)))
        assert counts[city] == best, city


def test_s3c_result_is_verified_and_covers_every_resident_by_bike(s3c) -> None:
    s = s3c.summary
    shop, hub = s["programmes"]["s3c_shop"], s["programmes"]["s3c_hub"]
    assert s["status"] == "optimal" and s["verification"]["passed"]
    assert shop["model"]["name"] == "lscp" and shop["model"]["service_assumption"] == "s3c_shop_cycle_km"
    assert shop["model"]["objective"] == shop["facilities"] == sum(shop["facilities_per_region"].values())
    assert shop["model"]["covered_share"] == 1.0 and shop["model"]["beyond_reach_demand"] == 0.0
    assert hub["facilities_per_region"] == {city: 1 for city in shop["facilities_per_region"]}
    assert len(hub["facilities_per_region"]) == 13
    assert s["equity"]["by_programme"]["s3c_shop"]["max_km"] <= 3.75
    demand = s3c.tables.demand
    assert demand.loc[demand["population"] > 0, "s3c_shop_covered"].all()


def test_s3c_domain_verifier_rejects_a_tampered_covered_flag(s3c) -> None:
    tables = s3c.tables
    bad = replace(tables, demand=tables.demand.copy())
    bad.demand.loc[bad.demand.index[0], "s3c_shop_covered"] = False
    report = verify_siting(s3c.model, s3c.solution, bad)
    assert any("written not covered" in v for v in report.violations)
    assert not verify_siting(s3c.model, s3c.solution, tables).violations


def test_s3c_walking_leaves_coarse_neighbourhoods_beyond_reach() -> None:
    s = run("s3c-urban-reuse-walk", backend="highspy").summary
    shop = s["programmes"]["s3c_shop"]
    assert shop["model"]["service_km"] == 1.25 and shop["model"]["service_assumption"] == "s3c_shop_walk_km"
    assert shop["facilities"] >= 69  # a shorter service distance never needs fewer shops than cycling
    total = shop["model"]["covered_demand"] + shop["model"]["beyond_reach_demand"]
    assert total == pytest.approx(1_688_950)  # every resident of the 13 cities is covered or beyond reach
    assert 0.2 < shop["model"]["beyond_reach_demand"] / total < 0.5


def test_siting_solve_s3c_prints_counts_per_centrumstad_with_the_service_distance(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["solve", "s3c-urban-reuse", "--backend", "highspy", "--out",
                                      str(tmp_path / "s3c")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "service distance 3.75 km (assumption s3c_shop_cycle_km)" in text
    assert "facilities per region" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 4}
    for city in ("Antwerpen", "Gent", "Turnhout", "Hasselt"):
        assert city in rows
    assert "s3c_shop" in text and "s3c_hub" in text and "equity" in text
    written = json.loads((tmp_path / "s3c" / "summary.json").read_text())
    shops = written["programmes"]["s3c_shop"]["facilities_per_region"]
    assert rows["Turnhout"].split("│")[2].strip() == str(shops["Turnhout"])
    # residents' trips are resident·km, never priced per mode in EUR nor counted as transhipped tonnes
    split_line = next(line for line in text.splitlines() if line.startswith("modal split:"))
    assert "resident·km" in split_line and " t·km" not in split_line and "EUR" not in split_line
    assert written["modal_split"]["unit"] == "resident·km" and written["modal_split"]["eur"] is None
    assert "s3c_shop_covered" in pd.read_csv(tmp_path / "s3c" / "demand.csv").columns


def test_s3c_tables_are_what_the_build_script_makes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_s3c", ROOT / "instances" / "s3c" / "build_s3c.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    demand, candidates = module.build()
    for name, fresh in (("neighbourhoods.csv", demand), ("candidates.csv", candidates)):
        shipped = pd.read_csv(ROOT / "instances" / "s3c" / name, dtype={"id": str, "nis": str, "site_id": str})
        pd.testing.assert_frame_equal(fresh.reset_index(drop=True).astype(shipped.dtypes.to_dict()), shipped)


# ----------------------------------------------------------------------------------------------------------------
# equity figures in every result
# ----------------------------------------------------------------------------------------------------------------


def test_equity_of_the_default_model_comes_from_its_allocations() -> None:
    result = run("materialenbanken", backend="highspy", overrides={"equity_within_km": "10,30"})
    equity = result.summary["equity"]
    alloc = result.tables.allocations
    e = equity["by_programme"]["materialenbank"]
    assert equity["within_km"] == [10.0, 30.0] and e["unserved_share"] == 0.0
    assert e["max_km"] == pytest.approx(alloc["km"].max())
    assert e["mean_km"] == pytest.approx(np.average(alloc["km"], weights=alloc["tonnes"]))
    assert e["share_within"]["10"] == pytest.approx(alloc.loc[alloc["km"] <= 10, "tonnes"].sum() / alloc["tonnes"].sum())
    assert e["p95_km"] <= e["max_km"]


def test_chain_results_carry_the_equity_of_collection() -> None:
    """The chain's equity is that of its collection flows (municipality → sorting centre), weighted by tonnes; the
    links between echelons are not demand (optimizer.output.chain.chain_extras puts it in every chain result)."""
    from optimizer.output.chain import chain_equity

    flows = pd.DataFrame({"kind": ["collect", "collect", "collect", "link"], "km": [2.0, 8.0, 30.0, 100.0],
                          "tonnes": [50.0, 40.0, 10.0, 90.0]})
    equity = chain_equity(load_instance("s2b-plastics-chain"), flows)
    e = equity["by_programme"]["sorting"]
    assert equity["unit"] == "km" and e["max_km"] == 30.0 and e["mean_km"] == pytest.approx(7.2)
    assert e["share_within"]["5"] == pytest.approx(0.5) and e["share_within"]["10"] == pytest.approx(0.9)
