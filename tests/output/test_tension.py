"""Utilisation and rule-tension flags (issue 17 item 1): one definition of capacity, flags in every result.

The figures are not hard-coded: every test checks a flag against the utilisations it was computed from, so the
geography of the candidates may change without touching these tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import siting
from helpers import tiny_manifest

from optimizer.data.instance import load_instance
from optimizer.errors import InputError
from optimizer.output.tension import (
    BELOW,
    OVER,
    ProgrammeRule,
    flags_from_summary,
    programme_rules,
    rule_tensions,
)
from optimizer.pipeline import run
from optimizer.studies import pareto


def _rule(**kw: object) -> ProgrammeRule:
    base = dict(programme="p", count_text="4 in Flanders", flanders_wide=True, count_open=False, size_rule="single",
                throughput_t_per_m2=1.0, floor=0.5, capacity_enforced=False, land_cost_eur_per_m2=0.0)
    return ProgrammeRule(**{**base, **kw})


def _facilities(loads: list[float], area: float = 100.0, throughput: float = 1.0) -> pd.DataFrame:
    n = len(loads)
    cap = np.full(n, area * throughput)
    return pd.DataFrame({"programme": "p", "facility_id": [f"f{i}" for i in range(n)],
                         "site_id": [f"s{i}" for i in range(n)], "site_name": [f"site {i}" for i in range(n)],
                         "region": [f"r{i}" for i in range(n)], "size": "standard", "area_m2": area,
                         "load_t": loads, "capacity_t": cap, "utilisation": np.asarray(loads) / cap})


def test_below_floor_flags_the_programme_and_derives_the_count_that_carries_the_flow() -> None:
    fac = _facilities([10.0, 20.0, 30.0, 90.0])
    flags = rule_tensions(fac, {"p": _rule()})
    assert [f["rule"] for f in flags] == [BELOW]
    flag = flags[0]
    assert {f["facility_id"] for f in flag["facilities"]} == set(fac.loc[fac["utilisation"] < 0.5, "facility_id"])
    assert flag["median"] == pytest.approx(fac["utilisation"].median())
    assert flag["count_needed"] == math.ceil(fac["load_t"].sum() / 100.0) == 2
    assert "2 would carry" in flag["sentence"] and "4 in Flanders" in flag["sentence"]


def test_over_capacity_flags_each_facility_above_100_percent_with_the_missing_area() -> None:
    fac = _facilities([50.0, 120.0, 241.0, 80.0])
    flags = rule_tensions(fac, {"p": _rule(flanders_wide=False, count_text="1 per region", size_rule="centrumstad")})
    assert [f["rule"] for f in flags] == [OVER]
    over = flags[0]
    assert {f["facility_id"] for f in over["facilities"]} == {"f1", "f2"}
    assert over["max"] == pytest.approx(2.41)
    assert over["extra_area_m2"] == pytest.approx((20.0 + 141.0) / 1.0)
    assert "241 %" in over["sentence"]


def test_balanced_programme_is_not_flagged_and_no_capacity_means_no_flag() -> None:
    assert rule_tensions(_facilities([60.0, 70.0, 100.0]), {"p": _rule()}) == []
    no_cap = _facilities([1.0, 2.0]).assign(capacity_t=np.nan, utilisation=np.nan)
    assert rule_tensions(no_cap, {"p": _rule()}) == []


def test_the_floor_is_a_named_assumption_and_can_be_changed(tmp_path: Path) -> None:
    inst = load_instance("s2-sorteercentra", {"assumption.utilisation_floor": "0.1"})
    assert programme_rules(inst)["sorteercentrum"].floor == pytest.approx(0.1)
    assert programme_rules(load_instance("s2-sorteercentra"))["sorteercentrum"].see_instance == "s2c-sorteercentra-open"


def _check_result(result, programme: str, rule: str) -> dict:
    fac = result.tables.facilities
    f = fac[fac["programme"] == programme]
    assert f["capacity_t"].notna().all() and f["utilisation"].notna().all()
    np.testing.assert_allclose(f["utilisation"], f["load_t"] / f["capacity_t"])
    flags = {(g["programme"], g["rule"]): g for g in result.summary["rule_tensions"]}
    assert (programme, rule) in flags, flags.keys()
    flag = flags[(programme, rule)]
    floor = result.summary["assumptions"]["utilisation_floor"]["value"]
    concerned = {g["facility_id"] for g in flag["facilities"]}
    expected = f.loc[f["utilisation"] > 1 + 1e-9 if rule == OVER else f["utilisation"] < floor, "facility_id"]
    assert concerned == set(expected)
    assert flag["max"] == pytest.approx(f["utilisation"].max())
    json.dumps(result.summary["rule_tensions"])  # machine-readable
    return flag


def test_s2_sorting_centres_are_flagged_below_the_floor() -> None:
    result = run("s2-sorteercentra")
    flag = _check_result(result, "sorteercentrum", BELOW)
    fac = result.tables.facilities
    assert flag["median"] < flag["floor"]
    assert flag["count_needed"] == math.ceil(fac["load_t"].sum() / fac["capacity_t"].median())
    assert f"{flag['count_needed']} would carry" in flag["sentence"] and "s2c-sorteercentra-open" in flag["sentence"]


def test_s1b_poster_banks_are_flagged_over_capacity() -> None:
    result = run("s1b-materialenbanken-poster")
    flag = _check_result(result, "materialenbank", OVER)
    assert flag["max"] > 1.0
    assert f"{100 * flag['max']:.0f} %" in flag["sentence"]


def test_s3_clusters_over_capacity_flag_names_exactly_the_clusters_above_100_percent() -> None:
    result = run("s3-clusters")
    fac = result.tables.facilities
    over = fac[fac["utilisation"] > 1 + 1e-9]
    if over.empty:
        assert all(f["rule"] != OVER for f in result.summary["rule_tensions"])
        return
    flag = _check_result(result, "cluster", OVER)
    assert {g["region"] for g in flag["facilities"]} == set(over["region"])


def test_cli_prints_and_records_the_flag_and_the_layer_has_capacity(solved_named, tmp_path: Path) -> None:  # noqa: ANN001
    """``siting solve s2-sorteercentra`` (the session's run of it): the flag printed, recorded and reported."""
    import geopandas as gpd

    from optimizer.cli.app import out as console
    from optimizer.cli.solve import print_summary

    result = solved_named("s2-sorteercentra")
    out = result.folder
    with console.capture() as printed:
        print_summary(result.summary, out)
    assert "flag: sorteercentrum (below the utilisation floor)" in " ".join(printed.get().split())
    summary = json.loads((out / "summary.json").read_text())
    assert [f["rule"] for f in summary["rule_tensions"]] == [BELOW]
    fac = gpd.read_file(out / "result.gpkg", layer="facilities")
    assert fac["capacity_t"].notna().all() and fac["utilisation"].notna().all()
    assert "utilisation_nominal" not in fac
    assert flags_from_summary(summary) == summary["rule_tensions"]
    # a result without recorded flags (older runs) is re-flagged from its layer alone
    assert [f["rule"] for f in flags_from_summary({}, fac)] == [BELOW]

    report = siting("report", out, "--out", tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Rule tension" in (tmp_path / "report.html").read_text() and "Rule tension" in (tmp_path / "report.md").read_text()

    from optimizer.output.compare import compare_results

    diff = compare_results(out, out)
    assert [(r["programme"], r["rule"]) for r in diff["tensions"]] == [("sorteercentrum", BELOW)]


# ---------------------------------------------------------------------------------------------------------------
# siting pareto on a fixed-count instance: one line, exit 2
# ---------------------------------------------------------------------------------------------------------------
def test_fixed_land_take_is_detected_without_solving(tmp_path: Path) -> None:
    from optimizer.model.formulation import compile_instance

    fixed = tiny_manifest(tmp_path, ["sorteercentrum"], {"access_rules": "none", "enforce_capacity": False,
                                                         "time_limit_s": 60})
    inst = load_instance(fixed)
    (tmp_path / "open").mkdir()
    problem = compile_instance(load_instance(tiny_manifest(tmp_path / "open", ["sorteercentrum"], {
        "access_rules": "none", "enforce_capacity": False, "size_variant": "open", "time_limit_s": 60}))).problem
    assert pareto.fixed_land_take_m2(problem) is None  # open count: land take varies
    with pytest.raises(InputError, match="every solution takes the same land"):
        pareto.trace(inst, 3)


def test_cli_pareto_on_a_fixed_count_instance_says_why_in_one_line() -> None:
    proc = siting("pareto", "s2-sorteercentra", "--points", "3")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no transport vs land-take trade-off" in lines[0] and "Traceback" not in proc.stderr


def test_a_front_that_collapses_to_one_point_says_so(tmp_path: Path) -> None:
    """Sizes open but uncapacitated: the least-transport solution already takes the least land."""
    path = tiny_manifest(tmp_path, ["materialenbank"], {"access_rules": "none", "enforce_capacity": False,
                                                        "size_rule": "free", "time_limit_s": 60})
    front = pareto.trace(load_instance(path), 3)
    assert len(front) == 3 and front["land_take_ha"].nunique() == 1 and front["transport"].nunique() == 1
    assert "single point" in front.attrs["note"]
    files = pareto.write(front, tmp_path / "out", "tiny")
    assert files["png"].stat().st_size > 10_000
