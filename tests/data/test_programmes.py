"""The study's programmes: tiny instances against brute force, and the study's figures on the named instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bruteforce import brute_force
from conftest import PROJECT_ROOT

from optimizer.check.verify import verify_problem
from optimizer.data.instance import list_instances, load_instance
from optimizer.data.programmes import load_programme
from optimizer.geo.typology import TYPES, classify_instance
from optimizer.model.formulation import compile_instance
from optimizer.pipeline import run
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

from helpers import FLANDERS, TINY_NIS, tiny_manifest  # noqa: F401 - tiny_manifest is used by the tests below




CASES = {
    "materialenbank": ["materialenbank"],
    "sorteercentrum (open count)": ["sorteercentrum"],
    "cluster": ["cluster"],
    "regional_cluster": ["regional_cluster"],
    "materialenbank_central": ["materialenbank_central"],
    "materialenbank + cluster (shared land)": ["materialenbank", "cluster"],
    "materialenbank wood + stone (S1c multistream)": ["materialenbank", "materialenbank_stone"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_programme_on_tiny_instance_matches_brute_force(tmp_path: Path, case: str) -> None:
    params = {"access_rules": "none", "enforce_capacity": False, "time_limit_s": 60}
    if case.startswith("sorteercentrum"):
        params["size_variant"] = "open"
    inst = load_instance(tiny_manifest(tmp_path, CASES[case], params))
    sp = compile_instance(inst)
    assert sp.problem.n_options <= 14, "keep the brute force tiny"
    expected = brute_force(sp.problem)
    sol = solve_problem(sp.problem, SolveOptions(mip_gap=0.0))
    assert np.isfinite(expected)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert verify_problem(sp.problem, sol).ok


def test_shared_land_makes_programmes_compete(tmp_path: Path) -> None:
    """With 1.5 ha free everywhere a large bank (1 ha) and a large cluster (1 ha) cannot share a site: both want the
    same site (same municipalities, proportional flows), so sharing the land costs transport — against brute force."""
    nis = [11002, 11005, 11008, 12025, 12040]  # arrondissements Antwerpen and Mechelen, each with a centrumstad
    params = {"access_rules": "none", "enforce_capacity": False}
    path = tiny_manifest(tmp_path, ["materialenbank", "cluster"], params, nis=nis)
    c = pd.read_csv(tmp_path / "c.csv")
    c["free_ha"] = 1.5
    c.to_csv(tmp_path / "c.csv", index=False)
    sp = compile_instance(load_instance(path))
    assert sp.problem.n_options <= 10, "keep the brute force tiny"
    sol = solve_problem(sp.problem, SolveOptions(mip_gap=0.0))
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(brute_force(sp.problem), rel=1e-6)
    assert verify_problem(sp.problem, sol).ok
    land = np.zeros(len(sp.problem.site_ids))
    np.add.at(land, sp.problem.option_site, sp.problem.area_m2 * sol.open_options)
    assert land.max() <= 15_000 + 1e-6
    # each programme alone is cheaper (alone, its 1 ha fits any site): the shared land binds
    alone = 0.0
    for prog in ("materialenbank", "cluster"):
        (tmp_path / prog).mkdir()
        one_path = tiny_manifest(tmp_path / prog, [prog], params, nis=nis)
        one = compile_instance(load_instance(one_path))
        alone += solve_problem(one.problem, SolveOptions(mip_gap=0.0)).objective
    assert sol.objective > alone * (1 + 1e-6)


def test_reserve_land_only_for_banks_and_storage(tmp_path: Path) -> None:
    """S6: reserve land (temporary use) is open to material banks and clusters, not to sorting centres.
    The instance also checks that a size variant one programme lacks (``open``) leaves the other's sizes alone."""
    path = tiny_manifest(tmp_path, ["sorteercentrum", "materialenbank"],
                         {"access_rules": "none", "enforce_capacity": False, "size_variant": "open"})
    c = pd.read_csv(tmp_path / "c.csv")
    c["reserve"] = c["nis"] == 11002
    c.to_csv(tmp_path / "c.csv", index=False)
    inst = load_instance(path)
    sp = compile_instance(inst)
    opts = sp.options
    reserve_site = set(sp.sites.loc[sp.sites["reserve"], "site_id"])
    assert reserve_site == {"EZ-11002"}
    assert not opts[(opts["programme"] == "sorteercentrum") & opts["site_id"].isin(reserve_site)].shape[0]
    assert opts[(opts["programme"] == "materialenbank") & opts["site_id"].isin(reserve_site)].shape[0]
    assert set(opts.loc[opts["programme"] == "materialenbank", "area_m2"]) == {10_000.0, 5_000.0}
    # solved end to end: the domain verifier re-derives the reserve rule from the candidate table
    result = run(path)
    sorting_sites = result.tables.facilities.query("programme == 'sorteercentrum'")["site_id"]
    assert not sorting_sites.isin(reserve_site).any()
    # and it rejects a sorting centre on reserve land: flag an opened centre's site as reserve after the solve
    import dataclasses

    from optimizer.check.verify import verify_siting

    sites = result.model.sites.copy()
    sites.loc[sites["site_id"] == sorting_sites.iloc[0], "reserve"] = True
    tampered = dataclasses.replace(result.model, sites=sites)
    report = verify_siting(tampered, result.solution, result.tables)
    assert any("reserve land" in v for v in report.violations)


