"""The study's programmes: tiny instances against brute force, and the study's figures on the named instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bruteforce import brute_force
from conftest import PROJECT_ROOT
from optimizer.formulation import compile_instance
from optimizer.instance import list_instances, load_instance
from optimizer.pipeline import run
from optimizer.programmes import load_programme
from optimizer.solve import SolveOptions, solve_problem
from optimizer.typology import TYPES, classify_instance
from optimizer.verify import verify_problem

FLANDERS = PROJECT_ROOT / "instances" / "flanders"
# 7 municipalities around Antwerpen and Mechelen: two centrumsteden, suburbs and rural ones
TINY_NIS = [11002, 11005, 11008, 12025, 12040, 12014, 13036]


def tiny_manifest(tmp_path: Path, programmes: list[str], parameters: dict, extra: str = "") -> Path:
    """A manifest over a 7-municipality cut of the Flanders tables (a stand-in partition included)."""
    m = pd.read_csv(FLANDERS / "municipalities.csv")
    m = m[m["nis"].isin(TINY_NIS)].copy()
    m["service_area"] = np.where(m["arrondissement"] == "Antwerpen", "SA-A", "SA-B")
    m.loc[m["nis"] == 13036, "service_area"] = "SA-C"  # an area without a centrumstad
    m["service_area_poster"] = m["service_area"]
    c = pd.read_csv(FLANDERS / "candidates.csv")
    c = c[c["nis"].isin(TINY_NIS) & (c["zone_type"] == "economic_zone")].copy()
    c["free_ha"] = 20.0
    m.to_csv(tmp_path / "m.csv", index=False)
    c.to_csv(tmp_path / "c.csv", index=False)
    params = "\n".join(f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower()}"
                       for k, v in parameters.items())
    path = tmp_path / "tiny.toml"
    path.write_text(f"""[instance]
name = "tiny"
title = "tiny"
[tables]
demand = "m.csv"
candidates = "c.csv"
[programmes]
place = {programmes!r}
[parameters]
{params}
{extra}
""".replace("'", '"'))
    return path


CASES = {
    "materialenbank": ["materialenbank"],
    "sorteercentrum (open count)": ["sorteercentrum"],
    "cluster": ["cluster"],
    "regional_cluster": ["regional_cluster"],
    "materialenbank_central": ["materialenbank_central"],
    "materialenbank + cluster (shared land)": ["materialenbank", "cluster"],
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


@pytest.mark.skip(reason="brute force over all option subsets takes minutes here; shrink the instance before re-enabling")
def test_shared_land_makes_programmes_compete(tmp_path: Path) -> None:
    """With only 1.5 ha free everywhere, a 1 ha bank and a 1 ha cluster cannot share a site."""
    path = tiny_manifest(tmp_path, ["materialenbank", "cluster"], {"access_rules": "none", "enforce_capacity": False,
                                                                   "size_rule": "free"})
    c = pd.read_csv(tmp_path / "c.csv")
    c["free_ha"] = 1.5
    c.to_csv(tmp_path / "c.csv", index=False)
    sp = compile_instance(load_instance(path))
    sol = solve_problem(sp.problem, SolveOptions(mip_gap=0.0))
    assert sol.objective == pytest.approx(brute_force(sp.problem), rel=1e-6)
    land = np.zeros(len(sp.problem.site_ids))
    np.add.at(land, sp.problem.option_site, sp.problem.area_m2 * sol.open_options)
    assert land.max() <= 15_000 + 1e-6


@pytest.mark.skip(reason="test asks size_variant=open on an instance that also places materialenbank (no such variant); fix pending")
def test_reserve_land_only_for_banks_and_storage(tmp_path: Path) -> None:
    path = tiny_manifest(tmp_path, ["sorteercentrum", "materialenbank"],
                         {"access_rules": "none", "enforce_capacity": False, "size_variant": "open"})
    c = pd.read_csv(tmp_path / "c.csv")
    c["reserve"] = c["nis"] == 11002
    c.to_csv(tmp_path / "c.csv", index=False)
    sp = compile_instance(load_instance(path))
    opts = sp.options
    reserve_site = set(sp.sites.loc[sp.sites["reserve"], "site_id"])
    assert not opts[(opts["programme"] == "sorteercentrum") & opts["site_id"].isin(reserve_site)].shape[0]
    assert opts[(opts["programme"] == "materialenbank") & opts["site_id"].isin(reserve_site)].shape[0]


def test_greenfield_is_penalised_reuse_first(tmp_path: Path) -> None:
    path = tiny_manifest(tmp_path, ["materialenbank"], {"access_rules": "none", "enforce_capacity": False})
    c = pd.read_csv(tmp_path / "c.csv")
    c["greenfield"] = c["nis"] == 11002
    c.to_csv(tmp_path / "c.csv", index=False)
    sp = compile_instance(load_instance(path))
    green = sp.options["site_id"] == "EZ-11002"
    assert (sp.problem.fixed_cost[green.to_numpy()] > 0).all()
    assert (sp.problem.fixed_cost[~green.to_numpy()] == 0).all()


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
    from optimizer.formulation import site_access

    cands = inst.candidates.join(site_access(inst))
    types = classify_instance(inst, cands)
    assert types["type_environment"].isin(TYPES).all()
    ports = inst.candidates["zone_type"] == "seaport"
    assert types.loc[ports, "type_seaport"].all()
    assert types.loc[ports, "type_industry"].all()
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


def test_s2_gives_14_sorting_centres_on_road_and_water() -> None:
    r = run("s2-sorteercentra")
    fac = r.tables.facilities
    assert len(fac) == 14
    assert r.summary["land_take_ha"] == pytest.approx(56.0)
    assert fac["has_road"].all() and fac["has_water"].all()


@pytest.mark.parametrize(("name", "large", "small", "ha"), [("s3-clusters", 13, 17, 21.5),
                                                            ("s3b-clusters-poster", 13, 13, 26.0)])
def test_s3_clusters(name: str, large: int, small: int, ha: float) -> None:
    r = run(name)
    assert _per_size(r, "cluster") == {"large": large, "small": small}
    assert r.summary["land_take_ha"] == pytest.approx(ha)


def test_s4_integrated_land_take_per_programme() -> None:
    r = run("s4-integrated")
    per = {k: v["land_take_ha"] for k, v in r.summary["programmes"].items()}
    assert per == pytest.approx({"materialenbank": 17.0, "sorteercentrum": 56.0, "cluster": 21.5})
    assert r.summary["land_take_ha"] == pytest.approx(94.5)
    assert r.summary["verification"]["passed"]
    fac = r.tables.facilities
    taken = fac.groupby("site_id")["area_m2"].sum()
    free = r.siting.sites.set_index("site_id").loc[taken.index, "free_ha"] * 10_000
    assert (taken <= free + 1e-6).all()


def test_named_instances_are_listed_with_sources() -> None:
    names = {r["name"] for r in list_instances()}
    for n in ("materialenbanken", "s1b-materialenbanken-poster", "s1d-materialenbanken-per-city",
              "s1e-materialenbank-central", "s2-sorteercentra", "s2b-plastics-chain", "s2c-sorteercentra-open",
              "s3-clusters", "s3b-clusters-poster", "s3c-clusters-regional", "s4-integrated", "s5-hub-ambition-mid",
              "s5-hub-ambition-high", "s8-cross-border", "s9-loose-access"):
        assert n in names, n
        inst = load_instance(n)
        assert inst.title and inst.source.startswith("DIGEST"), n
