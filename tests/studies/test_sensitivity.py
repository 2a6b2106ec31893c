"""``siting sensitivity`` (issue 17 item 6): variants of named assumptions solved as a sweep, tornado and robust sites."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_ROOT, siting
from helpers import tiny_manifest

from optimizer.data.instance import load_instance
from optimizer.errors import InputError
from optimizer.studies import sensitivity as sens
from optimizer.studies.sweep_spec import load_sweep

PARAMS = {"access_rules": "none", "enforce_capacity": True, "size_rule": "free", "land_cost_eur_per_m2": 1,
          "assignment": "any", "time_limit_s": 60}


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the CLI's tables, in process, as wide as a planner's terminal


def test_vary_takes_values_and_percentages_and_names_what_is_wrong() -> None:
    inst = load_instance("materialenbanken")
    base = inst.assumption("cost_road_eur_per_tkm")
    a, b = sens.parse_vary(["cost_road_eur_per_tkm=0.08:0.12", "assumption.wood_to_bank_t_per_inhabitant_yr=-20%:+20%"],
                           inst)
    assert (a.name, a.base, a.low, a.high) == ("cost_road_eur_per_tkm", base, 0.08, 0.12)
    assert b.low == pytest.approx(0.8 * inst.assumption("wood_to_bank_t_per_inhabitant_yr"))
    for bad, match in (("cost_road_eur_per_tkmm=1:2", "did you mean 'cost_road_eur_per_tkm'"),
                       ("cost_road_eur_per_tkm=0.1", "NAME=LOW:HIGH"),
                       ("cost_road_eur_per_tkm=0.1:0.1", "same value"),
                       ("cost_road_eur_per_tkm=a:b", "not a number"),
                       ("near_urban_classes=1:2", "not a number")):
        with pytest.raises(InputError, match=match):
            sens.parse_vary([bad], inst)


def test_the_preset_varies_tonnages_throughputs_and_the_road_cost_by_the_setting() -> None:
    from optimizer.settings import SENSITIVITY_DEFAULT_RANGE as share

    inst = load_instance("s4-integrated")
    names = [v.name for v in sens.default_variations(inst)]
    for prog in inst.programmes:
        assert prog.demand_per_inhabitant in names and prog.capacity_per_m2 in names
    assert names[-1] == "cost_road_eur_per_tkm" and len(names) == len(set(names))
    for v in sens.default_variations(inst):
        assert v.low == pytest.approx(v.base * (1 - share), rel=1e-5) and v.high == pytest.approx(v.base * (1 + share),
                                                                                                  rel=1e-5)


def test_design_and_its_sweep_file_agree(tmp_path: Path) -> None:
    inst = load_instance("materialenbanken")
    variations = tuple(sens.default_variations(inst))
    spec = sens.SensitivitySpec("materialenbanken", inst.name, {"size_rule": "free"}, variations, samples=5, seed=3)
    frame = sens.design(spec)
    assert len(frame) == 1 + 2 * len(variations) + 5
    assert frame.equals(sens.design(spec))  # seeded
    joint = frame[frame["level"] == "joint"]
    for v in variations:
        col = joint[f"value.{v.name}"]
        assert ((col >= v.low - 1e-12) & (col <= v.high + 1e-12)).all()
    path = tmp_path / "s.toml"
    path.write_text(sens.sweep_toml(spec, frame))
    sweep = load_sweep(path)
    assert [sc.name for sc in sweep.scenarios] == frame["scenario"].tolist()
    by_name = {sc.name: sc.overrides for sc in sweep.scenarios}
    assert by_name["base"] == {"size_rule": "free"}
    v = variations[0]
    assert float(by_name[f"{v.name}-high"][f"assumption.{v.name}"]) == v.high


def test_robust_sites_count_each_site_over_the_solved_variants(tmp_path: Path) -> None:
    from optimizer.settings import SENSITIVITY_RARE_SHARE, SENSITIVITY_ROBUST_SHARE

    chosen = {"v1": ["A", "B"], "v2": ["A", "C"], "v3": ["A", "B"], "v4": ["A", "B"], "v5": ["A", "C"]}
    rows = []
    for name, sites in chosen.items():
        (tmp_path / name).mkdir()
        pd.DataFrame({"programme": "p", "site_id": sites, "site_name": sites, "size": "s", "x": 0.0, "y": 0.0}).to_csv(
            tmp_path / name / "facilities.csv", index=False)
        rows.append({"scenario": name, "result_dir": name})
    rows.append({"scenario": "failed", "result_dir": None})
    robust = sens.robust_sites(tmp_path, pd.DataFrame(rows)).set_index("site_id")
    assert robust.loc["A", "share"] == 1.0 and robust.loc["B", "share"] == 0.6 and robust.loc["C", "share"] == 0.4
    assert (robust["variants"] == 5).all()
    expected = {s: "robust" if sh >= SENSITIVITY_ROBUST_SHARE else "rare" if sh < SENSITIVITY_RARE_SHARE else "often"
                for s, sh in robust["share"].items()}
    assert robust["class"].to_dict() == expected


def test_cli_writes_table_tornado_and_robust_map_and_resumes(tmp_path: Path) -> None:
    manifest = tiny_manifest(tmp_path, ["materialenbank"], PARAMS)
    out = tmp_path / "sens"
    args = ("sensitivity", str(manifest), "--vary", "wood_to_bank_t_per_inhabitant_yr=-50%:+50%", "--vary",
            "materialenbank_throughput_t_per_m2_yr=1.0:2.5", "--samples", "2", "--workers", "0", "--out", str(out))
    proc = siting(*args)
    assert proc.returncode == 0, proc.stderr
    assert "one at a time" in proc.stdout and "robust" in proc.stdout
    table = pd.read_csv(out / "sensitivity.csv")
    assert len(table) == 1 + 2 * 2 + 2 and table["status"].eq("optimal").all()
    base = table[table["scenario"] == "base"].iloc[0]
    np.testing.assert_allclose(table["objective_change"], table["objective_total"] - base["objective_total"])
    # more flow per inhabitant costs more: the tornado's direction is the model's, not a drawing artefact
    wood = table.set_index("scenario")
    assert (wood.loc["wood_to_bank_t_per_inhabitant_yr-high", "objective_total"]
            > wood.loc["wood_to_bank_t_per_inhabitant_yr-low", "objective_total"])
    for png in ("tornado.png", "robust_sites.png"):
        assert (out / png).stat().st_size > 20_000
    robust = pd.read_csv(out / "robust_sites.csv")
    assert (robust["variants"] == len(table)).all() and robust["share"].between(0, 1).all()
    manifest_json = json.loads((out / "sensitivity.json").read_text())
    assert manifest_json["solved"] == len(table) and manifest_json["sweep"]["resumed"] == 0
    again = siting(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "sensitivity.json").read_text())["sweep"]["resumed"] == len(table)


def test_cli_bad_vary_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = siting("sensitivity", "materialenbanken", "--vary", "no_such_assumption=1:2", "--out",
                  str(tmp_path / "x"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_sensitivity_runs_on_materialenbanken(tmp_path: Path) -> None:
    """Acceptance (issue 17): the command runs on materialenbanken and writes the robust-site map and the tornado."""
    out = tmp_path / "mb"
    proc = siting("sensitivity", "materialenbanken", "--vary", "wood_to_bank_t_per_inhabitant_yr=-25%:+25%",
                  "--workers", "0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "tornado.png").stat().st_size > 20_000 and (out / "robust_sites.png").stat().st_size > 20_000
    table = pd.read_csv(out / "sensitivity.csv").set_index("scenario")
    ratio = table.loc["wood_to_bank_t_per_inhabitant_yr-high", "objective_total"] / table.loc["base", "objective_total"]
    assert ratio == pytest.approx(1.25, rel=1e-6)  # uncapacitated, fixed counts: transport scales with the flow



def test_outline_of_flanders_is_a_valid_polygon_around_the_candidates() -> None:
    import shapely

    from optimizer.data.outline import flanders_outline

    outline = flanders_outline()
    assert outline is not None and outline.is_valid
    cands = pd.read_csv(PROJECT_ROOT / "instances/flanders/candidates.csv")
    inside = shapely.contains_xy(outline.buffer(2_000), cands["x"], cands["y"])
    assert inside.mean() > 0.95  # municipal points lie in Flanders (a few border centroids within 2 km)


@pytest.mark.shared
def test_outline_rebuilds_identically(shared_dir: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("outline", PROJECT_ROOT / "instances/flanders/build_outline.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    fresh = build.build_outline(shared_dir)
    committed = pd.read_csv(PROJECT_ROOT / "instances/flanders/flanders_outline.csv")
    pd.testing.assert_frame_equal(fresh.reset_index(drop=True), committed)