def test_unknown_size_variant_is_still_an_error(tmp_path: Path) -> None:
    from optimizer.errors import InputError

    path = tiny_manifest(tmp_path, ["sorteercentrum", "materialenbank"], {"size_variant": "draft"})
    with pytest.raises(InputError, match="has a size variant 'draft'; known: final, ") as e:
        load_instance(path)
    assert e.value.field == "parameters.size_variant"  # blamed on the manifest that gave it, not on models/


def test_greenfield_is_penalised_reuse_first(tmp_path: Path) -> None:
    path = tiny_manifest(tmp_path, ["materialenbank"], {"access_rules": "none", "enforce_capacity": False})
    c = pd.read_csv(tmp_path / "c.csv")
    c["greenfield"] = c["nis"] == 11002
    c.to_csv(tmp_path / "c.csv", index=False)
    # base case (S7 NO-GREENFIELD): the greenfield site is not a candidate at all
    sp = compile_instance(load_instance(path))
    assert not (sp.options["site_id"] == "EZ-11002").any()
    # sensitivity (S7 GREENFIELD-ALLOWED): a candidate, charged the named penalty per m²
    inst = load_instance(path, {"greenfield": "penalty"})
    sp = compile_instance(inst)
    green = (sp.options["site_id"] == "EZ-11002").to_numpy()
    assert green.any()
    penalty = inst.assumption("greenfield_penalty_eur_per_m2")
    assert sp.problem.fixed_cost[green] == pytest.approx(penalty * sp.problem.area_m2[green])
    assert (sp.problem.fixed_cost[~green] == 0).all()


def test_verifier_rejects_a_bank_on_forbidden_greenfield(tmp_path: Path) -> None:
    """Solve with greenfield allowed and free of charge, then verify under the base rule: it must fail."""
    import dataclasses

    from optimizer.check.verify import verify_siting
    from optimizer.output.tables import result_tables

    path = tiny_manifest(tmp_path, ["materialenbank"], {"access_rules": "none", "enforce_capacity": False})
    c = pd.read_csv(tmp_path / "c.csv")
    c["greenfield"] = True  # every site is greenfield: whatever opens, opens on greenfield
    c.to_csv(tmp_path / "c.csv", index=False)
    inst = load_instance(path, {"greenfield": "penalty", "assumption.greenfield_penalty_eur_per_m2": "0"})
    sp = compile_instance(inst)
    sol = solve_problem(sp.problem, SolveOptions(mip_gap=0.0))
    assert verify_siting(sp, sol, result_tables(sp, sol)).ok
    forbid = dataclasses.replace(inst, parameters={**inst.parameters, "greenfield": "forbid"})
    sp_forbid = dataclasses.replace(sp, instance=forbid)
    report = verify_siting(sp_forbid, sol, result_tables(sp_forbid, sol))
    assert any("greenfield" in v for v in report.violations)


def test_city_banks_only_in_centrumsteden(tmp_path: Path) -> None:
    """S1d: 'een materialenbank in elke (centrum)stad' — options only on the sites of the centrumsteden."""
    path = tiny_manifest(tmp_path, ["materialenbank_city"], {"access_rules": "none", "enforce_capacity": False})
    sp = compile_instance(load_instance(path))
    assert set(sp.options["site_id"]) == {"EZ-11002", "EZ-12025"}  # Antwerpen, Mechelen
    assert set(sp.options["area_m2"]) == {10_000.0}


def test_programme_files_cite_the_study() -> None:
    for pid in ("sorteercentrum", "cluster", "regional_cluster", "materialenbank_city", "materialenbank_central"):
        prog = load_programme(pid)
        assert prog.source and all(prog.size_sources.values()), pid
    cluster = load_programme("cluster")
    assert cluster.sizes_for("poster") == {"large": 15000.0, "small": 5000.0}
    assert cluster.region_for("poster") == "service_area_poster"
    assert load_programme("sorteercentrum").count_bounds("open") == (3.0, 28.0)


