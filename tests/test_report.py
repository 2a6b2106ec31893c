"""Styles, maps, the policy report and the comparison of two results."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=600, check=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    from optimizer.pipeline import run as run_pipeline

    return run_pipeline("materialenbanken", out_dir=tmp_path_factory.mktemp("report") / "mb")


@pytest.fixture(scope="module")
def solved(run) -> Path:
    return run.out_dir


# ---------------------------------------------------------------------------------------------------------------
# Styled GeoPackage
# ---------------------------------------------------------------------------------------------------------------
def test_layer_styles_table_has_a_default_style_per_layer(solved: Path) -> None:
    con = sqlite3.connect(solved / "result.gpkg")
    cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
    for col in ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
                "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"):
        assert col in cols
    rows = con.execute("SELECT f_table_name, f_geometry_column, styleQML, styleSLD FROM layer_styles "
                       "WHERE useAsDefault = 1").fetchall()
    registered = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    con.close()
    assert registered == ("attributes",)
    by_layer = {r[0]: r for r in rows}
    assert set(by_layer) == {"facilities", "allocations", "demand", "candidates", "networks", "zones"}
    kinds = {"facilities": "categorizedSymbol", "allocations": "graduatedSymbol", "demand": "graduatedSymbol",
             "candidates": "categorizedSymbol", "networks": "categorizedSymbol", "zones": "categorizedSymbol"}
    for layer, (_, geom_col, qml, sld) in by_layer.items():
        assert geom_col == "geom"
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        renderer = root.find("renderer-v2")
        assert renderer is not None and renderer.get("type") == kinds[layer]
        assert len(renderer.find("symbols")) >= 2
        ET.fromstring(sld)  # well-formed
        assert (solved / f"result.{layer}.qml").read_text(encoding="utf-8") == qml


def test_styles_follow_the_data(solved: Path) -> None:
    import geopandas as gpd

    from optimizer.output.styles import (
        allocations_style,
        facilities_style,
        networks_style,
    )

    gpkg = solved / "result.gpkg"
    fac = facilities_style(gpd.read_file(gpkg, layer="facilities"))
    assert [s.value for s in fac.symbols] == ["materialenbank large", "materialenbank small"]
    assert fac.symbols[0].size > fac.symbols[1].size  # larger plot, larger marker
    alloc = gpd.read_file(gpkg, layer="allocations")
    style = allocations_style(alloc)
    assert style.symbols[0].lower == pytest.approx(alloc["tonnes"].min())
    assert style.symbols[-1].upper == pytest.approx(alloc["tonnes"].max())
    widths = [s.size for s in style.symbols]
    assert widths == sorted(widths)
    net = networks_style(gpd.read_file(gpkg, layer="networks"))
    rail = [s for s in net.symbols if s.value.startswith("rail")]
    assert rail and all(s.dashed for s in rail)
    assert any(s.value.startswith("water ") for s in net.symbols)
    assert {"road motorway", "road other"} <= {s.value for s in net.symbols}
    from optimizer.output.styles import zones_style

    zones = zones_style(gpd.read_file(gpkg, layer="zones"))
    assert [s.value for s in zones.symbols] == ["chosen", "seaport", "free", "full"] and zones.geometry == "polygon"
    assert "<layerGeometryType>2</layerGeometryType>" in zones.qml()


def test_geoparquet_is_optional(run, tmp_path: Path) -> None:
    import geopandas as gpd

    from optimizer.output.export import network_layer
    from optimizer.output.export import write_result

    out = write_result(tmp_path / "gp", run.tables, run.summary, extra_layers=network_layer(), geoparquet=True)
    fac = gpd.read_parquet(out / "facilities.parquet")
    assert len(fac) == 22 and fac.crs.to_epsg() == 31370
    assert (out / "facilities.csv").exists() and (out / "allocations.csv").exists()
    assert not list(run.out_dir.glob("*.parquet"))  # default: no GeoParquet


# ---------------------------------------------------------------------------------------------------------------
# Maps and report
# ---------------------------------------------------------------------------------------------------------------
def test_map_command_writes_png_and_html(solved: Path, tmp_path: Path) -> None:
    proc = siting("map", str(solved), "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    png, html = Path(written["png"]), Path(written["html"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    text = html.read_text(encoding="utf-8")
    assert "L.control.layers" in text and "materialenbank" in text


def test_map_with_boundaries(solved: Path, tmp_path: Path) -> None:
    import geopandas as gpd
    import pandas as pd

    muni = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "municipalities.csv")
    bnd = gpd.GeoDataFrame(muni[["nis"]], geometry=gpd.points_from_xy(muni["x"], muni["y"]).buffer(3000),
                           crs="EPSG:31370").to_crs("EPSG:4326")
    bnd.to_file(tmp_path / "gemeenten.geojson", driver="GeoJSON")
    proc = siting("map", str(solved), "--out", str(tmp_path), "--boundaries", str(tmp_path / "gemeenten.geojson"),
                  "--no-html", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and (tmp_path / "map.png").exists() and not (tmp_path / "map.html").exists()


def test_report_is_self_contained(solved: Path, tmp_path: Path) -> None:
    proc = siting("report", str(solved), "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    html = Path(written["html"]).read_text(encoding="utf-8")
    # no resource is fetched from anywhere: no remote src/href, no CSS url()/@import, no scripts
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.IGNORECASE) and "@import" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert 'src="data:image/png;base64,' in html
    summary = json.loads((solved / "summary.json").read_text())
    for text in (f"{summary['transport_tkm_per_yr']:,.0f} t·km/yr", f"€ {summary['objective']['total']:,.0f}", "17.0 ha",
                 "12 large, 10 small", "optimal", "Halle-Vilvoorde", "wood_to_bank_t_per_inhabitant_yr",
                 "t/(inhabitant*yr)", "121 %"):
        assert text in html, text
    md = Path(written["markdown"]).read_text(encoding="utf-8")
    assert "| Antwerpen |" in md and "![map](map.png)" in md and "wood_to_bank_t_per_inhabitant_yr" in md
    assert Path(written["png"]).exists()


def test_report_assumptions_have_basis_text(solved: Path) -> None:
    from optimizer.output.maps import read_result
    from optimizer.output.report import report_data

    data = report_data(read_result(solved))
    used = data.assumptions[data.assumptions["used"]].set_index("name")
    assert {"wood_to_bank_t_per_inhabitant_yr", "materialenbank_throughput_t_per_m2_yr",
            "cost_road_eur_per_tkm", "access_circuity"} <= set(used.index)
    assert (used["basis"].str.len() > 20).all()
    assert len(data.regions) == 22 and data.regions["n_municipalities"].sum() == 285


def test_report_on_a_missing_result_is_exit_2(tmp_path: Path) -> None:
    proc = siting("report", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# ---------------------------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------------------------
def test_compare_a_result_with_itself_changes_nothing(solved: Path) -> None:
    from optimizer.output.compare import compare_results

    diff = compare_results(solved, solved)
    assert diff["same"] and not diff["reassigned"]


@pytest.mark.slow
def test_compare_shows_moves_and_reassignments(solved: Path, tmp_path: Path) -> None:
    other = tmp_path / "any"
    proc = siting("solve", "materialenbanken", "--out", str(other), "--set", "assignment=any", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = siting("compare", str(solved), str(other), "--json", "--markdown", str(tmp_path / "cmp.md"))
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    assert not diff["same"]
    assert any(r["change"].startswith("moved") for r in diff["regions"])
    assert diff["reassigned"]
    head = {row[0]: row for row in diff["headline"]}
    assert head["transport (t·km/yr)"][2] < head["transport (t·km/yr)"][1]  # free assignment cannot cost more
    md = (tmp_path / "cmp.md").read_text(encoding="utf-8")
    assert "## Municipalities reassigned" in md
    proc = siting("compare", str(solved), str(other))
    assert proc.returncode == 0 and "regions with a change" in proc.stdout
