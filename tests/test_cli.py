"""The CLI end to end, as a planner would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT


def siting(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True,
                          cwd=cwd or PROJECT_ROOT, timeout=600)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "mb"
    proc = siting("solve", "materialenbanken", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_solve_materialenbanken_reproduces_the_study(solved: Path) -> None:
    summary = json.loads((solved / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["gap"] == pytest.approx(0.0, abs=1e-6)
    mb = summary["programmes"]["materialenbank"]
    assert mb["count_per_size"] == {"large": 12, "small": 10}
    assert summary["land_take_ha"] == pytest.approx(17.0)
    assert summary["verification"]["passed"]
    for key in ("instance_hash", "parameters", "versions", "timings_s", "bound"):
        assert key in summary


def test_geopackage_layers(solved: Path) -> None:
    import geopandas as gpd
    import pyogrio

    gpkg = solved / "result.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert {"facilities", "allocations", "demand", "candidates", "zones", "networks"} <= set(layers)
    expected = {"facilities": 22, "allocations": 285, "demand": 285, "candidates": 801, "zones": 732}
    for name, rows in expected.items():
        gdf = gpd.read_file(gpkg, layer=name)
        assert len(gdf) == rows, name
        assert gdf.crs.to_epsg() == 31370
        assert gdf.geometry.is_valid.all()
    fac = gpd.read_file(gpkg, layer="facilities")
    assert set(fac["size"]) == {"large", "small"}
    assert fac.groupby("region").size().eq(1).all() and fac["region"].nunique() == 22
    alloc = gpd.read_file(gpkg, layer="allocations")
    assert (alloc["region"] == alloc.merge(fac, on="facility_id")["region_y"]).all()
    cands = gpd.read_file(gpkg, layer="candidates")
    assert cands["chosen"].sum() == 22


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never"
    proc = siting("solve", "materialenbanken", "--set", "size_varient=poster", "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "size_varient" in proc.stderr and "--set" in proc.stderr
    assert not out.exists()
    proc = siting("solve", "no-such-instance")
    assert proc.returncode == 2 and "no instance named" in proc.stderr


def test_list_show_validate() -> None:
    proc = siting("list")
    assert proc.returncode == 0 and "materialenbanken" in proc.stdout
    proc = siting("show", "materialenbanken")
    assert proc.returncode == 0 and "wood_to_bank_t_per_inhabitant_yr" in proc.stdout
    proc = siting("validate", "materialenbanken")
    assert proc.returncode == 0 and "ok" in proc.stdout


def test_infeasible_exit_3_names_region(tmp_path: Path) -> None:
    proc = siting("solve", "materialenbanken", "--set", "enforce_capacity=true", "--out", str(tmp_path / "x"))
    assert proc.returncode == 3
    assert "Halle-Vilvoorde" in proc.stderr and "t/yr" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_solve_geoparquet_and_output_crs(tmp_path: Path) -> None:
    """``--crs EPSG:4326 --geoparquet``: the layers come out in WGS 84, also as GeoParquet, with the same features."""
    import geopandas as gpd

    out = tmp_path / "wgs"
    proc = siting("solve", "materialenbanken", "--out", str(out), "--crs", "EPSG:4326", "--geoparquet", "-q")
    assert proc.returncode == 0, proc.stderr
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    assert fac.crs.to_epsg() == 4326 and len(fac) == 22
    assert fac.geometry.x.between(2.5, 6.0).all() and fac.geometry.y.between(50.6, 51.6).all()  # Flanders in degrees
    parquet = gpd.read_parquet(out / "facilities.parquet")
    assert parquet.crs.to_epsg() == 4326 and len(parquet) == 22


def test_unknown_output_crs_is_refused_before_solving(tmp_path: Path) -> None:
    proc = siting("solve", "materialenbanken", "--out", str(tmp_path / "x"), "--crs", "EPSG:99999999")
    assert proc.returncode == 2 and "unknown CRS" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_solve_dispatches_chain_instances_to_the_chain_model(monkeypatch, tmp_path: Path) -> None:
    """`siting solve s2b-plastics-chain` runs the multi-echelon chain model (as `siting chain` does)."""
    from typer.testing import CliRunner

    from optimizer import pipeline
    from optimizer.cli import app
    from optimizer.data.instance import is_chain_instance

    assert is_chain_instance("s2b-plastics-chain") and not is_chain_instance("materialenbanken")
    assert not is_chain_instance("no-such-instance")  # the full load reports that, with its own message
    seen = {}

    def fake_run_chain(name, overrides, out_dir, time_limit):  # noqa: ANN001, ANN202
        seen.update(name=name, overrides=overrides, out_dir=out_dir, time_limit=time_limit)
        return {"instance": name, "status": "optimal", "gap": 0.0}

    monkeypatch.setattr(pipeline, "run_chain", fake_run_chain)
    result = CliRunner().invoke(app, ["solve", "s2b-plastics-chain", "--out", str(tmp_path / "c"), "--time-limit", "7",
                                      "--set", "chain_ambition=mid", "--json"])
    assert result.exit_code == 0, result.output
    assert seen == {"name": "s2b-plastics-chain", "overrides": {"chain_ambition": "mid"}, "out_dir": tmp_path / "c",
                    "time_limit": 7.0}
    assert json.loads(result.stdout)["status"] == "optimal"
    refused = CliRunner().invoke(app, ["solve", "s2b-plastics-chain", "--out", str(tmp_path / "d"), "--crs", "EPSG:4326"])
    assert refused.exit_code == 2 and "--crs not available for the plastics-chain model" in refused.stderr
