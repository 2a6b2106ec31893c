"""``siting locate``: GIS layers in, a generated instance, the ordinary pipeline, the result with its instance.

In-process through click's CliRunner where possible; the layers are the shipped tables turned into GeoPackages
here (nothing is hard-coded: the named instance is solved side by side and compared).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import PROJECT_ROOT
from helpers import points_manifest
from click.testing import CliRunner

from optimizer.cli import app
from optimizer.data.layers import CandidateSpec, DemandSpec, LayerSource, LocateRequest, RegionSpec, build_instance
from optimizer.errors import InputError

FLANDERS = PROJECT_ROOT / "instances" / "flanders"
SITING = Path(sys.executable).with_name("siting")


def _layer(csv: Path, target: Path, crs: str = "EPSG:31370", layer: str | None = None) -> Path:
    frame = pd.read_csv(csv)
    gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                           crs="EPSG:31370").to_crs(crs)
    gdf.to_file(target, layer=layer or target.stem)
    return target


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("layers")
    return {"munis": _layer(FLANDERS / "municipalities.csv", tmp / "municipalities.gpkg"),
            "zones": _layer(FLANDERS / "candidates.csv", tmp / "zones.gpkg"),
            "munis_wgs84": _layer(FLANDERS / "municipalities.csv", tmp / "munis_wgs84.geojson", "EPSG:4326"),
            "tmp": tmp}


def _args(layers: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """The acceptance run: every field of the shipped tables mapped, one bank per arrondissement."""
    return ["locate", "--demand", f"{layers['munis']}::municipalities", "--weight", "population",
            "--demand-id", "nis", "--demand-name", "name", "--demand-area", "area_km2",
            "--demand-centrumstad", "centrumstad", "--demand-uitrustingsgraad", "uitrustingsgraad",
            "--region-field", "arrondissement",
            "--candidates", str(layers["zones"]), "--free-area", "free_ha", "--total-area", "total_ha",
            "--zone-type", "zone_type", "--candidate-id", "site_id", "--candidate-name", "name",
            "--candidate-demand", "nis", "--programme", "materialenbank",
            "--no-capacity",  # as instances/materialenbanken.toml
            "--out", str(out), *extra]


def _sites(folder: Path) -> list[tuple[str, str]]:
    fac = pd.read_csv(folder / "facilities.csv", dtype={"site_id": str})
    return sorted(zip(fac["site_id"], fac["size"]))


@pytest.fixture(scope="module")
def located(layers: dict[str, Path]) -> Path:
    out = layers["tmp"] / "located"
    result = CliRunner().invoke(app, _args(layers, out, "--json"))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def named(layers: dict[str, Path]) -> Path:
    out = layers["tmp"] / "named"
    result = CliRunner().invoke(app, ["solve", str(points_manifest(layers["tmp"])), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_locate_equals_the_named_instance(located: Path, named: Path) -> None:
    a = json.loads((located / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((named / "summary.json").read_text(encoding="utf-8"))
    assert a["objective"]["total"] == pytest.approx(b["objective"]["total"], rel=1e-9)
    assert a["status"] == b["status"] == "optimal" and a["verification"]["passed"]
    assert _sites(located) == _sites(named)
    assert a["programmes"]["materialenbank"]["count_per_size"] == b["programmes"]["materialenbank"]["count_per_size"]


def test_the_generated_instance_repeats_the_run(located: Path, tmp_path: Path) -> None:
    manifest = located / "instance" / "located.toml"
    assert manifest.is_file() and (located / "instance" / "demand.csv").is_file()
    result = CliRunner().invoke(app, ["solve", str(manifest), "--out", str(tmp_path / "again"), "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    first = json.loads((located / "summary.json").read_text(encoding="utf-8"))
    assert again["instance_hash"] == first["instance_hash"]
    assert again["objective"]["total"] == first["objective"]["total"]
    assert _sites(tmp_path / "again") == _sites(located)
    # solving it into its own result folder would delete the instance: refused before any work
    refused = CliRunner().invoke(app, ["solve", str(manifest), "--out", str(located)])
    assert refused.exit_code == 2 and "holds an input of this run" in refused.output
    assert manifest.is_file()


def test_a_located_result_verifies_against_the_instance_inside_it(located: Path) -> None:
    """`siting verify` finds the generated instance in OUT/instance/ (its temporary source is gone)."""
    result = CliRunner().invoke(app, ["verify", str(located)])
    assert result.exit_code == 0 and "verified:" in result.stdout, result.output


def _request(layers: dict[str, Path], **changes: object) -> LocateRequest:
    demand = DemandSpec(LayerSource(layers["munis"]), "population", id="nis", name="name", area="area_km2",
                        centrumstad="centrumstad")
    cands = CandidateSpec(LayerSource(layers["zones"]), "free_ha", id="site_id", zone_type="zone_type",
                          total_area="total_ha")
    fields = {"demand": demand, "candidates": cands, "programme": "materialenbank",
              "regions": RegionSpec(field="arrondissement"), "parameters": {"enforce_capacity": "false"}}
    fields.update(changes)
    return LocateRequest(**fields)  # type: ignore[arg-type]


def test_layer_sources_read_like_the_cli_and_qgis_write_them() -> None:
    assert LayerSource.parse("zones.gpkg") == LayerSource(Path("zones.gpkg"), None)
    assert LayerSource.parse("zones.gpkg::bedrijventerreinen").layer == "bedrijventerreinen"
    qgis = LayerSource.parse("/data/zones.gpkg|layername=bedrijventerreinen")
    assert qgis.path == Path("/data/zones.gpkg") and qgis.layer == "bedrijventerreinen"
    assert qgis.label == "/data/zones.gpkg|layername=bedrijventerreinen"
    with pytest.raises(InputError, match="QGIS options siting does not apply"):  # a filter is never dropped silently
        LayerSource.parse("/data/zones.gpkg|layername=z|subset=\"free_ha\" > 1", "--candidates")


def test_geographic_crs_is_converted_to_lambert72(layers: dict[str, Path]) -> None:
    notes: list[str] = []
    wgs = build_instance(_request(layers, demand=DemandSpec(LayerSource(layers["munis_wgs84"]), "population",
                                                            id="nis", centrumstad="centrumstad")), notes)
    ref = pd.read_csv(FLANDERS / "municipalities.csv")
    assert any("converted from EPSG:4326 (geographic) to EPSG:31370" in n for n in notes), notes
    np.testing.assert_allclose(wgs.demand[["x", "y"]].to_numpy(), ref[["x", "y"]].to_numpy(), atol=0.01)  # metres


def test_polygons_become_points_inside_with_their_area_and_contain_the_zones(layers: dict[str, Path],
                                                                           tmp_path: Path) -> None:
    munis = gpd.read_file(layers["munis"])
    points = munis.geometry.to_numpy()
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=shapely.box(0, 100_000, 300_000, 260_000))
    by_point = {i: c for c in shapely.get_parts(cells) for i in np.flatnonzero(shapely.contains(c, points))}
    tiles = munis.copy()  # one Voronoi cell per municipality: polygons that tile the area without overlap
    tiles["geometry"] = [by_point[i] for i in range(len(munis))]
    tiles.to_file(tmp_path / "tiles.gpkg")
    zones = gpd.read_file(layers["zones"])
    zones["geometry"] = zones.buffer(50)  # zone polygons around the zone points
    zones.drop(columns=["nis"]).to_file(tmp_path / "zones.gpkg")
    gen = build_instance(_request(
        layers,
        demand=DemandSpec(LayerSource(tmp_path / "tiles.gpkg"), "population", id="nis", centrumstad="centrumstad"),
        candidates=CandidateSpec(LayerSource(tmp_path / "zones.gpkg"), "free_ha", id="site_id", zone_type="zone_type",
                                 total_area="total_ha")))
    assert shapely.contains_xy(tiles.geometry.to_numpy(), gen.demand["x"], gen.demand["y"]).all()
    np.testing.assert_allclose(gen.demand["area_km2"], tiles.area / 1e6, rtol=1e-9)
    zone_polygons = zones.geometry.to_numpy()
    assert shapely.contains_xy(zone_polygons, gen.candidates["x"], gen.candidates["y"]).all()
    # a zone belongs to the demand polygon its point lies in: the aggregate zones sit on their municipality's point,
    # so that is the municipality the shipped table names
    shipped = pd.read_csv(FLANDERS / "candidates.csv", dtype={"nis": str})
    aggregate = shipped["zone_type"].to_numpy() == "economic_zone"
    assert (gen.candidates["nis"].to_numpy()[aggregate] == shipped["nis"].to_numpy()[aggregate]).all()


def test_a_region_layer_counts_per_region_and_keeps_zones_in_their_region(layers: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    halves = gpd.GeoDataFrame({"naam": ["west", "oost"]},
                              geometry=[shapely.box(0, 100_000, 120_000, 260_000),
                                        shapely.box(120_000, 100_000, 300_000, 260_000)], crs="EPSG:31370")
    halves.to_file(tmp_path / "halves.gpkg")
    zones = gpd.read_file(layers["zones"]).drop(columns=["nis"])
    zones.to_file(tmp_path / "zones.gpkg")
    gen = build_instance(_request(
        layers, regions=RegionSpec(source=LayerSource(tmp_path / "halves.gpkg"), name="naam"),
        candidates=CandidateSpec(LayerSource(tmp_path / "zones.gpkg"), "free_ha", id="site_id",
                                 zone_type="zone_type", total_area="total_ha")))
    region = gen.demand.set_index("nis")["arrondissement"]
    assert set(region) == {"west", "oost"}
    assert (region.to_numpy() == np.where(gen.demand["x"] < 120_000, "west", "oost")).all()
    zone_region = np.where(gen.candidates["x"] < 120_000, "west", "oost")
    assert (region.reindex(gen.candidates["nis"]).to_numpy() == zone_region).all()


def test_weight_in_tonnes_sets_the_per_inhabitant_assumption_to_one(layers: dict[str, Path]) -> None:
    gen = build_instance(_request(layers, demand=DemandSpec(LayerSource(layers["munis"]), "population",
                                                            weight_unit="t", id="nis")))
    assert "wood_to_bank_t_per_inhabitant_yr = 1.0" in gen.manifest


@pytest.fixture(scope="module")
def bad_layers(layers: dict[str, Path]) -> dict[str, Path]:
    """Broken copies of the municipality layer, one problem each."""
    tmp = layers["tmp"] / "bad"
    tmp.mkdir()
    munis = gpd.read_file(layers["munis"])
    x, y = munis.geometry.x, munis.geometry.y
    files = {}
    munis.iloc[:0].to_file(tmp / "empty.gpkg")
    files["empty"] = tmp / "empty.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        munis.set_crs(None, allow_override=True).to_file(tmp / "nocrs.gpkg")
    files["nocrs"] = tmp / "nocrs.gpkg"
    poly = munis.copy()
    poly["geometry"] = munis.buffer(1000)
    poly.loc[3, "geometry"] = shapely.Polygon([(x[3] - 500, y[3] - 500), (x[3] + 500, y[3] + 500),
                                               (x[3] + 500, y[3] - 500), (x[3] - 500, y[3] + 500)])
    poly.to_file(tmp / "bowtie.gpkg")
    files["bowtie"] = tmp / "bowtie.gpkg"
    text = munis.copy()
    text["population"] = text["population"].astype(str)
    text.loc[5, "population"] = "veel"
    text.to_file(tmp / "text.gpkg")
    files["text"] = tmp / "text.gpkg"
    neg = munis.copy()
    neg.loc[7, "population"] = -3
    neg.to_file(tmp / "neg.gpkg")
    files["neg"] = tmp / "neg.gpkg"
    line = munis.copy()
    line.loc[8, "geometry"] = shapely.LineString([(x[8], y[8]), (x[8] + 10, y[8])])
    line.to_file(tmp / "line.gpkg")
    files["line"] = tmp / "line.gpkg"
    munis.to_file(tmp / "two.gpkg", layer="a")
    munis.to_file(tmp / "two.gpkg", layer="b")
    files["two"] = tmp / "two.gpkg"
    return files


BAD = [  # (demand layer key, extra/changed options, expected "FILE:ROW:FIELD: message" parts)
    ("munis", ["--weight", "inwoners"], ("municipalities.gpkg::inwoners:", "no field 'inwoners' (--weight); fields of the layer: nis, name")),
    ("empty", [], ("empty.gpkg::", "the layer has no features")),
    ("nocrs", [], ("nocrs.gpkg::crs:", "the layer has no CRS")),
    ("bowtie", [], ("bowtie.gpkg:4:geometry:", "invalid geometry (Self-intersection")),
    ("text", [], ("text.gpkg:6:population:", "'veel' is not a number")),
    ("neg", [], ("neg.gpkg:8:population:", "negative weight -3")),
    ("line", [], ("line.gpkg:9:geometry:", "a LineString geometry where points or polygons are expected")),
    ("two", [], ("two.gpkg::layer:", "the file holds 2 layers (a, b): pick one with FILE::LAYER")),
    ("munis", ["--demand-id", "arrondissement"], (":2:arrondissement:", "duplicate id 'Antwerpen' (also feature 1)")),
    ("munis", ["--candidate-demand", "name"], ("zones.gpkg:1:name:", "is not the id of a demand feature")),
    ("munis", ["--region-field", None], ("--programme::materialenbank:", "give the regions as a polygon layer")),
    ("munis", ["--programme", "plastics_chain"], ("--programme::plastics_chain:", "run it with `siting chain`")),
    ("munis", ["--set", "size_varaint=poster"], ("--set::size_varaint:", "did you mean 'size_variant'")),
    ("munis", ["--free-area-unit", "acre"], ("--free-area-unit::acre:", "must be one of ha, m2")),
]


@pytest.mark.parametrize(("key", "change", "expected"), BAD, ids=[f"{b[0]}-{b[2][1][:24]}" for b in BAD])
def test_bad_layer_input_is_one_line_exit_2_nothing_written(layers: dict[str, Path], bad_layers: dict[str, Path],
                                                           tmp_path: Path, key: str, change: list,
                                                           expected: tuple[str, str]) -> None:
    files = {**layers, **bad_layers}
    out = tmp_path / "out"
    args = _args(layers, out)
    args[args.index("--demand") + 1] = str(files[key])
    if key != "munis":
        for option in ("--demand-id", "--demand-name", "--demand-area", "--demand-centrumstad",
                       "--demand-uitrustingsgraad", "--candidate-demand"):
            i = args.index(option)
            del args[i:i + 2]
    if change:
        option, value = change
        if option in args and value is None:
            i = args.index(option)
            del args[i:i + 2]
        elif option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    result = CliRunner().invoke(app, args)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    error = [ln for ln in lines if ln.startswith("error: ")]
    assert len(error) == 1 and all(part in error[0] for part in expected), result.stderr
    assert "Traceback" not in result.output
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_repair_geometry_repairs_with_a_note(layers: dict[str, Path], bad_layers: dict[str, Path]) -> None:
    notes: list[str] = []
    gen = build_instance(_request(layers, demand=DemandSpec(LayerSource(bad_layers["bowtie"]), "population", id="nis"),
                                  repair_geometry=True), notes)
    assert any("repaired 1 invalid geometry with make_valid (first: feature 4" in n for n in notes), notes
    assert len(gen.demand) == 285


def test_a_folder_siting_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    mine = tmp_path / "my-folder"
    mine.mkdir()
    (mine / "report.docx").write_text("mine", encoding="utf-8")
    for args in (["solve", "materialenbanken", "--out", str(mine)],):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "holds files siting did not write" in result.stderr, result.output
    assert [p.name for p in mine.iterdir()] == ["report.docx"]


def test_list_and_programmes_as_json() -> None:
    runner = CliRunner()
    instances = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert "materialenbanken" in [row["name"] for row in instances]
    programmes = {p["id"]: p for p in json.loads(runner.invoke(app, ["programmes", "--json"]).stdout)}
    assert programmes["materialenbank"]["locate"] and not programmes["plastics_chain"]["locate"]
    assert programmes["materialenbank"]["region"] == "arrondissement"


def test_sigterm_stops_a_locate_run_cleanly(layers: dict[str, Path], tmp_path: Path) -> None:
    """QGIS's Cancel sends SIGTERM: the run stops like Ctrl-C (exit 130), nothing written, no temporary folder."""
    out = tmp_path / "cancelled"
    proc = subprocess.Popen([str(SITING), *_args(layers, out, "--progress", "jsonl", "--quiet",
                                                 "--set", "assignment=any", "--set", "size_rule=free")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    stages = []
    assert proc.stderr is not None
    for line in proc.stderr:
        event = json.loads(line) if line.startswith("{") else {}
        stages.append(event.get("stage", line))
        if str(event.get("stage", "")).startswith("distances"):
            os.kill(proc.pid, signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 130, (stages, rest)
    assert "interrupted — no result was written" in rest
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
