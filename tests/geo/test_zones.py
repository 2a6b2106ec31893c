"""Candidate zones with geometry (issue 12): a planner's own zone layer, facility points inside zones, the zones layer
of the GeoPackage, and the acceptance checks of ``siting solve s2-sorteercentra`` on the real zones and networks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import PROJECT_ROOT

from optimizer.data.instance import load_instance
from optimizer.errors import InputError
from optimizer.pipeline import run

CORPUS = PROJECT_ROOT / "tests" / "corpus" / "zones"


def siting(*args: str, cwd: Path = PROJECT_ROOT, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, check=False)


# --- a planner's own zone layer (VLAIO shape) -------------------------------------------------------------------
def test_planner_zone_layer_drops_in_with_one_manifest_entry():
    inst = load_instance(CORPUS / "instance.toml")
    c = inst.candidates
    assert list(c["site_id"]) == [f"BT-010{k}" for k in range(1, 7)]
    assert c["geometry"].notna().all() and c["zone_type_from_geometry"].all()
    assert c.set_index("site_id").loc["BT-0106", "zone_class"] == "zeehaventerrein"  # their type, kept
    assert c["free_ha"].sum() == pytest.approx(12 + 9.5 + 7 + 6 + 1 + 40)


def test_planner_zones_solve_with_facility_inside_and_seaport_from_geometry(tmp_path):
    out = tmp_path / "own"
    r = run(CORPUS / "instance.toml", out_dir=out)
    sites = r.model.sites.set_index("site_id")
    assert sites.loc["BT-0106", "zone_type"] == "seaport" and sites.loc["BT-0106", "seaport"] == "Antwerpen"
    assert (sites.drop(index="BT-0106")["zone_type"] == "economic_zone").all()
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    zones = gpd.read_file(out / "result.gpkg", layer="zones").set_index("site_id")
    assert len(fac) == 1 and fac["zone_id"].iloc[0] == fac["site_id"].iloc[0] != "BT-0106"  # not in the port
    assert zones.loc[fac["site_id"].iloc[0], "geometry"].contains(fac.geometry.iloc[0])
    assert fac["knooppuntwaarde"].iloc[0] >= 0.75  # the central bank's minimum (strict.MB_C)
    assert set(zones.index) == set(sites.index) and zones.crs.to_epsg() == 31370


def _layer(tmp_path: Path, rows: list[dict], name: str) -> Path:
    gdf = gpd.GeoDataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                           geometry=[r["geometry"] for r in rows], crs="EPSG:31370")
    path = tmp_path / name
    gdf.to_file(path, driver="GPKG")
    manifest = (CORPUS / "instance.toml").read_text().replace("bedrijventerreinen.gpkg", path.name).replace(
        'layer = "bedrijventerreinen", ', "").replace("../../../instances", (PROJECT_ROOT / "instances").as_posix())
    (tmp_path / f"{name}.toml").write_text(manifest)
    return tmp_path / f"{name}.toml"


BOX = shapely.box(150000, 200000, 151000, 201000)  # 100 ha in Antwerpen (NIS 11002)
OK = {"TERREIN_ID": "a", "NAAM": "A", "TYPE": "regionaal", "NISCODE": 11002, "BRUTO_HA": 100.0, "BESCHIKBAAR_HA": 5.0,
      "geometry": BOX}


@pytest.mark.parametrize(("change", "row", "field", "message"), [
    ({"BESCHIKBAAR_HA": 500.0}, 2, "free_ha", "larger than the zone's area"),
    ({"TERREIN_ID": "a"}, 2, "site_id", "duplicate id"),
    ({"NISCODE": 99999}, 2, "nis", "not in the demand table"),
    ({"geometry": shapely.Polygon([(150000, 200000), (151000, 201000), (151000, 200000), (150000, 201000)])}, 2,
     "geometry", "invalid polygon"),
])
def test_bad_zone_layer_names_file_row_and_field(tmp_path, change, row, field, message):
    second = {**OK, "TERREIN_ID": "b", "geometry": shapely.box(152000, 200000, 153000, 201000), **change}
    manifest = _layer(tmp_path, [OK, second], "zones.gpkg")
    with pytest.raises(InputError) as e:
        load_instance(manifest)
    assert message in e.value.message and e.value.row == row and e.value.field == field, str(e.value)
    assert e.value.file.endswith("zones.gpkg")


# --- acceptance: S2 on real zones and networks ------------------------------------------------------------------
@pytest.fixture(scope="module")
def s2(tmp_path_factory):
    out = tmp_path_factory.mktemp("s2") / "result"
    proc = siting("solve", "s2-sorteercentra", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_s2_facilities_lie_inside_their_zone_polygons_in_the_geopackage(s2):
    out, summary = s2
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    zones = gpd.read_file(out / "result.gpkg", layer="zones").set_index("site_id")
    assert len(fac) == 14 and (fac["zone_id"] == fac["site_id"]).all()
    poly = zones.loc[fac["zone_id"], "geometry"].to_numpy()
    assert shapely.contains(poly, fac.geometry.to_numpy()).all()
    assert zones.loc[fac["zone_id"], "chosen"].all() and zones["chosen"].sum() == 14


def test_s2_facilities_have_the_access_the_rule_demands_on_the_real_network(s2):
    """Recomputed here from the shipped network tables for the chosen zones (not read from the result): road and
    water within their access distances, at least 2 modes and the minimum knooppuntwaarde of strict.P_SORT."""
    from optimizer.geo.access import access_attributes
    from optimizer.geo.access_rules import AccessParameters, load_mode_rules
    from optimizer.geo.network_tables import load_network_tables

    out, _ = s2
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    zones = gpd.read_file(out / "result.gpkg", layer="zones").set_index("site_id")
    attrs = access_attributes(load_network_tables(), zones.loc[fac["zone_id"], "geometry"].to_numpy(),
                              params=AccessParameters.from_toml(), access_xy=np.column_stack([fac.geometry.x,
                                                                                              fac.geometry.y]))
    rule = load_mode_rules()["strict"]["P_SORT"]
    assert attrs["has_road"].all() and attrs["has_water"].all() and (attrs["n_modes"] >= rule["min_modes"]).all()
    assert (attrs["knooppuntwaarde"] >= rule["min_knooppuntwaarde"]).all()
    np.testing.assert_allclose(attrs["knooppuntwaarde"], fac["knooppuntwaarde"], rtol=1e-9)


def test_s2_summary_gives_the_modal_split(s2):
    out, summary = s2
    split = summary["modal_split"]
    assert split["unit"] == "t·km" and split["transhipped_t"] is not None
    total = sum(split["tkm"].values())
    assert total == pytest.approx(summary["transport_tkm_per_yr"], rel=1e-9)
    assert sum(split["tkm_share"].values()) == pytest.approx(1.0)
    assert sum(split["eur"].values()) == pytest.approx(summary["objective"]["transport"], rel=1e-9)
    per_prog = summary["programmes"]["sorteercentrum"]["modal_split"]
    assert per_prog["tkm"] == pytest.approx(split["tkm"])
    fac = pd.read_csv(out / "facilities.csv")
    assert fac[["road_tkm", "water_tkm", "rail_tkm"]].to_numpy().sum() == pytest.approx(total, rel=1e-9)
    alloc = pd.read_csv(out / "allocations.csv")
    assert set(alloc["route"]) <= {"local", "road", "water", "rail", "water+rail"}
    assert summary["geography"]["zones"] == 732 and summary["geography"]["transport_modes"]["sorteercentrum"] == [
        "road", "water"]


def test_s2_city_zones_of_the_port_cities_may_host_a_sorting_centre(s2):
    """Antwerpen, Gent, Brugge and Oostende are 'larger cities' (L10769-10774): their zones outside the port are
    ordinary urban candidates; the port zones are not (sorting centres do not go to the seaport)."""
    out, _ = s2
    cand = gpd.read_file(out / "result.gpkg", layer="candidates")
    city = cand["nis"].astype(str).isin(["11002", "44021", "31005", "35013"])
    assert cand.loc[city & (cand["zone_type"] == "economic_zone"), "eligible_sorteercentrum"].any()
    assert not cand.loc[cand["zone_type"] == "seaport", "eligible_sorteercentrum"].any()
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    assert (fac["zone_type"] == "economic_zone").all() and not fac["has_seaport"].any()


# --- knooppuntwaarde as a rule -----------------------------------------------------------------------------------
def test_raising_the_minimum_knooppuntwaarde_changes_sites_or_names_the_rule(s2, tmp_path):
    out, base = s2
    chosen = set(pd.read_csv(out / "facilities.csv")["site_id"])
    kv = pd.read_csv(out / "facilities.csv")["knooppuntwaarde"]
    higher = f"{min(0.99, float(kv.min()) + 0.01):.3f}"  # just above the weakest chosen site
    proc = siting("solve", "s2-sorteercentra", "--set", f"min_knooppuntwaarde={higher}", "--out",
                  str(tmp_path / "higher"), "--json")
    assert proc.returncode == 0, proc.stderr
    moved = set(pd.read_csv(tmp_path / "higher" / "facilities.csv")["site_id"])
    assert moved != chosen and json.loads(proc.stdout)["objective"]["total"] >= base["objective"]["total"] - 1e-6
    assert (pd.read_csv(tmp_path / "higher" / "facilities.csv")["knooppuntwaarde"] >= float(higher)).all()
    proc = siting("solve", "s2-sorteercentra", "--set", "min_knooppuntwaarde.sorteercentrum=0.97", "--out",
                  str(tmp_path / "too-high"))
    assert proc.returncode == 3, proc.stderr
    msg = proc.stderr + proc.stdout
    assert "sorteercentrum" in msg and "'Vlaanderen'" in msg and "knooppuntwaarde ≥ 0.97" in msg
    assert "strict.P_SORT" in msg and not (tmp_path / "too-high").exists()


def test_a_regional_minimum_knooppuntwaarde_names_the_arrondissement():
    from optimizer.check.diagnose import presolve_checks
    from optimizer.model.formulation import compile_instance

    sp = compile_instance(load_instance("materialenbanken", {"min_knooppuntwaarde.materialenbank": "0.8"}))
    reasons = presolve_checks(sp)
    assert reasons and all("knooppuntwaarde ≥ 0.8" in r for r in reasons)
    assert any("arrondissement 'Veurne'" in r for r in reasons)
    assert "min_knooppuntwaarde.materialenbank" in reasons[0]


# --- a fresh clone without ../shared -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_clone_without_shared_validates_every_instance_and_solves_s2(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    clone = tmp_path / "clone"
    for f in filter(None, files):
        src = PROJECT_ROOT / f
        if src.is_file():
            (clone / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / f)
    assert not (tmp_path / "shared").exists() and (clone / "instances" / "flanders" / "zones" / "zones.gpkg").is_file()
    # every named instance loads in the clone, and its geography (zones, networks, facility points) is built
    check = ("import optimizer, sys\n"
             "from optimizer.data.instance import list_instances, load_instance\n"
             "from optimizer.model.geography import instance_geography, site_geography\n"
             "assert optimizer.__file__.startswith(sys.argv[1]), optimizer.__file__\n"
             "for row in list_instances():\n"
             "    inst = load_instance(row['name'])\n"
             "    site_geography(inst, instance_geography(inst))\n"
             "    print(row['name'])\n")
    proc = subprocess.run([sys.executable, "-c", check, str(clone)], capture_output=True, text=True, cwd=clone,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr
    names = {p.stem for p in (clone / "instances").glob("*.toml")}
    assert set(proc.stdout.split()) == names and len(names) >= 24
    proc = siting("solve", "s2-sorteercentra", "--out", str(tmp_path / "r"), "-q", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "result.gpkg").is_file()
