"""S7: greenfield forbidden, allowed or penalised, and the price of the reuse-first rule (issue 17 item 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import load_land_status_script, tiny_manifest

from optimizer.data.instance import load_instance
from optimizer.model.formulation import compile_instance
from optimizer.output.compare import rule_cost


def test_allow_makes_greenfield_a_candidate_without_a_penalty(tmp_path: Path) -> None:
    path = tiny_manifest(tmp_path, ["materialenbank"], {"access_rules": "none", "enforce_capacity": False})
    c = pd.read_csv(tmp_path / "c.csv")
    c["greenfield"] = c["nis"] == 11002
    c.to_csv(tmp_path / "c.csv", index=False)
    fixed = {}
    for mode in ("forbid", "allow", "penalty"):
        sp = compile_instance(load_instance(path, {"greenfield": mode}))
        green = (sp.options["site_id"] == "EZ-11002").to_numpy()
        fixed[mode] = sp.problem.fixed_cost[green]
    assert len(fixed["forbid"]) == 0
    assert len(fixed["allow"]) > 0 and (fixed["allow"] == 0).all()
    assert (fixed["penalty"] > 0).all()


def _summary(greenfield: str, total: float, green_ha: float) -> dict:
    return {"parameters": {"greenfield": greenfield}, "objective": {"total": total, "unit": "EUR/yr"},
            "land_take_by_kind_ha": {"existing_zone": 10.0, "reserve": 0.0, "greenfield": green_ha},
            "assumptions": {"greenfield_penalty_eur_per_m2": {"value": 5.0}}}


def test_rule_cost_is_the_objective_difference_per_m2_of_greenfield() -> None:
    cost = rule_cost(_summary("forbid", 1000.0, 0.0), _summary("allow", 900.0, 2.0))
    assert cost["kept"] == "A" and cost["price"] == pytest.approx(100.0)
    assert cost["price_per_m2_greenfield"] == pytest.approx(100.0 / 20_000.0)
    assert rule_cost(_summary("allow", 900.0, 2.0), _summary("forbid", 1000.0, 0.0))["kept"] == "B"
    assert rule_cost(_summary("forbid", 1.0, 0.0), _summary("forbid", 1.0, 0.0)) is None
    none_taken = rule_cost(_summary("forbid", 1000.0, 0.0), _summary("penalty", 1000.0, 0.0))
    assert none_taken["price"] == 0.0 and "costs nothing" in none_taken["sentence"]


@pytest.mark.slow
def test_s7_pair_differs_and_compare_prices_the_rule(solved_named) -> None:  # noqa: ANN001
    from optimizer.output.compare import compare_results

    kept = solved_named("s7-no-greenfield")  # the session's runs, shared with the shipped sweep's check
    lifted = solved_named("s7-greenfield-allowed")
    a, b = kept.summary, lifted.summary
    sites = [set(zip(r.tables.facilities["site_id"], r.tables.facilities["programme"], strict=True))
             for r in (kept, lifted)]
    assert sites[0] != sites[1]
    assert b["objective"]["total"] <= a["objective"]["total"] + 1e-6  # lifting a rule never costs more
    assert b["land_take_by_kind_ha"]["greenfield"] > 0 and a["land_take_by_kind_ha"]["greenfield"] == 0
    diff = compare_results(kept.folder, lifted.folder)
    cost = diff["rule_cost"]
    assert cost["price"] == pytest.approx(a["objective"]["total"] - b["objective"]["total"])
    assert cost["price_per_m2_greenfield"] == pytest.approx(cost["price"] / (b["land_take_by_kind_ha"]["greenfield"]
                                                                              * 1e4))
    assert any(r["setting"] == "greenfield" for r in diff["settings"])


# ---------------------------------------------------------------------------------------------------------------
# S7b: the land on the market today (candidates_available.csv)
# ---------------------------------------------------------------------------------------------------------------
FLANDERS = Path(__file__).resolve().parents[2] / "instances" / "flanders"


def test_available_land_table_equals_a_fresh_build_and_keeps_the_available_total() -> None:
    import io

    mod = load_land_status_script()
    base = pd.read_csv(FLANDERS / "candidates.csv")
    a = load_instance("s7b-greenfield-available-land").assumptions
    available_ha = float(a["available_business_land_ha"].value)
    fresh = mod.available_table(base, available_ha, float(a["greenfield_candidate_ha"].value))
    committed = pd.read_csv(FLANDERS / "candidates_available.csv")
    pd.testing.assert_frame_equal(committed, pd.read_csv(io.StringIO(fresh.to_csv(index=False))), check_dtype=False)
    existing = committed[~committed["greenfield"]]
    zones = existing["zone_type"] == "economic_zone"
    assert existing.loc[zones, "free_ha"].sum() == pytest.approx(available_ha, abs=0.01 * zones.sum())
    assert (existing.loc[zones, "free_ha"] <= existing.loc[zones, "mapped_free_ha"] + 1e-9).all()
    green = committed[committed["greenfield"]]
    assert (existing.set_index("nis").loc[green["nis"], "free_ha"] < mod.SORTING_PLOT_HA).all()


def test_reuse_first_cannot_hold_the_programme_on_available_land_and_says_where() -> None:
    from optimizer.check.diagnose import presolve_checks

    sp = compile_instance(load_instance("s7b-greenfield-available-land", {"greenfield": "forbid"}))
    reasons = presolve_checks(sp)
    assert reasons and any("greenfield candidates there are forbidden" in r for r in reasons)
    # each reason names a programme of the instance and a count that the free land cannot meet
    assert all(any(p in r.split(":")[0] for p in ("materialenbank", "sorteercentrum", "cluster")) for r in reasons)
    assert compile_instance(load_instance("s7b-greenfield-available-land")).problem.n_options > sp.problem.n_options


def test_s7b_under_the_strict_rule_names_the_sorting_centres_that_do_not_fit() -> None:
    """On the candidate zones and the real networks the strict sorting-centre rule (road + water, knooppuntwaarde
    ≥ 0.5) finds 12 of the 14 plots on today's available land plus the greenfield stand-ins (at municipal points,
    few of them near a quay): infeasible, named (docs/geography.md §7)."""
    from optimizer.check.diagnose import presolve_checks

    reasons = presolve_checks(compile_instance(load_instance("s7b-greenfield-available-land")))
    assert len(reasons) == 1 and reasons[0].startswith("sorteercentrum: flanders 'Vlaanderen' needs 14")


@pytest.mark.slow
def test_s7b_takes_greenfield_only_at_its_penalty(tmp_path: Path) -> None:
    """Under the loose access rule (road only) the available land and the greenfield stand-ins hold S4."""
    from optimizer.pipeline import run

    result = run("s7b-greenfield-available-land", overrides={"access_rules": "loose"})
    s = result.summary
    fac = result.tables.facilities
    green = fac[fac["land_kind"] == "greenfield"]
    assert s["land_take_by_kind_ha"]["greenfield"] == pytest.approx(green["area_m2"].sum() / 1e4) and len(green)
    penalty = load_instance("s7b-greenfield-available-land").assumption("greenfield_penalty_eur_per_m2")
    assert s["objective"]["fixed"] == pytest.approx(penalty * green["area_m2"].sum())
