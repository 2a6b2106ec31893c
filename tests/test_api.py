"""The Python API (``docs/api.md``): the documented example runs, frames are checked at the boundary and never
modified, results are GeoDataFrames in EPSG:31370, ``to_gpkg`` never replaces what siting did not write, and
``import optimizer`` stays light."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT

import optimizer
from optimizer.errors import InputError

API_DOC = PROJECT_ROOT / "docs" / "api.md"


def test_the_documented_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``python`` block of docs/api.md, in order, in one namespace, in a fresh folder."""
    blocks = re.findall(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 4, "docs/api.md lost its examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks, start=1):
        exec(compile(block, f"docs/api.md (python block {i})", "exec"), namespace)  # noqa: S102 - our own doc
    result = namespace["result"]
    assert result.facilities.crs.to_epsg() == 31370 and len(result.facilities) == 2  # one bank per arrondissement
    assert set(result.facilities["region"]) == {"Leuven", "Mechelen"}
    assert (tmp_path / "leuven-mechelen.gpkg").exists() and (tmp_path / "notes.gpkg").read_text() == "mine"
    assert (tmp_path / "leuven-mechelen" / "summary.json").exists()


# ---------------------------------------------------------------------------------------------------------------
# Frames in
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frames():
    """The default instance's tables as GeoDataFrames: municipalities in WGS 84, its candidate zones (CORINE
    polygons, and the point aggregates) in Lambert 72, as the manifest reads them from zones.gpkg."""
    import geopandas as gpd
    import pandas as pd

    towns = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "municipalities.csv")
    gpkg = PROJECT_ROOT / "instances" / "flanders" / "zones" / "zones.gpkg"
    zones = pd.concat([gpd.read_file(gpkg, layer=layer) for layer in ("zones", "aggregate_candidates")],
                      ignore_index=True).rename(columns={"zone_id": "site_id"})
    demand = gpd.GeoDataFrame(towns.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(towns["x"], towns["y"]),
                              crs="EPSG:31370").to_crs("EPSG:4326")
    candidates = gpd.GeoDataFrame(zones.drop(columns=["x", "y"]), geometry=zones.geometry, crs="EPSG:31370")
    return demand, candidates


def test_frames_give_the_named_instance_result_and_are_not_modified(frames, mb_result) -> None:  # noqa: ANN001
    demand, candidates = frames
    before = (copy.deepcopy(demand), copy.deepcopy(candidates))
    inst = optimizer.Instance.from_frames(demand=demand, candidates=candidates, programmes=["materialenbank"],
                                          parameters={"enforce_capacity": False}, name="mb-frames")
    result = optimizer.solve(inst)
    # inputs never mutated: values, columns, index, dtypes, CRS and geometry all equal
    for given, kept in zip((demand, candidates), before, strict=True):
        assert given.crs == kept.crs
        assert given.equals(kept) and list(given.columns) == list(kept.columns)
        assert (given.dtypes == kept.dtypes).all()
        assert given.geometry.geom_equals_exact(kept.geometry, tolerance=0).all()
    # the same sites as the manifest; the objective within 1e-4 (the zones keep their polygons, so the facility
    # points are the manifest's; the WGS 84 round trip moves towns by micrometres)
    assert result.status == optimizer.Status.OPTIMAL
    assert sorted(result.facilities["site_id"]) == sorted(mb_result.facilities["site_id"])
    assert result.summary["objective"]["total"] == pytest.approx(mb_result.summary["objective"]["total"], rel=1e-4)
    assert result.summary["kind"] == "named" and result.summary["instance"] == "mb-frames"
    for layer in (result.facilities, result.allocations, result.demand):
        assert layer.crs.to_epsg() == 31370 and len(layer)
    assert "converted from EPSG:4326" in inst.description


