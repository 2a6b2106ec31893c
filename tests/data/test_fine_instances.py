"""Fine-grained generated instances: the [generator] manifest, demand points, and the certified sparse solve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import siting

from optimizer.data.instance import list_instances, load_instance
from optimizer.errors import InputError
from optimizer.pipeline import run
from optimizer.settings import PROJECT_ROOT

FLANDERS = PROJECT_ROOT / "instances" / "flanders"


def _manifest(tmp_path: Path, *, points: int = 300, parcels: int = 100, seed: int = 3, extra: str = "",
              name: str = "fine-test") -> Path:
    """A small generated instance (the shipped fine instances' layout) in ``tmp_path``."""
    path = tmp_path / f"{name}.toml"
    path.write_text(f'''[instance]
name = "{name}"
title = "small generated S1"

[generator]
demand_points = {points}
candidate_parcels = {parcels}
seed = {seed}
municipalities = "{FLANDERS / 'municipalities.csv'}"
candidates = "{FLANDERS / 'candidates.csv'}"

[programmes]
place = ["materialenbank"]

[parameters]
enforce_capacity = false
mip_gap = 0
{extra}
''', encoding="utf-8")
    return path


def test_named_fine_instances_are_listed_with_a_generator() -> None:
    names = {row["name"]: row for row in list_instances()}
    for name in ("fine-2k-500", "fine-10k-3k"):
        assert name in names and names[name]["title"]
    inst = load_instance("fine-2k-500")
    assert len(inst.demand) == 2000 and len(inst.candidates) == 500
    assert inst.generator["seed"] == 5


def test_generator_is_deterministic_per_seed(tmp_path: Path) -> None:
    a = load_instance(_manifest(tmp_path, seed=3, name="a"))
    b = load_instance(_manifest(tmp_path, seed=3, name="b"))
    c = load_instance(_manifest(tmp_path, seed=4, name="c"))
    pd.testing.assert_frame_equal(a.demand, b.demand)
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    assert not np.array_equal(a.demand[["x", "y"]].to_numpy(), c.demand[["x", "y"]].to_numpy())
    assert a.content_hash() != c.content_hash()


def test_demand_points_have_their_own_id_and_their_municipality(tmp_path: Path) -> None:
    inst = load_instance(_manifest(tmp_path))
    d = inst.demand
    assert d["id"].is_unique and not d["nis"].is_unique
    assert len(inst.municipalities) == d["nis"].nunique() == 285
    munis = pd.read_csv(FLANDERS / "municipalities.csv")
    assert d["population"].sum() == pytest.approx(munis["population"].sum())
    # per-municipality attributes (arrondissement, centrumstad) are the municipality's
    m = munis.assign(nis=munis["nis"].astype(str)).set_index("nis").loc[d["nis"]]
    assert (m["arrondissement"].to_numpy() == d["arrondissement"].to_numpy()).all()
    assert set(inst.candidates["nis"]) <= set(d["nis"])
    # the 285-municipality instances keep nis as their id
    base = load_instance("materialenbanken")
    assert (base.demand["id"] == base.demand["nis"]).all()


def test_generator_errors_name_the_field(tmp_path: Path) -> None:
    bad = _manifest(tmp_path).read_text().replace("seed = 3", "seed = 3\nsede = 4")
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InputError, match="generator.sede"):
        load_instance(path)
    few = _manifest(tmp_path, points=10, name="few")
    with pytest.raises(InputError, match="demand_points"):
        load_instance(few)


def test_points_table_with_ids_loads_through_tables(tmp_path: Path) -> None:
    inst = load_instance(_manifest(tmp_path))
    inst.demand.drop(columns=["area_km2"]).to_csv(tmp_path / "points.csv", index=False)
    inst.candidates.to_csv(tmp_path / "parcels.csv", index=False)
    path = tmp_path / "tables.toml"
    path.write_text('[instance]\nname = "t"\n[tables]\ndemand = "points.csv"\ncandidates = "parcels.csv"\n'
                    '[programmes]\nplace = ["materialenbank"]\n', encoding="utf-8")
    again = load_instance(path)
    assert len(again.demand) == 300 and again.demand["id"].is_unique
    dup = inst.demand.copy()
    dup.loc[5, "id"] = dup.loc[4, "id"]
    dup.to_csv(tmp_path / "points.csv", index=False)
    with pytest.raises(InputError, match="duplicate id"):
        load_instance(path)


