"""Loading and validating instances: the named instance, --set overrides and bad-input cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, needs_shared

from optimizer.data.instance import list_instances, load_instance, parse_overrides
from optimizer.errors import InputError


ZONES = '{ path = "flanders/zones/zones.gpkg", layer = ["zones", "aggregate_candidates"] }'
POINTS = '"flanders/candidates.csv"'


def test_default_instance_loads_the_candidate_zones() -> None:
    inst = load_instance("materialenbanken")
    assert len(inst.demand) == 285
    assert inst.demand["arrondissement"].nunique() == 22
    assert inst.demand["centrumstad"].sum() == 13
    c = inst.candidates
    assert len(c) == 801 and c["site_id"].is_unique
    zones = c["geometry"].notna()
    assert zones.sum() == 732 and (c.loc[~zones, "aggregate"]).all()  # 69 aggregates: points, flagged
    assert c["zone_type_from_geometry"].all() and set(c["zone_type"]) == {"economic_zone"}  # derived at compile
    assert c.loc[zones, "free_ha"].sum() + c.loc[~zones, "free_ha"].sum() == pytest.approx(6034.5 + 285.3, abs=1.0)
    assert "materialenbanken" in {r["name"] for r in list_instances()}


def test_point_candidates_still_load(tmp_path) -> None:
    """A point table (the municipal aggregates of candidates.csv) is read as before: seaports' free land from their
    study area x seaport_free_share."""
    text = (PROJECT_ROOT / "instances" / "materialenbanken.toml").read_text().replace(ZONES, POINTS)
    manifest = tmp_path / "points.toml"
    manifest.write_text(text.replace('"flanders/', f'"{(PROJECT_ROOT / "instances" / "flanders").as_posix()}/'))
    inst = load_instance(manifest)
    assert len(inst.candidates) == 289 and "geometry" not in inst.candidates
    ports = inst.candidates[inst.candidates["zone_type"] == "seaport"]
    assert ports["free_from_assumption"].all()
    assert ports.set_index("site_id").loc["PORT-ANTWERPEN", "free_ha"] == pytest.approx(195.7)


def test_set_overrides_are_typed_and_checked() -> None:
    inst = load_instance("materialenbanken", parse_overrides(["size_variant=poster", "assumption.access_circuity=1.4"]))
    assert inst.parameters["size_variant"] == "poster"
    assert inst.assumption("access_circuity") == 1.4
    with pytest.raises(InputError, match="did you mean 'size_variant'"):
        load_instance("materialenbanken", {"size_varient": "poster"})
    with pytest.raises(InputError, match="must be one of"):
        load_instance("materialenbanken", {"size_rule": "huge"})
    with pytest.raises(InputError, match="unknown assumption"):
        load_instance("materialenbanken", {"assumption.nope": "1"})
    with pytest.raises(InputError, match="expected a bool"):
        load_instance("materialenbanken", {"single_source": "maybe"})
    with pytest.raises(InputError, match="no programme of this instance .* has a size variant 'draft'"):
        load_instance("materialenbanken", {"size_variant": "draft"})


@pytest.fixture()
def instance_copy(tmp_path: Path) -> Path:
    """A writable copy of the default instance (manifest + tables) to break on purpose."""
    shutil.copytree(PROJECT_ROOT / "instances" / "flanders", tmp_path / "flanders")
    manifest = (PROJECT_ROOT / "instances" / "materialenbanken.toml").read_text().replace(ZONES, POINTS)
    (tmp_path / "mb.toml").write_text(manifest)
    return tmp_path


def _break_table(root: Path, table: str, row: int, column: str, value: object) -> None:
    path = root / "flanders" / table
    frame = pd.read_csv(path)
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "message", "csv_row"),
    [
        ("municipalities.csv", 4, "population", -5, "negative value", 6),
        ("municipalities.csv", 7, "population", "many", "not a number", 9),
        ("municipalities.csv", 2, "x", 4.37, "look like degrees", 4),
        ("municipalities.csv", 3, "nis", 11001, "duplicate id", 5),
        ("candidates.csv", 10, "free_ha", "", "free area missing", 12),
        ("candidates.csv", 5, "nis", 99999, "not in the demand table", 7),
    ],
)
def test_bad_table_values_name_file_row_field(instance_copy, table, row, column, value, message, csv_row) -> None:
    _break_table(instance_copy, table, row, column, value)
    with pytest.raises(InputError) as info:
        load_instance(instance_copy / "mb.toml")
    err = info.value
    assert message in err.message
    assert err.file.endswith(table) and err.row == csv_row and err.field == column
    assert str(err).count("\n") == 0


def test_bad_manifests(instance_copy: Path) -> None:
    manifest = instance_copy / "mb.toml"
    manifest.write_text("[instance\nname = 'x'")
    with pytest.raises(InputError, match="malformed TOML"):
        load_instance(manifest)
    manifest.write_bytes("[instance]\nname = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_instance(manifest)
    text = (PROJECT_ROOT / "instances" / "materialenbanken.toml").read_text().replace(ZONES, POINTS)
    manifest.write_text(text.replace('place = ["materialenbank"]', 'place = ["materiaalbank"]'))
    with pytest.raises(InputError, match="unknown programme"):
        load_instance(manifest)
    manifest.write_text(text.replace('candidates = "flanders/candidates.csv"', 'candidates = "flanders/nope.csv"'))
    with pytest.raises(InputError, match="not found") as info:
        load_instance(manifest)
    assert info.value.field == "tables.candidates"
    (instance_copy / "flanders" / "candidates.csv").write_text("")
    manifest.write_text(text)
    with pytest.raises(InputError, match="empty"):
        load_instance(manifest)


@needs_shared
def test_base_layer_rebuilds_identically(shared_dir: Path, tmp_path: Path) -> None:
    """The committed fact tables are exactly what the build script makes from ../shared."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", PROJECT_ROOT / "instances/flanders/build_base_layer.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    munis = build.build_municipalities(shared_dir)
    cands = build.build_candidates(shared_dir, munis)
    committed_m = pd.read_csv(PROJECT_ROOT / "instances/flanders/municipalities.csv")
    committed_c = pd.read_csv(PROJECT_ROOT / "instances/flanders/candidates.csv")
    munis.to_csv(tmp_path / "m.csv", index=False)
    cands.to_csv(tmp_path / "c.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "m.csv"), committed_m)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "c.csv"), committed_c)
    assert committed_m["population"].sum() == 6_629_143


def test_content_hash_covers_only_the_models_the_instance_uses(tmp_path, monkeypatch):
    """Editing a programme the instance does not place keeps its hash (sweep caches stay valid); its own does not."""
    import shutil

    from optimizer.data import programmes
    from optimizer.data.instance import load_instance

    models = tmp_path / "models"
    shutil.copytree(programmes.MODELS_DIR, models)
    monkeypatch.setattr(programmes, "MODELS_DIR", models)
    instance = load_instance("materialenbanken")
    before = instance.content_hash()
    (models / "sorteercentrum.toml").write_text((models / "sorteercentrum.toml").read_text() + "\n# edited\n")
    assert instance.content_hash() == before
    (models / "materialenbank.toml").write_text((models / "materialenbank.toml").read_text() + "\n# edited\n")
    edited = instance.content_hash()
    assert edited != before
    (models / "assumptions.toml").write_text((models / "assumptions.toml").read_text() + "\n# edited\n")
    assert instance.content_hash() != edited
