"""The CLI as a planner runs it, for every instance kind — in process (click's CliRunner), plus a few true
end-to-end runs of ``python -m optimizer.cli`` (marked ``slow``; the README's test command runs them too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, siting

MATRIX = PROJECT_ROOT / "instances" / "matrix_example"


# ---------------------------------------------------------------------------------------------------------------
# Named instances
# ---------------------------------------------------------------------------------------------------------------
def test_solve_materialenbanken_reproduces_the_study(mb_folder: Path) -> None:
    summary = json.loads((mb_folder / "summary.json").read_text())
    assert summary["format"] == "circular-siting/result" and summary["kind"] == "named"
    assert summary["status"] == "optimal" and summary["gap"] == pytest.approx(0.0, abs=1e-6)
    mb = summary["programmes"]["materialenbank"]
    assert mb["count_per_size"] == {"large": 12, "small": 10}
    assert summary["land_take_ha"] == pytest.approx(17.0)
    assert summary["verification"]["passed"]
    for key in ("instance_hash", "parameters", "versions", "timings_s", "bound"):
        assert key in summary


def test_geopackage_layers(mb_folder: Path) -> None:
    import geopandas as gpd
    import pyogrio

    gpkg = mb_folder / "result.gpkg"
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
    meta = pyogrio.read_info(gpkg, layer="facilities")["dataset_metadata"]
    assert meta["format"] == "circular-siting/result" and meta["kind"] == "named"


def test_solve_prints_a_table_and_writes_where_asked(tmp_path: Path) -> None:
    out = tmp_path / "s1e"
    ran = siting("solve", "s1e-materialenbank-central", "--out", out)
    assert ran.returncode == 0, ran.stderr
    assert "status optimal" in ran.stdout and "verified:" in ran.stdout and "written to" in ran.stdout
    assert json.loads((out / "summary.json").read_text())["programmes"]["materialenbank_central"]["facilities"] == 1


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never"
    ran = siting("solve", "materialenbanken", "--set", "size_varient=poster", "--out", out)
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr and len(ran.stderr.strip().splitlines()) == 1
    assert "size_varient" in ran.stderr and "--set" in ran.stderr
    assert not out.exists()
    ran = siting("solve", "no-such-instance")
    assert ran.returncode == 2 and "no instance named" in ran.stderr


def test_list_show_validate() -> None:
    ran = siting("list")
    assert ran.returncode == 0 and "materialenbanken" in ran.stdout
    ran = siting("show", "materialenbanken")
    assert ran.returncode == 0 and "wood_to_bank_t_per_inhabitant_yr" in ran.stdout
    ran = siting("validate", "materialenbanken")
    assert ran.returncode == 0 and "ok" in ran.stdout


def test_help_lists_every_command_in_order_with_its_help() -> None:
    """``siting --help`` lists the 15 commands in their order, each with the first paragraph of its help (the lazy
    group imports the command modules to list them); ``siting`` alone prints the same help (exit 2)."""
    from optimizer.cli.app import COMMANDS

    ran = siting("--help")
    assert ran.returncode == 0 and ran.stderr == ""
    listed = [line.split()[0] for line in ran.stdout.split("Commands:", 1)[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == list(COMMANDS) == ["list", "programmes", "show", "validate", "solve", "locate", "pareto", "sweep",
                                        "sensitivity", "map", "report", "compare", "verify", "chain", "bench"]
    flat = " ".join(ran.stdout.split())
    assert "solve Solve an instance, verify the result independently and write GeoPackage, CSV and summary.json." in flat
    assert "5 with the violations when it does not." in flat  # verify's whole first paragraph, not cut at a sentence
    bare = siting()
    assert bare.returncode == 2 and "Commands:" in bare.stdout and "bench" in bare.stdout


@pytest.mark.parametrize(("args", "names"), [
    (["solve", str(MATRIX), "--time-limit", "abc"], ["--time-limit", "abc", "siting solve --help"]),
    (["solve", str(MATRIX), "--time-limt", "3"], ["--time-limt", "--time-limit"]),
    (["solve"], ["NAME", "siting solve --help"]),
    (["locate", "--demand", "d.gpkg"], ["missing option", "--weight"]),
    (["no-such-command"], ["no-such-command", "siting --help"]),
    (["--no-such-option"], ["--no-such-option"]),
])
def test_a_refused_command_line_is_one_line_exit_2(args: list[str], names: list[str]) -> None:
    """click's usage errors (a value of the wrong type, an unknown option or command, a missing argument) are one
    line on stderr naming what was wrong, exit 2, nothing on stdout and nothing written."""
    ran = siting(*args)
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    assert ran.stdout == "" and "Traceback" not in ran.stderr
    for name in names:
        assert name in lines[0], lines[0]


def test_infeasible_exit_3_names_region(tmp_path: Path) -> None:
    ran = siting("solve", "materialenbanken", "--set", "enforce_capacity=true", "--out", tmp_path / "x")
    assert ran.returncode == 3
    assert "Halle-Vilvoorde" in ran.stderr and "t/yr" in ran.stderr
    assert not (tmp_path / "x").exists()


def test_output_crs_and_geoparquet_rewrite_the_same_features(mb_result, tmp_path: Path) -> None:  # noqa: ANN001
    """``--crs EPSG:4326 --geoparquet``: the layers come out in WGS 84, also as GeoParquet, with the same features
    (written by the same export ``siting solve`` uses, without solving again)."""
    import geopandas as gpd

    out = mb_result.write(tmp_path / "wgs", crs="EPSG:4326", geoparquet=True)
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    assert fac.crs.to_epsg() == 4326 and len(fac) == 22
    assert fac.geometry.x.between(2.5, 6.0).all() and fac.geometry.y.between(50.6, 51.6).all()  # Flanders in degrees
    parquet = gpd.read_parquet(out / "facilities.parquet")
    assert parquet.crs.to_epsg() == 4326 and len(parquet) == 22
    assert json.loads((out / "summary.json").read_text())["crs"] == "EPSG:4326"


def test_unknown_output_crs_is_refused_before_solving(tmp_path: Path) -> None:
    ran = siting("solve", "materialenbanken", "--out", tmp_path / "x", "--crs", "EPSG:99999999")
    assert ran.returncode == 2 and "unknown CRS" in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------------------------
# Chain instances: the same pipeline, the same outputs
# ---------------------------------------------------------------------------------------------------------------
def test_solve_runs_a_chain_instance_through_the_one_pipeline(tiny_chain_models: Path, tmp_path: Path) -> None:
    out = tmp_path / "chain"
    ran = siting("solve", tiny_chain_models, "--out", out, "--json", "--crs", "EPSG:4326", "--geoparquet",
                 "--mip-gap", "0.001", "--threads", "1")
    assert ran.returncode == 0, ran.stderr
    s = json.loads(ran.stdout)
    assert s["kind"] == "chain" and s["format_version"] == 1 and s["out_dir"] == str(out.resolve())
    assert s["solve_options"]["mip_gap"] == 0.001 and s["solve_options"]["threads"] == 1  # honoured, not refused
    assert s["crs"] == "EPSG:4326" and (out / "flows.parquet").exists()
    assert json.loads((out / "summary.json").read_text())["crs"] == "EPSG:4326"
    same = siting("chain", tiny_chain_models, "--out", tmp_path / "again", "--json", "--set", "mip_gap=0.001",
                  "--set", "threads=1")  # the old command: an alias (same options: a gap allows other solutions)
    assert same.returncode == 0 and json.loads(same.stdout)["objective"] == s["objective"]


def test_chain_refuses_what_it_cannot_honour(tiny_chain_models: Path, tmp_path: Path) -> None:
    ran = siting("solve", tiny_chain_models, "--out", tmp_path / "x", "--backend", "pyomo")
    assert ran.returncode == 2 and "--backend has no meaning for a chain instance" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    ran = siting("pareto", tiny_chain_models)
    assert ran.returncode == 2 and "pareto traces transport against land take" in ran.stderr
    ran = siting("chain", "materialenbanken")
    assert ran.returncode == 2 and "not a plastics-chain instance" in ran.stderr


# ---------------------------------------------------------------------------------------------------------------
# Matrix instances
# ---------------------------------------------------------------------------------------------------------------
def test_matrix_instance_solves_and_honours_solver_parameters(tmp_path: Path) -> None:
    out = tmp_path / "m"
    ran = siting("solve", MATRIX, "--out", out, "--set", "mip_gap=0.01", "--set", "time_limit_s=20",
                 "--set", "threads=1", "--json")
    assert ran.returncode == 0, ran.stderr
    s = json.loads(ran.stdout)
    assert s["kind"] == "matrix" and s["objective"]["total"] == pytest.approx(362.0)
    assert s["solve_options"]["mip_gap"] == 0.01 and s["solve_options"]["time_limit_s"] == 20.0
    assert s["solve_options"]["threads"] == 1 and s["parameters"]["mip_gap"] == 0.01
    assert s["overrides"] == {"mip_gap": "0.01", "time_limit_s": "20", "threads": "1"}
    assert s["crs"] is None and s["land_take_ha"] is None
    assert {p.name for p in out.iterdir()} == {"facilities.csv", "assignments.csv", "clients.csv", "summary.json"}


@pytest.mark.parametrize(("args", "text"), [
    (["--set", "size_variant=poster"], "a matrix instance has no parameter 'size_variant'"),
    (["--crs", "EPSG:4326"], "--crs has no meaning for a matrix instance"),
    (["--geoparquet"], "--geoparquet has no meaning for a matrix instance"),
])
def test_matrix_instance_refuses_what_has_no_meaning(args: list[str], text: str, tmp_path: Path) -> None:
    ran = siting("solve", MATRIX, "--out", tmp_path / "x", *args)
    assert ran.returncode == 2 and text in ran.stderr, ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_matrix_result_maps_and_reports_refuse_compare_works(matrix_result, tmp_path: Path) -> None:  # noqa: ANN001
    for command in ("map", "report"):
        ran = siting(command, matrix_result.folder, "--out", tmp_path)
        assert ran.returncode == 2 and "needs coordinates, and a matrix instance has none" in ran.stderr
    ran = siting("pareto", MATRIX)
    assert ran.returncode == 2 and "no land take" in ran.stderr
    ran = siting("compare", matrix_result.folder, matrix_result.folder, "--json")
    assert ran.returncode == 0 and json.loads(ran.stdout)["same"] is True


def test_results_of_different_kinds_are_not_compared(matrix_result, chain_result,  # noqa: ANN001
                                                    tiny_chain_models: Path) -> None:
    ran = siting("compare", matrix_result.folder, chain_result.folder)
    assert ran.returncode == 2 and "cannot compare a matrix result with a chain result" in ran.stderr


# ---------------------------------------------------------------------------------------------------------------
# True end to end: a new Python process, real stdout and stderr (the HiGHS banner is C-level output)
# ---------------------------------------------------------------------------------------------------------------
CLI_WITH_TINY_CHAIN = """
import sys
from pathlib import Path
sys.path.insert(0, "tests")
import pytest
from conftest import chain_models
with pytest.MonkeyPatch.context() as mp:
    chain_models(mp, Path(sys.argv.pop(1)))
    from optimizer.cli import app
    app(prog_name="siting")
"""


@pytest.mark.slow
def test_end_to_end_json_of_a_chain_parses(tiny_chain: Path, tmp_path: Path) -> None:
    """``--json`` stdout is JSON only — no solver banner or log — for a chain (its own HiGHS model), in a fresh
    process where HiGHS prints its banner at the first construction (a named instance: the determinism test of
    tests/check/test_reliability.py)."""
    cmd = [sys.executable, "-c", CLI_WITH_TINY_CHAIN, str(tiny_chain), "solve", str(tiny_chain / "chain.toml"),
           "--out", str(tmp_path / "chain"), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["format"] == "circular-siting/result" and summary["kind"] == "chain"
    assert summary["verification"]["passed"]


@pytest.mark.slow
def test_end_to_end_bad_input_and_list(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", "materialenbanken", "--set",
                           "size_varient=poster", "--out", str(tmp_path / "never")], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "never").exists()
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "list"], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300, check=False)
    assert proc.returncode == 0 and "materialenbanken" in proc.stdout