@pytest.mark.parametrize("assignment", ["programme", "any"])
def test_sparsified_with_certificate_equals_dense(tmp_path: Path, assignment: str) -> None:
    path = _manifest(tmp_path, extra=f'assignment = "{assignment}"')
    dense = run(path, overrides={"sparsify": "off"}, backend="highspy")
    sparse = run(path, overrides={"sparsify": "on", "sparsify_k": "2"}, backend="highspy")
    s = sparse.summary["sparsify"]
    assert dense.summary["sparsify"]["sparse"] is False and s["sparse"] is True
    if assignment == "any":
        assert s["certified"] and s["rounds"] >= 2 and s["k_final"]["max"] > 2  # k=2 is too small: it had to grow
    else:  # own-region assignment: the rows separate and are solved exactly, keeping only the assignment arcs
        assert s["certified"] and s["rounds"] == 0 and "allowed pairs once" in s["guarantee"]
        assert s["arcs_final"] == len(sparse.model.problem.client_ids)
    assert s["arcs_final"] < dense.model.problem.n_arcs
    assert sparse.summary["objective"]["total"] == pytest.approx(dense.summary["objective"]["total"], rel=1e-9)
    assert sparse.summary["verification"]["passed"]
    for key in ("compile", "sparsify", "verify"):
        assert key in sparse.summary["timings_s"]


def test_cli_solves_a_fine_instance_and_writes_verified_outputs(tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    out = tmp_path / "out"
    ran = siting("solve", path, "--out", out, "--set", "sparsify=on", "--set", "sparsify_k=4", "--backend", "highspy")
    assert ran.returncode == 0, ran.stderr
    assert "certified" in ran.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verification"]["passed"] and summary["sparsify"]["certified"]
    alloc = pd.read_csv(out / "allocations.csv", dtype={"demand_id": str, "nis": str})
    assert len(alloc) == 300 and alloc["demand_id"].is_unique  # single source: one line per demand point
    assert alloc["cost"].sum() == pytest.approx(summary["objective"]["total"], rel=1e-9)
    facilities = pd.read_csv(out / "facilities.csv")
    assert len(facilities) == 22  # one bank per arrondissement


def test_neighbourhood_resolution_instance_solves_by_separate_rows(tmp_path: Path) -> None:
    """demand_units = neighbourhoods and parcel_sizes = lognormal (the fine-100k-10k layout, small): every
    arrondissement gets its bank, the rows separate (every pair evaluated once, only assignment arcs kept), the
    result verifies, and the parcel-size assumption is recorded."""
    path = tmp_path / "hoods.toml"
    path.write_text(f'''[instance]
name = "hoods"
title = "neighbourhood resolution, small"

[generator]
demand_points = 3000
candidate_parcels = 600
seed = 18
municipalities = "{FLANDERS / 'municipalities.csv'}"
candidates = "{FLANDERS / 'candidates.csv'}"
demand_units = "neighbourhoods"
neighbourhoods = "{FLANDERS / 'neighbourhoods.csv'}"
parcel_sizes = "lognormal"

[programmes]
place = ["materialenbank"]

[parameters]
enforce_capacity = false
sparsify = "on"
mip_gap = 0
''', encoding="utf-8")
    inst = load_instance(path)
    assert len(inst.demand) == 3000 and "parcel_size_lognormal_sigma" in inst.assumptions
    result = run(path, backend="highspy")
    s = result.summary
    assert s["status"] == "optimal" and s["verification"]["passed"]
    assert s["sparsify"]["certified"] and s["sparsify"]["rounds"] == 0
    assert s["sparsify"]["arcs_final"] == 3000
    assert "parcel_size_lognormal_sigma" in s["assumptions"]
    assert len(result.tables.facilities) == 22
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('parcel_sizes = "lognormal"', 'parcel_sizes = "triangular"'))
    with pytest.raises(InputError, match="parcel_sizes"):
        load_instance(bad)
