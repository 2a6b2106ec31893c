"""Named instances: documented with their source lines, stand-in tables reproducible, fast ones solved from the CLI.

The slow ones (S2-S4, S6-S9 and the plastics chain, 20-60 s each) are solved, verified and exported by
``benchmarks/instances/run_all.py``; the S2/S3/S4 figures are asserted in ``tests/data/test_programmes.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT
from helpers import load_land_status_script

from optimizer.data.instance import list_instances, load_instance

FLANDERS = PROJECT_ROOT / "instances" / "flanders"
NAMED = [r["name"] for r in list_instances() if not r["name"].startswith("fine-")]


def test_every_named_instance_has_a_readme_row_with_source_lines() -> None:
    readme = (PROJECT_ROOT / "instances" / "README.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z0-9-]+)` \| (.+) \|$", readme, re.MULTILINE)}
    for name in NAMED:
        assert name in rows, f"instances/README.md has no row for {name}"
        assert re.search(r"L\d{3,5}", rows[name]), f"{name}: no study line numbers in its row"


@pytest.mark.parametrize("name", NAMED)
def test_named_instance_loads_with_title_and_source(name: str) -> None:
    inst = load_instance(name)
    assert inst.title and inst.description, name
    assert inst.source.startswith("DIGEST") and re.search(r"L\d{3,5}", inst.source), name


def test_land_status_stand_ins_equal_a_fresh_build() -> None:
    mod = load_land_status_script()
    base = pd.read_csv(FLANDERS / "candidates.csv")
    assumptions = load_instance("s6-temp-reserve").assumptions
    fresh = {"candidates_reserve.csv": mod.reserve_table(base, float(assumptions["reserve_vacancy_share"].value)),
             "candidates_greenfield.csv": mod.greenfield_table(base, float(assumptions["greenfield_candidate_ha"].value))}
    for fname, frame in fresh.items():
        committed = pd.read_csv(FLANDERS / fname)
        fresh_csv = pd.read_csv(__import__("io").StringIO(frame.to_csv(index=False)))
        pd.testing.assert_frame_equal(committed, fresh_csv, check_dtype=False)


def test_land_status_stand_ins_only_add_flagged_rows() -> None:
    base = pd.read_csv(FLANDERS / "candidates.csv")
    for fname, flag, prefix in (("candidates_reserve.csv", "reserve", "RES-"),
                                ("candidates_greenfield.csv", "greenfield", "GF-")):
        table = pd.read_csv(FLANDERS / fname)
        extra = table[table[flag]]
        assert len(extra) and extra["site_id"].str.startswith(prefix).all()
        assert table.loc[~table[flag], "site_id"].tolist() == base["site_id"].tolist()
        assert (extra["free_ha"] >= 0.5).all()
    green = pd.read_csv(FLANDERS / "candidates_greenfield.csv")
    full = base.set_index("nis").loc[green.loc[green["greenfield"], "nis"]]
    assert (full.loc[full["zone_type"] == "economic_zone", "free_ha"] < 4.0).all()  # only where the zones are full


# ------------------------------------------------------------------------------------------------------------
# The fast named instances, solved from the CLI as a planner would (each well under 10 s when the cores are free)
# ------------------------------------------------------------------------------------------------------------
FAST = {
    "s1c-materialenbanken-multistream": {"ha": 85.0, "per_size": {"large": 12, "small": 10}},
    "s1d-materialenbanken-per-city": {"ha": 13.0, "per_size": {"large": 13}},
    "s1e-materialenbank-central": {"ha": 5.0, "per_size": {"central": 1}},
}


@pytest.mark.parametrize("name", list(FAST))
def test_fast_instance_solves_verifies_and_exports(name: str, solved_named) -> None:  # noqa: ANN001
    """``siting solve NAME`` (the pipeline it runs, shared with the regression test): verified, exported."""
    import pyogrio

    out = solved_named(name).folder
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "optimal" and s["verification"]["passed"]
    assert s["land_take_ha"] == pytest.approx(FAST[name]["ha"])
    for prog in s["programmes"].values():
        assert prog["count_per_size"] == FAST[name]["per_size"]
    assert s["land_take_by_kind_ha"]["existing_zone"] == pytest.approx(FAST[name]["ha"])
    layers = {str(n) for n in pyogrio.list_layers(out / "result.gpkg")[:, 0]}
    assert {"facilities", "allocations", "candidates"} <= layers
