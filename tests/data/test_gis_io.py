"""The planner's own layers: zones and demand from GIS files in any CRS, with a column mapping in the manifest.

The test data is built here from the default fact tables: the candidate sites become WGS84 polygons in GeoJSON with
the column names of a VLAIO-style export (ZONE_ID, VRIJ_HA, TYPE, NIS, NAAM), the municipalities become polygons
or points with the population under another name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, siting

FLANDERS = PROJECT_ROOT / "instances" / "flanders"
# total_ha is needed too: seaports leave free_ha blank and get a share of their total area (seaport_free_share)
ZONE_MAPPING = ('{ site_id = "ZONE_ID", free_ha = "VRIJ_HA", zone_type = "TYPE", nis = "NIS", name = "NAAM", '
                'total_ha = "OPP_HA" }')


def _zones_geojson(path: Path, radius_m: float = 1500.0) -> Path:
    """The default candidates as WGS84 polygons (a square around each site) with foreign column names.

    The squares are 3 km wide (900 ha) so that each holds its free land (at most 195.7 ha, the Antwerp port):
    a zone's free area may not exceed its own.
    """
    import geopandas as gpd

    cand = pd.read_csv(FLANDERS / "candidates.csv")
    gdf = gpd.GeoDataFrame(
        {"ZONE_ID": cand["site_id"], "NAAM": cand["name"], "TYPE": cand["zone_type"], "NIS": cand["nis"],
         "VRIJ_HA": cand["free_ha"], "OPP_HA": cand["total_ha"]},
        geometry=gpd.points_from_xy(cand["x"], cand["y"]).buffer(radius_m, cap_style="square"), crs="EPSG:31370")
    gdf.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def _manifest(folder: Path, candidates: str, demand: str | None = None) -> Path:
    demand = demand or f'"{(FLANDERS / "municipalities.csv").as_posix()}"'
    text = f"""[instance]
name = "own-layers"
title = "materialenbanken on the planner's own zones"

[tables]
demand = {demand}
candidates = {candidates}

[programmes]
place = ["materialenbank"]

[parameters]
enforce_capacity = false
"""
    path = folder / "own.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_wgs84_zones_with_column_mapping_replace_candidates_and_solve(tmp_path: Path) -> None:
    import geopandas as gpd

    _zones_geojson(tmp_path / "zones.geojson")
    manifest = _manifest(tmp_path, f'{{ path = "zones.geojson", columns = {ZONE_MAPPING} }}')
    out = tmp_path / "result"
    proc = siting("solve", str(manifest), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "optimal"
    assert summary["programmes"]["materialenbank"]["count_per_size"] == {"large": 12, "small": 10}
    cands = gpd.read_file(out / "result.gpkg", layer="candidates")
    assert cands.crs.to_epsg() == 31370
    assert len(cands) == 289 and set(cands["site_id"]) == set(pd.read_csv(FLANDERS / "candidates.csv")["site_id"])
    # polygons are zones: each facility point lies inside its square, nearest its road entry
    ref = pd.read_csv(FLANDERS / "candidates.csv").set_index("site_id")
    dx = (cands.set_index("site_id").geometry.x - ref["x"]).abs().max()
    dy = (cands.set_index("site_id").geometry.y - ref["y"]).abs().max()
    assert dx < 1500 and dy < 1500
    assert cands["chosen"].sum() == 22
    zones = gpd.read_file(out / "result.gpkg", layer="zones")
    assert len(zones) == 289 and set(zones.geometry.geom_type) == {"Polygon"}
    fac = gpd.read_file(out / "result.gpkg", layer="facilities").merge(
        zones[["site_id", "geometry"]].rename(columns={"geometry": "zone"}), on="site_id")
    assert gpd.GeoSeries(fac["zone"]).contains(fac.geometry).all()


@pytest.mark.parametrize("shape", ["polygons", "points"])
def test_demand_from_a_gis_layer_with_a_weight_column(tmp_path: Path, shape: str) -> None:
    import geopandas as gpd

    muni = pd.read_csv(FLANDERS / "municipalities.csv")
    geom = gpd.points_from_xy(muni["x"], muni["y"])
    if shape == "polygons":
        geom = geom.buffer(1500.0)
    layer = gpd.GeoDataFrame(muni.drop(columns=["x", "y", "population", "name", "nis"]).assign(
        NISCODE=muni["nis"], GEMEENTE=muni["name"], INWONERS=muni["population"]), geometry=geom, crs="EPSG:31370")
    layer.to_crs("EPSG:3035").to_file(tmp_path / "gemeenten.gpkg", layer="gemeenten", driver="GPKG")
    demand = ('{ path = "gemeenten.gpkg", layer = "gemeenten", '
              'columns = { nis = "NISCODE", name = "GEMEENTE", population = "INWONERS" } }')
    manifest = _manifest(tmp_path, f'"{(FLANDERS / "candidates.csv").as_posix()}"', demand)
    proc = siting("solve", str(manifest), "--out", str(tmp_path / "result"), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["programmes"]["materialenbank"]["count_per_size"] == {"large": 12, "small": 10}
    # same population, so the same tonnes as the default instance
    assert summary["programmes"]["materialenbank"]["tonnes_per_yr"] == pytest.approx(
        0.015 * muni["population"].sum(), rel=1e-9)


def test_broken_column_mapping_is_one_clear_line_exit_2(tmp_path: Path) -> None:
    _zones_geojson(tmp_path / "zones.geojson")
    broken = ZONE_MAPPING.replace('"VRIJ_HA"', '"FREE_AREA"')
    manifest = _manifest(tmp_path, f'{{ path = "zones.geojson", columns = {broken} }}')
    out = tmp_path / "result"
    proc = siting("solve", str(manifest), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "FREE_AREA" in lines[0] and "tables.candidates.columns" in lines[0] and "VRIJ_HA" in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_zones_without_a_crs_need_one_in_the_manifest(tmp_path: Path) -> None:
    """A layer without a CRS (e.g. a shapefile without .prj) is refused with the fix, or read with crs = ...."""
    import geopandas as gpd

    cand = pd.read_csv(FLANDERS / "candidates.csv")
    gdf = gpd.GeoDataFrame(cand.rename(columns={"site_id": "ZONE_ID", "free_ha": "VRIJ_HA", "zone_type": "TYPE",
                                                "nis": "NIS", "name": "NAAM", "total_ha": "OPP_HA"})
                           .drop(columns=["x", "y", "occupied_ha", "aggregate"]),
                           geometry=gpd.points_from_xy(cand["x"], cand["y"]), crs=None)
    gdf.to_file(tmp_path / "zones.shp")
    manifest = _manifest(tmp_path, f'{{ path = "zones.shp", columns = {ZONE_MAPPING} }}')
    proc = siting("validate", str(manifest))
    assert proc.returncode == 2 and "crs" in proc.stderr.lower(), proc.stderr
    manifest = _manifest(tmp_path, f'{{ path = "zones.shp", crs = "EPSG:31370", columns = {ZONE_MAPPING} }}')
    proc = siting("validate", str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert "289 candidate sites" in proc.stdout