def test_the_instance_is_not_modified_by_a_solve(frames) -> None:  # noqa: ANN001
    inst = optimizer.load_instance("s1e-materialenbank-central")
    demand, candidates, params = inst.demand.copy(), inst.candidates.copy(), copy.deepcopy(inst.parameters)
    optimizer.solve(inst)
    assert inst.demand.equals(demand) and inst.candidates.equals(candidates) and inst.parameters == params


def _gdf(frame, **changes):  # noqa: ANN001, ANN202
    out = frame.copy()
    for column, value in changes.items():
        out[column] = value
    return out


def test_a_frame_without_crs_is_refused(frames) -> None:  # noqa: ANN001
    demand, candidates = frames
    with pytest.raises(InputError, match="has no CRS") as e:
        optimizer.Instance.from_frames(demand=demand.set_crs(None, allow_override=True), candidates=candidates,
                                       programmes=["materialenbank"])
    assert e.value.file == "<demand GeoDataFrame>" and e.value.field == "crs"


def test_bad_values_name_the_frame_row_and_column(frames) -> None:  # noqa: ANN001
    demand, candidates = frames
    bad = _gdf(demand)
    bad.loc[4, "population"] = -5
    with pytest.raises(InputError) as e:
        optimizer.Instance.from_frames(demand=bad, candidates=candidates, programmes=["materialenbank"])
    assert (e.value.file, e.value.row, e.value.field) == ("<demand GeoDataFrame>", 5, "population")
    lines = _gdf(candidates)
    lines.loc[2, "geometry"] = lines.geometry.iloc[2].envelope.exterior  # a ring, not a point or polygon
    with pytest.raises(InputError, match="LinearRing geometry") as e:
        optimizer.Instance.from_frames(demand=demand, candidates=lines, programmes=["materialenbank"])
    assert (e.value.row, e.value.field) == (3, "geometry")
    with pytest.raises(InputError, match="expected a GeoDataFrame"):
        optimizer.Instance.from_frames(demand=demand.drop(columns="geometry"), candidates=candidates,
                                       programmes=["materialenbank"])
    with pytest.raises(InputError, match="unknown parameter 'size_varient'"):
        optimizer.Instance.from_frames(demand=demand, candidates=candidates, programmes=["materialenbank"],
                                       parameters={"size_varient": "poster"})


def test_regions_come_from_polygons_and_a_site_takes_the_nearest_unit(frames) -> None:  # noqa: ANN001
    import geopandas as gpd
    import shapely

    demand, candidates = frames
    west, east = shapely.box(2.0, 50.0, 4.3, 52.0), shapely.box(4.3, 50.0, 6.5, 52.0)
    regions = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[west, east], crs="EPSG:4326")
    sites = candidates.drop(columns=["nis"]).iloc[::10]
    inst = optimizer.Instance.from_frames(demand=demand.drop(columns=["arrondissement"]), candidates=sites,
                                          programmes=["materialenbank"], regions={"arrondissement": regions},
                                          parameters={"enforce_capacity": False, "size_rule": "free"})
    lon = demand.geometry.x.to_numpy()
    assert (inst.demand["arrondissement"].to_numpy() == ["west" if x < 4.3 else "east" for x in lon]).all()
    # point demand: each site belongs to the nearest demand unit (from its representative point, in metres)
    from scipy.spatial import cKDTree

    towns = demand.to_crs("EPSG:31370")
    at = sites.geometry.representative_point()
    _, k = cKDTree(np.c_[towns.geometry.x, towns.geometry.y]).query(np.c_[at.x, at.y])
    assert (inst.candidates["nis"].to_numpy() == towns["nis"].astype(str).to_numpy()[k]).all()
    own = candidates.iloc[::10]["nis"].astype(str).to_numpy()
    assert (inst.candidates["nis"].to_numpy() == own).mean() > 0.5  # a zone's own municipality, mostly
    outside = demand.copy()
    outside.loc[0, "geometry"] = shapely.Point(7.0, 51.0)
    with pytest.raises(InputError, match="lies in no region of the region layer") as e:
        optimizer.Instance.from_frames(demand=outside.drop(columns=["arrondissement"]), candidates=sites,
                                       programmes=["materialenbank"], regions={"arrondissement": regions})
    assert e.value.row == 1


