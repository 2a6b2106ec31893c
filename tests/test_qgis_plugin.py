"""The QGIS plugin (qgis_plugin/siting_processing) in real QGIS: provider, algorithms, the acceptance run, bad input
and Cancel.

QGIS's Python (Debian's ``/usr/bin/python3`` with ``python3-qgis``) drives the plugin in a subprocess, headless
(``QT_QPA_PLATFORM=offscreen``): ``tests/qgis_plugin_check.py`` initialises Processing, loads the plugin through
its ``classFactory``, runs the algorithms through ``processing.run`` and loads the results the way the Processing
GUI does (``handleAlgorithmResults``). The plugin in turn runs this checkout's ``siting`` executable as a
subprocess, so three processes are involved, as on a planner's machine. The test judges what the script printed
and wrote, and compares with ``siting solve materialenbanken`` run here. Skips when QGIS is not installed.

``SITING_DOCS_IMG=docs/img python -m pytest tests/test_qgis_plugin.py`` also refreshes the screenshots of
docs/qgis.md (otherwise they are rendered into a temporary folder and only checked).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from helpers import points_manifest

QGIS_PYTHON = Path("/usr/bin/python3")
CHECK_SCRIPT = Path(__file__).with_name("qgis_plugin_check.py")
SITING = Path(sys.executable).with_name("siting")
EXPECTED_RENDERERS = {"facilities": "categorizedSymbol", "allocations": "graduatedSymbol", "demand": "graduatedSymbol",
                      "candidates": "categorizedSymbol", "networks": "categorizedSymbol"}
CANCEL_WITHIN_S = 5.0


def _qgis_available() -> bool:
    if not QGIS_PYTHON.exists():
        return False
    proc = subprocess.run([str(QGIS_PYTHON), "-c", "import qgis.core"], capture_output=True, timeout=120,
                          env=_qgis_env(Path("/tmp")), check=False)
    return proc.returncode == 0


def _qgis_env(home: Path) -> dict[str, str]:
    # a clean environment: the test runner's Python must not leak into Debian's Python (nor QGIS's into the engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_RUNTIME_DIR=str(home), SITING_EXECUTABLE=str(SITING))
    return env


needs_qgis = pytest.mark.skipif(not _qgis_available(),
                                reason="QGIS (Debian qgis + python3-qgis for /usr/bin/python3) is not installed")


def _point_layer(csv: Path, target: Path, layer: str, crs: str = "EPSG:31370") -> Path:
    import geopandas as gpd
    import pandas as pd

    frame = pd.read_csv(csv)
    gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                           crs="EPSG:31370").to_crs(crs)
    gdf.to_file(target, layer=layer, driver="GPKG" if target.suffix == ".gpkg" else None)
    return target


@pytest.fixture(scope="module")
def qgis_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Everything the QGIS script reported, plus the named instance solved by the CLI (run side by side)."""
    import geopandas as gpd
    import shapely

    tmp = tmp_path_factory.mktemp("qgis_plugin")
    flanders = PROJECT_ROOT / "instances" / "flanders"
    munis = _point_layer(flanders / "municipalities.csv", tmp / "municipalities.gpkg", "municipalities")
    zones = _point_layer(flanders / "candidates.csv", tmp / "zones.gpkg", "zones")
    munis_wgs84 = _point_layer(flanders / "municipalities.csv", tmp / "municipalities_wgs84.geojson", "m", "EPSG:4326")
    bowtie = gpd.read_file(munis)
    x, y = bowtie.geometry.x, bowtie.geometry.y
    bowtie["geometry"] = bowtie.buffer(1500)
    bowtie.loc[3, "geometry"] = shapely.Polygon([(x[3] - 900, y[3] - 900), (x[3] + 900, y[3] + 900),
                                                 (x[3] + 900, y[3] - 900), (x[3] - 900, y[3] + 900)])
    bowtie.to_file(tmp / "municipality_polygons.gpkg", layer="polygons")
    named = tmp / "named"
    cli = subprocess.Popen([str(SITING), "solve", str(points_manifest(tmp)), "--out", str(named), "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    previous = tmp / "previous-result"  # the Cancel check must leave this result exactly as it was

    # the shipped tables as a planner's layers: municipalities (points) and candidate zones (points), EPSG:31370
    fields = {"WEIGHT": "population", "DEMAND_ID": "nis", "DEMAND_NAME": "name", "DEMAND_AREA": "area_km2",
              "DEMAND_CENTRUMSTAD": "centrumstad", "DEMAND_UITRUSTINGSGRAAD": "uitrustingsgraad",
              "REGION_FIELD": "arrondissement", "FREE_AREA": "free_ha", "TOTAL_AREA": "total_ha",
              "ZONE_TYPE": "zone_type", "CANDIDATE_ID": "site_id", "CANDIDATE_NAME": "name", "CANDIDATE_DEMAND": "nis",
              "PROGRAMME": "materialenbank", "CAPACITY": False}  # capacity off, as in instances/materialenbanken.toml
    locate = {"layers": {"DEMAND": [f"{munis}|layername=municipalities", "municipalities"],
                         "CANDIDATES": [str(zones), "zones"]},
              "params": {**fields, "OUTPUT_FOLDER": str(tmp / "located")}}
    base = {**fields, "DEMAND": f"{munis}|layername=municipalities", "CANDIDATES": str(zones)}
    user_folder = tmp / "my-documents"
    user_folder.mkdir()
    (user_folder / "notes.txt").write_text("a file siting did not write\n", encoding="utf-8")
    bad = [
        {"name": "no weight field", "alg": "siting:locate",
         "params": {**base, "WEIGHT": "inwoners", "OUTPUT_FOLDER": str(tmp / "bad-weight")}},
        {"name": "empty layer", "alg": "siting:locate",
         "memory_layer": {"param": "DEMAND", "geometry": "Point", "crs": "EPSG:31370", "name": "empty demand",
                          "fields": ["population", "arrondissement"]},
         "params": {**base, "DEMAND_ID": None, "DEMAND_NAME": None, "DEMAND_AREA": None, "DEMAND_CENTRUMSTAD": None,
                    "DEMAND_UITRUSTINGSGRAAD": None, "CANDIDATE_DEMAND": None, "OUTPUT_FOLDER": str(tmp / "bad-empty")}},
        {"name": "geographic CRS converted, then a missing field", "alg": "siting:locate",
         "params": {**base, "DEMAND": str(munis_wgs84), "FREE_AREA": "vrij_ha", "OUTPUT_FOLDER": str(tmp / "bad-crs")}},
        {"name": "invalid geometry", "alg": "siting:locate",
         "params": {**base, "DEMAND": f"{tmp / 'municipality_polygons.gpkg'}|layername=polygons",
                    "OUTPUT_FOLDER": str(tmp / "bad-geometry")}},
        {"name": "a folder siting did not write", "alg": "siting:locate",
         "params": {**base, "OUTPUT_FOLDER": str(user_folder)}},
    ]
    img_dir = Path(os.environ["SITING_DOCS_IMG"]).resolve() if os.environ.get("SITING_DOCS_IMG") else tmp / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    cfg = {
        "plugin_parent": str(PROJECT_ROOT / "qgis_plugin"),
        "locate": locate,
        "img_dir": str(img_dir),
        "bad": bad,
        "tables": [
            {"alg": "siting:pareto", "params": {"MANIFEST": str(PROJECT_ROOT / "tests" / "corpus" / "base" / "instance.toml"),
                                                "POINTS": 3, "SET": ["size_rule", "free"],
                                                "OUTPUT": str(tmp / "pareto.csv"), "CHART": str(tmp / "pareto.html")}},
            {"alg": "siting:compare", "params": {"RESULT_A": str(named), "RESULT_B": str(tmp / "located"),
                                                 "OUTPUT": str(tmp / "changes.csv"), "REPORT": str(tmp / "changes.html")}},
        ],
        # fine-2k-500 with any assignment runs for a minute: cancelled 1 s into the solve
        "cancel": {"alg": "siting:solve", "stage": "solving", "delay_s": 1.0,
                   "params": {"INSTANCE": "fine-2k-500", "SET": ["assignment", "any"],
                              "OUTPUT_FOLDER": str(previous)}},
    }
    stdout, stderr = cli.communicate(timeout=600)
    assert cli.returncode == 0, stderr
    shutil.copytree(named, previous)
    config = tmp / "config.json"
    config.write_text(json.dumps(cfg), encoding="utf-8")
    proc = subprocess.run([str(QGIS_PYTHON), str(CHECK_SCRIPT), str(config)], capture_output=True, text=True,
                          timeout=900, env=_qgis_env(tmp), cwd=tmp, check=False)
    report: dict = {"named": named, "img_dir": img_dir, "user_folder": user_folder, "bad": {}, "table": {}}
    for line in proc.stdout.splitlines():
        if line.startswith("QGIS-RESULT "):
            item = json.loads(line.removeprefix("QGIS-RESULT "))
            if item["check"] == "bad":
                report["bad"][item["name"]] = item
            elif item["check"] == "table":
                report["table"][item["alg"]] = item
            else:
                report[item["check"]] = item
    assert "crash" not in report, report["crash"]["traceback"]
    assert "done" in report, f"QGIS check failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return report


@needs_qgis
def test_provider_loads_with_its_algorithms(qgis_run: dict) -> None:
    provider = qgis_run["provider"]
    assert provider["found"], provider
    assert provider["algorithms"] == ["siting:compare", "siting:locate", "siting:pareto", "siting:solve"]
    assert str(SITING) in provider["long_name"]  # found through the setting / SITING_EXECUTABLE


@needs_qgis
def test_locate_from_layers_equals_the_named_instance(qgis_run: dict) -> None:
    """Acceptance: the shipped municipalities and candidate zones as layers, materialenbank, one per arrondissement
    -> the same objective and sites as `siting solve materialenbanken`."""
    import pandas as pd

    run = qgis_run["locate"]
    assert run["ok"], run["log"]
    named = json.loads((qgis_run["named"] / "summary.json").read_text(encoding="utf-8"))
    assert run["results"]["OBJECTIVE"] == pytest.approx(named["objective"]["total"], rel=1e-9)
    assert run["results"]["STATUS"] == named["status"] == "optimal"
    facilities = pd.read_csv(qgis_run["named"] / "facilities.csv")
    expected_sites = sorted([str(s), str(z)] for s, z in zip(facilities["site_id"], facilities["size"]))
    located = next(v for k, v in run["layers"].items() if k.endswith("— facilities"))
    assert located["sites"] == expected_sites
    manifest = Path(run["results"]["MANIFEST"])
    assert manifest.is_file() and (manifest.parent / "demand.csv").is_file()
    assert "solving (285 clients" in run["log"] and "Traceback" not in run["log"]  # progress streamed to the log


@needs_qgis
def test_located_layers_are_valid_styled_lambert72_and_in_drawing_order(qgis_run: dict) -> None:
    import pyogrio

    run = qgis_run["locate"]
    layers = {name.split("— ")[-1]: info for name, info in run["layers"].items()}
    assert set(EXPECTED_RENDERERS) <= set(layers)
    named_gpkg = qgis_run["named"] / "result.gpkg"
    for name, renderer in EXPECTED_RENDERERS.items():
        info = layers[name]
        assert info["valid"] and info["crs"] == "EPSG:31370", (name, info)
        assert info["renderer"] == renderer and info["classes"] >= 2, (name, info)  # the result's own style
        n_named = len(pyogrio.read_dataframe(named_gpkg, layer=name, read_geometry=False))
        assert info["features"] == n_named > 0, name
    order = [name.split("— ")[-1] for name in run["tree_order"]]
    assert order[: len(EXPECTED_RENDERERS)] == list(EXPECTED_RENDERERS)  # facilities on top, networks at the bottom


@needs_qgis
@pytest.mark.parametrize(("case", "expected"), [
    ("no weight field", "no field 'inwoners'"),
    ("empty layer", "the layer has no features"),
    ("geographic CRS converted, then a missing field", "no field 'vrij_ha'"),
    ("invalid geometry", "4:geometry: invalid geometry (Self-intersection"),
    ("a folder siting did not write", "holds files siting did not write"),
])
def test_bad_layer_input_is_a_processing_error(qgis_run: dict, case: str, expected: str) -> None:
    item = qgis_run["bad"][case]
    error = item["error"] or ""
    assert error.startswith("QgsProcessingException: error: ") and expected in error, item
    assert "Traceback" not in error and not any("Traceback" in text for _, text in item["log"]), item
    out = item["out_state"]
    if case == "a folder siting did not write":
        assert (qgis_run["user_folder"] / "notes.txt").read_text(encoding="utf-8").startswith("a file siting")
        assert sorted(out["files"]) == ["notes.txt"]
    else:
        assert out["files"] is None, item  # nothing written
    assert out["hidden_siblings"] == []
    if case == "empty layer":  # a QGIS-only layer is named, not its temporary export
        assert "layer 'empty demand'" in error, error
    if case.startswith("geographic"):
        assert any("converted from EPSG:4326" in text for _, text in item["log"]), item["log"]


@needs_qgis
def test_trade_off_gives_a_table_and_a_chart(qgis_run: dict) -> None:
    item = qgis_run["table"]["siting:pareto"]
    assert item["error"] is None, item
    rows = item["rows"]
    assert len(rows) == 3 and {"point", "land_take_ha", "transport", "facilities", "verified"} <= set(rows[0])
    assert all(r["verified"] in ("True", "true") and float(r["transport"]) > 0 for r in rows), rows
    chart = Path(item["results"]["CHART"])
    assert "<img" in chart.read_text(encoding="utf-8") and Path(item["results"]["CHART_PNG"]).stat().st_size > 1000


@needs_qgis
def test_compare_gives_a_table_of_changes(qgis_run: dict) -> None:
    """The located run against the named instance: the same solution, so only figures and no changes."""
    item = qgis_run["table"]["siting:compare"]
    assert item["error"] is None, item
    rows = item["rows"]
    sections = {r["section"] for r in rows}
    assert sections == {"figure", "programme"}, rows  # no region moved, no municipality reassigned
    total = next(r for r in rows if r["item"].startswith("objective total"))
    assert total["change"] == "=" and total["a"] == total["b"]
    assert any("no facility moved" in text for _, text in item["log"])
    assert "<table>" in Path(item["results"]["REPORT"]).read_text(encoding="utf-8")


@needs_qgis
def test_cancel_stops_the_engine_and_leaves_the_previous_result(qgis_run: dict) -> None:
    item = qgis_run["cancel"]
    assert any(s.startswith("solving") for s in item["stages"]), item  # cancelled during the solve
    assert item["error"] and "cancelled" in item["error"], item
    assert item["cancel_to_end_s"] is not None and item["cancel_to_end_s"] < CANCEL_WITHIN_S, item
    print(f"cancel -> algorithm returned, engine gone: {item['cancel_to_end_s']:.2f} s")
    assert item["pid"] and not item["alive_after"], item
    assert item["before"]["files"] and item["after"] == item["before"], "the previous result changed"


@needs_qgis
def test_screenshots_for_the_docs_are_rendered(qgis_run: dict) -> None:
    from PIL import Image  # matplotlib's dependency

    for name in ("qgis-locate-result.png", "qgis-locate-dialog.png", "qgis-locate-log.png"):
        path = qgis_run["img_dir"] / name
        assert path.is_file(), path
        with Image.open(path) as img:
            colours = img.convert("RGB").resize((120, 100)).getcolors(maxcolors=100_000)
        assert colours is not None and len(colours) > 20, f"{name}: blank render?"


def test_plugin_zip_builds_from_the_sources(tmp_path: Path) -> None:
    """`python qgis_plugin/build_zip.py` (stdlib only) gives an installable, reproducible zip."""
    out = tmp_path / "siting_processing.zip"
    for target in (out, tmp_path / "again.zip"):
        proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "qgis_plugin" / "build_zip.py"), "--out", str(target)],
                              capture_output=True, text=True, check=False, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (tmp_path / "again.zip").read_bytes()
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        metadata = zf.read("siting_processing/metadata.txt").decode("utf-8")
    assert {"siting_processing/__init__.py", "siting_processing/metadata.txt", "siting_processing/LICENSE",
            "siting_processing/icon.svg"} <= set(names)
    assert all(n.startswith("siting_processing/") and "__pycache__" not in n for n in names)
    assert "hasProcessingProvider=yes" in metadata and "qgisMinimumVersion=3.22" in metadata


def test_plugin_imports_nothing_of_the_engine() -> None:
    """QGIS's Python never imports the engine or its dependencies: the plugin only runs the executable."""
    forbidden = ("optimizer", "geopandas", "pandas", "numpy", "highspy", "pyomo", "shapely", "pyogrio", "click")
    for path in (PROJECT_ROOT / "qgis_plugin" / "siting_processing").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in forbidden, f"{path.name}: {line.strip()}"
