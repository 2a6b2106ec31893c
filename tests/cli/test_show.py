"""``siting show`` describes an instance from its manifest and the tables' row counts, without reading the tables
(issue 18: "show answers well under a second"); the counts equal what loading the instance finds, a manifest
error is still one line and exit 2, and checking the tables stays with ``siting validate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
from conftest import PROJECT_ROOT, siting
from small_instances import small_instance

from optimizer.data.instance import load_instance, read_spec
from optimizer.data.manifest_tables import table_rows

ZONES = PROJECT_ROOT / "instances" / "flanders" / "zones" / "zones.gpkg"
LEUVEN_BANK = {"facility_id": "bank-leuven", "name": "a bank in Leuven", "programme": "materialenbank",
               "x": "173725.9", "y": "174700.0", "nis": "24062", "area_m2": "existing_kallo_plot_m2",
               "status": "fixed_open", "counts_toward_rule": "true", "source": "test"}


def _count_line(stdout: str, start: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(start))


def test_counts_are_what_loading_the_instance_finds() -> None:
    inst = load_instance("materialenbanken")
    ran = siting("show", "materialenbanken")
    assert ran.returncode == 0, ran.stderr
    zones = int(inst.candidates["geometry"].notna().sum())
    assert _count_line(ran.stdout, "demand units:").split() == [
        "demand", "units:", str(len(inst.demand)), "candidate", "sites:", str(len(inst.candidates))]
    assert _count_line(ran.stdout, "candidate zones").split()[3] == str(zones)


@pytest.mark.parametrize("layers", [["zones", "aggregate_candidates"], ["seaport_areas"], ["aggregate_candidates"]])
def test_geopackage_counts_agree_with_pyogrio(layers: list[str]) -> None:
    """The GeoPackage's own tables (no GIS stack) give the counts pyogrio reads from the same layers."""
    spec = {"path": str(ZONES.relative_to(PROJECT_ROOT / "instances")), "layer": layers}
    rows, polygons = table_rows(spec, PROJECT_ROOT / "instances" / "x.toml", "candidates")
    infos = [pyogrio.read_info(ZONES, layer=name, force_feature_count=True) for name in layers]
    assert rows == sum(i["features"] for i in infos)
    assert polygons == sum(i["features"] for i in infos if "Polygon" in i["geometry_type"])


def test_other_gis_formats_are_counted_by_pyogrio(tmp_path: Path) -> None:
    frame = pyogrio.read_dataframe(ZONES, layer="aggregate_candidates", max_features=7)
    pyogrio.write_dataframe(frame, tmp_path / "points.geojson")
    assert table_rows("points.geojson", tmp_path / "x.toml", "candidates", [tmp_path]) == (7, 0)


def test_existing_facilities_and_their_assumptions_are_listed(tmp_path: Path) -> None:
    manifest = small_instance(tmp_path, "", existing_rows=[LEUVEN_BANK])
    ran = siting("show", manifest)
    assert ran.returncode == 0, ran.stderr
    assert "existing facilities: 1 (bank-leuven)" in ran.stdout
    assert "existing_kallo_plot_m2" in ran.stdout  # the plot area is given as that assumption's name
    inst = load_instance(manifest)  # the counts include no point facility: show lists existing ones apart
    assert _count_line(ran.stdout, "demand units:").split()[2] == str(len(inst.demand))


def test_a_generated_instance_shows_what_its_generator_draws() -> None:
    ran = siting("show", "fine-100k-10k")
    assert ran.returncode == 0, ran.stderr
    spec = read_spec("fine-100k-10k")
    line = _count_line(ran.stdout, "demand units:")
    assert f"{spec.generator['demand_points']:,} generated points" in line
    assert f"{spec.generator['candidate_parcels']:,} generated parcels" in line


def test_show_describes_while_validate_checks_the_tables(tmp_path: Path) -> None:
    manifest = small_instance(tmp_path, "")
    demand = tmp_path / "munis.csv"
    lines = demand.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("population")] = "many"
    demand.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    assert siting("show", manifest).returncode == 0
    ran = siting("validate", manifest)
    assert ran.returncode == 2 and "population" in ran.stderr and "munis.csv" in ran.stderr


def test_a_manifest_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    manifest = small_instance(tmp_path, "")
    manifest.write_text(manifest.read_text().replace("enforce_capacity = false", "enforce_capacity = \"maybe\""))
    ran = siting("show", manifest)
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1 and "enforce_capacity" in ran.stderr


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    manifest = small_instance(tmp_path, "")
    (tmp_path / "cands.csv").unlink()
    ran = siting("show", manifest)
    assert ran.returncode == 2 and "cands.csv" in ran.stderr and "tables.candidates" in ran.stderr


def test_show_loads_no_gis_stack_for_a_geopackage() -> None:
    """A fresh interpreter: describing the zone-layer instance imports neither geopandas nor shapely nor pyproj."""
    probe = ("import json, sys\nfrom optimizer.cli import app\nsys.argv = ['siting', 'show', 'materialenbanken']\n"
             "try:\n    app()\nexcept SystemExit as e:\n    code = e.code\n"
             "print(json.dumps({'exit': code, 'loaded': sorted(m for m in ('geopandas', 'shapely', 'pyproj', "
             "'pyogrio', 'scipy') if m in sys.modules)}))")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result == {"exit": 0, "loaded": []}, ran.stderr


def test_a_table_entry_is_checked_as_when_it_is_read(tmp_path: Path) -> None:
    """``table_rows`` and ``read_table`` share ``locate_table``: an unknown key is refused by both, naming it."""
    manifest = small_instance(tmp_path, "")
    manifest.write_text(manifest.read_text().replace('candidates = "cands.csv"',
                                                     'candidates = { path = "cands.csv", lyer = "x" }'))
    for command in ("show", "validate"):
        ran = siting(command, manifest)
        assert ran.returncode == 2 and "tables.candidates.lyer" in ran.stderr, command