# ---------------------------------------------------------------------------------------------------------------
# Results out
# ---------------------------------------------------------------------------------------------------------------
def test_result_summary_is_the_written_summary(mb_result) -> None:  # noqa: ANN001
    written = json.loads((mb_result.folder / "summary.json").read_text(encoding="utf-8"))
    assert written["objective"] == mb_result.summary["objective"]
    assert written["format"] == mb_result.summary["format"] == "circular-siting/result"
    assert mb_result.status is optimizer.Status.OPTIMAL
    again = optimizer.read_result(mb_result.folder)
    assert again.kind == "named" and len(again.facilities) == len(mb_result.facilities)


def test_to_gpkg_never_replaces_what_siting_did_not_write(mb_result, tmp_path: Path) -> None:  # noqa: ANN001
    import pyogrio

    ours = mb_result.to_gpkg(tmp_path / "r.gpkg")
    assert pyogrio.read_info(ours, layer="facilities")["dataset_metadata"]["format"] == "circular-siting/result"
    mb_result.to_gpkg(tmp_path / "r.gpkg")  # ours: replaced
    foreign = tmp_path / "theirs.gpkg"
    foreign.write_bytes(b"a user's file")
    target = tmp_path / "target.gpkg"
    target.write_text("the link's target")
    (tmp_path / "link.gpkg").symlink_to(target)
    for path, why in ((foreign, "not written by siting"), (tmp_path / "link.gpkg", "symbolic link"),
                      (tmp_path / "r.txt", "must end in .gpkg")):
        with pytest.raises(InputError, match=why):
            mb_result.to_gpkg(path)
    assert foreign.read_bytes() == b"a user's file" and target.read_text() == "the link's target"
    assert not list(tmp_path.glob(".*tmp*")), "a temporary file was left behind"


def test_a_matrix_problem_in_python(matrix_result) -> None:  # noqa: ANN001
    import numpy as np

    from optimizer.data.matrix_files import load_matrix_instance

    problem = load_matrix_instance(PROJECT_ROOT / "instances" / "matrix_example")
    result = optimizer.solve(problem, optimizer.SolveOptions(mip_gap=0.0))
    assert result.kind == "matrix" and result.summary["objective"]["total"] == pytest.approx(362.0)
    assert result.summary["objective"] == matrix_result.summary["objective"]
    assert not result.has_geometry and sorted(result.facilities["facility_id"]) == ["centre", "north"]
    assert np.isclose(result.allocations["share"].sum(), problem.n_clients)
    with pytest.raises(InputError, match="no coordinates"):
        result.to_gpkg("never.gpkg")
    with pytest.raises(InputError, match="needs coordinates"):
        result.explore()
    with pytest.raises(InputError, match="overrides apply when an instance is loaded"):
        optimizer.solve(problem, overrides={"mip_gap": 0.1})


def test_import_is_light_and_help_is_fast() -> None:
    """``import optimizer`` loads no heavy library; ``siting --help`` imports none of the engine."""
    code = ("import sys, optimizer; heavy = [m for m in ('pandas', 'geopandas', 'pyomo', 'highspy', 'numpy') "
            "if m in sys.modules]; print(','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True,
                          timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.stdout.strip() == "", f"import optimizer loaded {proc.stdout.strip()}"
    code = ("import sys; from optimizer.cli import app; heavy = [m for m in ('pandas', 'geopandas', 'pyomo', "
            "'highspy') if m in sys.modules]; print(','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True,
                          timeout=60)
    assert proc.stdout.strip() == "", f"the CLI module loaded {proc.stdout.strip()}"
    assert optimizer.solve is optimizer.pipeline.solve and "Instance" in dir(optimizer)