def test_typology_classifies_every_candidate() -> None:
    inst = load_instance("materialenbanken")
    from optimizer.model.formulation import site_access, with_site_access

    cands = with_site_access(inst.candidates, site_access(inst))
    types = classify_instance(inst, cands)
    assert types["type_environment"].isin(TYPES).all()
    ports = cands["zone_type"] == "seaport"  # derived from the port geometry
    assert ports.sum() == 63 and cands.loc[ports, "has_seaport"].all()
    assert types.loc[ports, "type_seaport"].all()
    assert types.loc[ports, "type_industry"].all()
    # Antwerpen, Gent, Brugge and Oostende have city zones outside the port: ordinary (near-urban) candidates
    city = cands["nis"].astype(str).isin(["11002", "44021", "31005", "35013"]) & ~ports
    assert city.sum() >= 20 and types.loc[city, "type_near_urban"].all() and not types.loc[city, "type_seaport"].any()
    assert not types.loc[types["type_seaport"], "type_inland_port"].any()
    # the planner's own layer wins over the derived flag
    cands["type_industry"] = False
    assert not classify_instance(inst, cands)["type_industry"].any()


def test_service_area_stand_in_counts() -> None:
    m = pd.read_csv(FLANDERS / "municipalities_sa.csv")
    for col, (large, small) in {"service_area": (13, 17), "service_area_poster": (13, 13)}.items():
        city = m.groupby(col)["centrumstad"].any()
        assert (int(city.sum()), int((~city).sum())) == (large, small)
        assert (m.groupby(col)["centrumstad"].sum() <= 1).all()


def test_stand_in_table_equals_a_fresh_build(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bsa", FLANDERS / "build_service_areas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = pd.read_csv(FLANDERS / "municipalities.csv")
    m["centrumstad"] = m["centrumstad"].astype(str).str.lower().isin(["true", "1"])
    committed = pd.read_csv(FLANDERS / "municipalities_sa.csv")
    assert (mod.service_areas(m, 17).to_numpy() == committed["service_area"].to_numpy()).all()


# ------------------------------------------------------------------------------------------------------------
# The study's figures on the named instances (acceptance of issue 9)
# ------------------------------------------------------------------------------------------------------------
def _per_size(result, programme: str) -> dict[str, int]:
    return result.summary["programmes"][programme]["count_per_size"]


def test_s2_gives_14_sorting_centres_on_road_and_water(solved_named) -> None:  # noqa: ANN001
    r = solved_named("s2-sorteercentra")
    fac = r.tables.facilities
    assert len(fac) == 14
    assert r.summary["land_take_ha"] == pytest.approx(56.0)
    assert fac["has_road"].all() and fac["has_water"].all()


@pytest.mark.parametrize(("name", "large", "small", "ha"), [("s3-clusters", 13, 17, 21.5),
                                                            ("s3b-clusters-poster", 13, 13, 26.0)])
def test_s3_clusters(name: str, large: int, small: int, ha: float, solved_named) -> None:  # noqa: ANN001
    r = solved_named(name)
    assert _per_size(r, "cluster") == {"large": large, "small": small}
    assert r.summary["land_take_ha"] == pytest.approx(ha)


def test_s4_integrated_land_take_per_programme(solved_named) -> None:  # noqa: ANN001
    r = solved_named("s4-integrated")
    per = {k: v["land_take_ha"] for k, v in r.summary["programmes"].items()}
    assert per == pytest.approx({"materialenbank": 17.0, "sorteercentrum": 56.0, "cluster": 21.5})
    assert r.summary["land_take_ha"] == pytest.approx(94.5)
    assert r.summary["verification"]["passed"]
    fac = r.tables.facilities
    taken = fac.groupby("site_id")["area_m2"].sum()
    free = r.model.sites.set_index("site_id").loc[taken.index, "free_ha"] * 10_000
    assert (taken <= free + 1e-6).all()


def test_named_instances_are_listed_with_sources() -> None:
    names = {r["name"] for r in list_instances()}
    for n in ("materialenbanken", "s1b-materialenbanken-poster", "s1d-materialenbanken-per-city",
              "s1e-materialenbank-central", "s2-sorteercentra", "s2b-plastics-chain", "s2c-sorteercentra-open",
              "s3-clusters", "s3b-clusters-poster", "s3-clusters-regional", "s4-integrated", "s5-hub-ambition-mid",
              "s5-hub-ambition-high", "s8-cross-border", "s9-loose-access"):
        assert n in names, n
        inst = load_instance(n)
        assert inst.title and inst.source.startswith("DIGEST"), n
