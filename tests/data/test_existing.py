"""Existing facilities as input (issue 17, item 2): the table changes a solution, closable sites close at their
cost, bad rows get one clear line (the chain's Indaver sites from the table: tests/test_chain.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from small_instances import small_instance

from optimizer.data.instance import load_instance
from optimizer.errors import InputError
from optimizer.pipeline import run

ROOT = Path(__file__).resolve().parents[2]
LEUVEN_BANK = {"facility_id": "bank-leuven", "name": "a bank in Leuven", "programme": "materialenbank",
               "x": "173725.9", "y": "174700.0", "nis": "24062", "area_m2": "3000", "status": "fixed_open",
               "counts_toward_rule": "true", "source": "test"}


def _solve(folder: Path, rows: list[dict] | None, name: str):
    sub = folder / name
    sub.mkdir()
    return run(small_instance(sub, "", existing_rows=rows), out_dir=sub / "out")


@pytest.fixture(scope="module")
def without_and_with(tmp_path_factory):
    folder = tmp_path_factory.mktemp("existing")
    return _solve(folder, None, "without"), _solve(folder, [LEUVEN_BANK], "with")


def test_a_fixed_open_site_is_kept_and_its_capacity_used(without_and_with) -> None:
    without, with_ = without_and_with
    fac = with_.tables.facilities
    kept = fac[fac["existing_id"] == "bank-leuven"]
    assert len(kept) == 1 and kept["area_m2"].iloc[0] == 0.0  # open, and no new land
    leuven = with_.tables.allocations["region"] == "Leuven"
    assert (with_.tables.allocations.loc[leuven, "facility_id"] == kept["facility_id"].iloc[0]).all()
    assert kept["load_t"].iloc[0] == pytest.approx(with_.tables.allocations.loc[leuven, "tonnes"].sum())
    assert kept["load_t"].iloc[0] > 0
    # the solution changed: arrondissement Leuven needs no new bank, so the new land take drops by its large bank
    assert not (without.tables.facilities["size"] == "existing").any()
    assert with_.summary["land_take_ha"] == pytest.approx(without.summary["land_take_ha"] - 1.0)
    assert set(with_.tables.facilities["facility_id"]) != set(without.tables.facilities["facility_id"])
    assert with_.summary["verification"]["passed"]
    assert any("existing facilities" in c for c in with_.summary["verification"]["checks"])
    entry = with_.summary["existing_facilities"][0]
    assert entry["open"] and entry["load_t"] > 0 and entry["status"] == "fixed_open"


def test_a_site_beside_the_rule_adds_its_stated_capacity(tmp_path) -> None:
    """Not counted toward the rule: both the existing bank and a new one are open; the stated capacity binds."""
    row = {**LEUVEN_BANK, "counts_toward_rule": "false", "capacity_t": "2000"}
    result = _solve(tmp_path, [row], "beside")
    fac = result.tables.facilities
    kept = fac[fac["existing_id"] == "bank-leuven"]
    assert len(kept) == 1 and (fac["region"] == "Leuven").sum() == 2
    assert 0 < kept["load_t"].iloc[0] <= 2000 + 1e-6


@pytest.mark.parametrize(("saving", "close_cost", "closes"), [(1e7, 5e5, True), (0.0, 5e5, False)])
def test_a_closable_site_closes_only_when_it_pays(tmp_path, saving: float, close_cost: float, closes: bool) -> None:
    row = {**LEUVEN_BANK, "status": "closable", "close_saving_eur_per_yr": str(saving),
           "close_cost_eur": str(close_cost)}
    result = _solve(tmp_path, [row], "closable")
    entry = result.summary["existing_facilities"][0]
    assert entry["open"] is (not closes)
    assert result.summary["verification"]["passed"]
    if closes:  # the closing cost, spread over the annualisation years, is part of the objective
        years = load_instance(tmp_path / "closable" / "small.toml").assumption("existing_one_off_annualisation_yr")
        assert result.summary["objective"]["fixed"] == pytest.approx(close_cost / years)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"status": "maybe"}, "status", "fixed_open"),
    ({"area_m2": "kallo_guess"}, "area_m2", "named assumption"),
    ({"site_id": "EZ-24062"}, "site_id", "not both"),
    ({"programme": "bakery"}, "programme", "unknown programme"),
    ({"x": "4.7", "y": "50.9"}, "x", "EPSG:31370"),
    ({"capacity_t": "2000; 2020: 1000; 2019: 5"}, "capacity_t", "increase"),
    ({"status": "fixed_open", "close_cost_eur": "10"}, "close_cost_eur", "never closes"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, change: dict, field: str, words: str) -> None:
    manifest = small_instance(tmp_path, "", existing_rows=[LEUVEN_BANK, {**LEUVEN_BANK, "facility_id": "b2", **change}])
    with pytest.raises(InputError) as err:
        load_instance(manifest)
    assert err.value.row == 3 and err.value.field == field and words in err.value.message
    assert err.value.file.endswith("existing.csv")


def test_bad_table_exits_2_with_one_line(tmp_path) -> None:
    from click.testing import CliRunner

    from optimizer.cli import app

    manifest = small_instance(tmp_path, "", existing_rows=[{**LEUVEN_BANK, "status": "maybe"}])
    res = CliRunner().invoke(app, ["solve", str(manifest), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "existing.csv:2:status:" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_the_shipped_table_sources_every_row_and_names_its_inferences() -> None:
    inst = load_instance("s4b-integrated-existing")
    ex = inst.existing
    assert ex["source"].str.contains(r"L\d{4,5}").all()  # every row cites the study's lines
    assumed = {a for used in ex["assumptions_used"] for a in used}
    assert {"existing_kallo_plot_m2", "existing_willebroek_sorting_area_m2"} <= assumed
    kallo = ex.set_index("facility_id").loc["indaver-kallo"]
    assert kallo["area_m2"] == inst.assumption("existing_kallo_plot_m2")
    p2c = ex.set_index("facility_id").loc["indaver-p2c-antwerpen", "capacity"]
    assert (p2c.at(2025), p2c.at(2027), p2c.at(2028), p2c.at(None)) == (26000, 26000, 65000, 65000)  # L10751-10754


@pytest.mark.slow
def test_named_instance_keeps_the_existing_sorting_centres(tmp_path) -> None:
    """s2d: the Indaver sorting centres are open beside the 14 new ones and take PMD; transport cannot rise."""
    base = run("s2-sorteercentra")
    with_ = run("s2d-sorteercentra-existing", out_dir=tmp_path / "s2d")
    fac = with_.tables.facilities
    ex = fac[fac["size"] == "existing"]
    assert set(ex["existing_id"]) == {"indaver-grimbergen", "indaver-doel", "indaver-kallo", "indaver-willebroek-sorting"}
    assert (ex["load_t"] > 0).any()
    assert (fac["size"] != "existing").sum() == 14
    assert with_.summary["land_take_ha"] == base.summary["land_take_ha"]  # existing sites take no new land
    assert with_.summary["objective"]["total"] <= base.summary["objective"]["total"] * (1 + 1e-6)
    written = json.loads((tmp_path / "s2d" / "summary.json").read_text())
    assert "existing_kallo_plot_m2" in {a for e in written["existing_facilities"] for a in e["assumptions"]}


def test_the_shipped_rows_stand_on_the_zones_their_rule_names() -> None:
    """The study names towns and the port, not plots: each row of the shipped table stands on the largest CORINE
    zone of its municipality (inside the Antwerp seaport area for the port sites), Merksem on the Antwerpen zone
    nearest the district's centre (docs/existing-facilities.md); the instances find those zones."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    zones = gpd.read_file(ROOT / "instances" / "flanders" / "zones" / "zones.gpkg", layer="zones")
    zones["nis"] = zones["nis"].astype(str)
    table = pd.read_csv(ROOT / "instances" / "flanders" / "existing_facilities.csv", dtype=str, keep_default_na=False)
    hoods = pd.read_csv(ROOT / "instances" / "antwerp" / "neighbourhoods.csv")
    merksem = hoods[hoods["district"] == "Merksem"]
    centre = shapely.Point(np.average(merksem["x"], weights=merksem["population"]),
                           np.average(merksem["y"], weights=merksem["population"]))
    for r in table.itertuples():
        here = zones[zones["nis"] == r.nis]
        if "seaport area" in r.source:
            here = here[here["seaport"] == "Antwerpen"]
        if r.facility_id == "kringwinkel-antwerpen-merksem":
            expected = here.loc[here.distance(centre).idxmin(), "zone_id"]
        else:
            expected = here.sort_values(["area_ha", "free_ha"], ascending=False)["zone_id"].iloc[0]
        assert r.site_id == expected and expected in r.source, (r.facility_id, r.site_id, expected)
        assert not r.x and not r.y  # a zone, not a point
    inst = load_instance("s4b-integrated-existing")
    assert set(inst.existing["site_id"]) <= set(inst.candidates["site_id"])
