"""Styles, maps, the policy report and the comparison of two results — of a location instance and of a chain."""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, siting


@pytest.fixture(scope="module")
def run(mb_result):  # noqa: ANN001
    return mb_result


@pytest.fixture(scope="module")
def solved(mb_folder: Path) -> Path:
    return mb_folder


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

    out = run.write(tmp_path / "gp", geoparquet=True)
    fac = gpd.read_parquet(out / "facilities.parquet")
    assert len(fac) == 22 and fac.crs.to_epsg() == 31370
    assert (out / "facilities.csv").exists() and (out / "allocations.csv").exists()
    assert not list(run.folder.glob("*.parquet"))  # default: no GeoParquet


# ---------------------------------------------------------------------------------------------------------------
# Maps and report
# ---------------------------------------------------------------------------------------------------------------
def test_map_command_writes_png_and_html_with_boundaries(solved: Path, tmp_path: Path) -> None:
    import geopandas as gpd
    import pandas as pd

    muni = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "municipalities.csv")
    bnd = gpd.GeoDataFrame(muni[["nis"]], geometry=gpd.points_from_xy(muni["x"], muni["y"]).buffer(3000),
                           crs="EPSG:31370").to_crs("EPSG:4326")
    bnd.to_file(tmp_path / "gemeenten.geojson", driver="GeoJSON")
    proc = siting("map", str(solved), "--out", str(tmp_path), "--boundaries", str(tmp_path / "gemeenten.geojson"),
                  "--json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    png, html = Path(written["png"]), Path(written["html"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    text = html.read_text(encoding="utf-8")
    assert "L.control.layers" in text and "materialenbank" in text and '"boundaries"' in text


def test_map_quiet_png_only(chain_result, tiny_chain_models: Path, tmp_path: Path) -> None:  # noqa: ANN001
    # in process: `map` re-verifies the result, and the tiny chain's programme is only on this test's loader path
    from click.testing import CliRunner

    from optimizer.cli import app

    r = CliRunner().invoke(app, ["map", str(chain_result.folder), "--out", str(tmp_path), "--no-html", "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and (tmp_path / "map.png").exists() and not (tmp_path / "map.html").exists()


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
    from optimizer.output.report import report_data
    from optimizer.output.result import read_result

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


# ---------------------------------------------------------------------------------------------------------------
# A chain result: the same map, report and comparison (issue 14)
# ---------------------------------------------------------------------------------------------------------------
def test_chain_result_has_the_layers_and_styles_of_every_result(chain_result) -> None:  # noqa: ANN001
    import pyogrio

    gpkg = chain_result.folder / "result.gpkg"
    layers = [str(n) for n, g in pyogrio.list_layers(gpkg) if g is not None]
    assert set(layers) == {"facilities", "flows", "demand", "networks"}
    con = sqlite3.connect(gpkg)
    styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1")}
    con.close()
    assert styled == set(layers)
    fac = chain_result.facilities
    assert set(fac["programme"]) == {"sorting", "mechanical", "chemical"} and set(fac["size"]) == {"existing", "new"}
    assert (fac["size"] == "new").sum() == 2 + (chain_result.summary["facilities_per_echelon"]["mechanical"]["new"]
                                                + chain_result.summary["facilities_per_echelon"]["chemical"]["new"])
    flows = chain_result.allocations
    collect = flows[flows["kind"] == "collect"]
    supply = chain_result.demand.set_index("nis")["pmd_t"]
    sent = collect.groupby("nis")["tonnes"].sum()
    assert sent.reindex(supply.index).to_numpy() == pytest.approx(supply.to_numpy(), rel=1e-6)  # all PMD collected
    assert collect.groupby("nis")["share"].sum().to_numpy() == pytest.approx(1.0, rel=1e-6)


def test_chain_map_and_report(chain_result, tiny_chain_models: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """A chain result is reported like any other: verified first (against the small chain's own programme)."""
    proc = siting("report", chain_result.folder, "--out", tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    html = Path(written["html"]).read_text(encoding="utf-8")
    s = chain_result.summary
    for text in ("Per facility", "new land take", "PMD collected", f"{s['tonnes']['pmd_collected']:,.0f} t/yr",
                 "Indaver", "sorting", "mechanical", "chemical", "chain_sorted_share_to_mechanical"):
        assert text in html, text
    assert Path(written["png"]).read_bytes()[:4] == b"\x89PNG"
    proc = siting("map", chain_result.folder, "--out", tmp_path, "--no-png", "--json")
    assert proc.returncode == 0 and "flows" in Path(json.loads(proc.stdout)["html"]).read_text(encoding="utf-8")


def test_compare_two_chain_results(chain_result, tiny_chain_models: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """Cheaper land opens more new plants: the comparison names them per echelon (several per region)."""
    other = tmp_path / "cheap-land"
    proc = siting("solve", tiny_chain_models, "--out", other, "--set", "land_cost_eur_per_m2=0", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = siting("compare", chain_result.folder, other, "--json")
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    head = {row[0]: row for row in diff["headline"]}
    land_cheap, land_base = head["objective land (EUR/yr)"][2], head["objective land (EUR/yr)"][1]
    assert land_cheap == pytest.approx(0.0, abs=1e-6) and land_base > 1.0  # objective minus transport: float noise
    assert {r["programme"] for r in diff["regions"]} == {"sorting", "mechanical", "chemical"}
    same = compare_same(chain_result.folder)
    assert same["same"] and all(r["change"] == "" for r in same["regions"])
    assert len([r for r in same["regions"] if r["programme"] == "sorting"]) == len(
        chain_result.facilities.query("programme == 'sorting'"))  # one row per facility, not a cartesian product


def compare_same(folder: Path) -> dict:
    from optimizer.output.compare import compare_results

    return compare_results(folder, folder)
