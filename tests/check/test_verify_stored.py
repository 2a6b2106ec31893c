"""``siting verify``: a stored result re-checked independently; ``compare`` and ``report`` refuse one that fails.

Issue 13, item 3. Each tampering is one a planner could make by hand or a tool could cause: a municipality moved
to another arrondissement's bank, a facility deleted, the objective lowered, the GeoPackage and the CSV copies
drifting apart. Named results come from the small corpus instance; the matrix example, the session's small chain
and two small multi-period instances (location and chain) cover the other kinds. A tampered result is never
written to by compare or report (snapshots).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from conftest import CORPUS, PROJECT_ROOT
from small_instances import S6_PERIODS, small_instance
from snapshot import changes, snapshot
from click.testing import CliRunner

from optimizer.check.stored import verify_stored
from optimizer.cli import app

BASE = CORPUS / "base"
MATRIX = PROJECT_ROOT / "instances" / "matrix_example"


@pytest.fixture(scope="module")
def named(corpus_result: Path) -> Path:
    return corpus_result


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("matrix")
    shutil.copytree(MATRIX, root / "m", ignore=shutil.ignore_patterns("*.py"))
    result = CliRunner().invoke(app, ["solve", str(root / "m"), "--out", str(root / "result"), "--quiet"])
    assert result.exit_code == 0, result.output
    return root / "result"


@pytest.fixture(scope="module")
def chain(chain_result) -> Path:  # noqa: ANN001
    """The small plastics chain of the session (tests/conftest.py), solved in process; read-only. Its programme
    lives in the test's models folder: the tests that reload its instance take ``tiny_chain_models``. (Its
    ``--json`` from a real process, without a solver banner: tests/cli/test_cli.py.)"""
    assert chain_result.summary["format"] == "circular-siting/result" and chain_result.summary["kind"] == "chain"
    return chain_result.folder


@pytest.fixture(scope="module")
def periods(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-period result (the banks of two arrondissements over S6's three periods)."""
    root = tmp_path_factory.mktemp("periods")
    manifest = small_instance(root, S6_PERIODS, assumptions="[assumptions]\ncoexistence_free_land_share = 0.0\n")
    result = CliRunner().invoke(app, ["solve", str(manifest), "--out", str(root / "result"), "--quiet"])
    assert result.exit_code == 0, result.output
    return root / "result"


@pytest.fixture(scope="module")
def chain_periods(tiny_chain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small chain over the three periods of the P2C ramp-up (instances/s2e-p2c-rampup.toml)."""
    from conftest import chain_models

    from optimizer.pipeline import run

    ramp_up = (PROJECT_ROOT / "instances" / "s2e-p2c-rampup.toml").read_text(encoding="utf-8")
    section = ramp_up[ramp_up.index("[periods]"):ramp_up.index("[parameters]")]
    manifest = tiny_chain / "chain-periods.toml"
    text = (tiny_chain / "chain.toml").read_text(encoding="utf-8").replace('name = "tiny-chain"',
                                                                           'name = "tiny-chain-periods"')
    manifest.write_text(text.replace("[parameters]", section + "[parameters]", 1), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        chain_models(mp, tiny_chain)
        result = run(manifest, out_dir=tmp_path_factory.mktemp("chain-periods") / "result")
    assert result.summary["kind"] == "chain_periods"
    return result.folder


def _copy(result: Path, tmp_path: Path, name: str = "res") -> Path:
    target = tmp_path / name
    shutil.copytree(result, target)
    return target


def _verify(folder: Path) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["verify", str(folder)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


# ---------------------------------------------------------------------------------------------------------------
# Tamperings (CSV and GeoPackage changed together, so the rule itself must catch it, not the copy comparison)
# ---------------------------------------------------------------------------------------------------------------
def _edit_layer(folder: Path, layer: str, edit) -> None:  # noqa: ANN001
    """Apply ``edit`` (frame -> frame, or None to keep the edited frame) to the CSV and the GeoPackage layer."""
    csv = pd.read_csv(folder / f"{layer}.csv", dtype=str, keep_default_na=False)
    csv = _edited(csv, edit)
    csv.to_csv(folder / f"{layer}.csv", index=False)
    gdf = _edited(pyogrio.read_dataframe(folder / "result.gpkg", layer=layer), edit)
    pyogrio.write_dataframe(gdf, folder / "result.gpkg", layer=layer)


def _edited(frame, edit):  # noqa: ANN001, ANN202
    out = edit(frame)
    return frame if out is None else out


def reassign_across_regions(folder: Path) -> str:
    fac = pd.read_csv(folder / "facilities.csv", dtype=str)
    alloc = pd.read_csv(folder / "allocations.csv", dtype=str)
    other = fac[fac["region"] != alloc.at[0, "region"]].iloc[0]

    def edit(frame) -> None:  # noqa: ANN001
        frame.loc[0, "facility_id"] = other["facility_id"]
        frame.loc[0, "site_id"] = other["site_id"]

    _edit_layer(folder, "allocations", edit)
    return "is served outside its arrondissement"


def drop_a_facility(folder: Path) -> str:
    def edit(frame):  # noqa: ANN001, ANN202
        return frame.iloc[1:].reset_index(drop=True)

    _edit_layer(folder, "facilities", edit)
    return "has 0 facilities, rule says 1"


def lower_the_objective(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    summary["objective"]["total"] *= 0.95
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return "differs from recomputed"


def gpkg_and_csv_disagree(folder: Path) -> str:
    gdf = pyogrio.read_dataframe(folder / "result.gpkg", layer="allocations")
    gdf.loc[0, "tonnes"] = float(gdf.loc[0, "tonnes"]) * 2
    pyogrio.write_dataframe(gdf, folder / "result.gpkg", layer="allocations")
    return "result.gpkg layer allocations and allocations.csv differ in row 2, column tonnes"


TAMPERINGS = [reassign_across_regions, drop_a_facility, lower_the_objective, gpkg_and_csv_disagree]


def test_untouched_named_result_holds(named: Path) -> None:
    code, stdout, stderr = _verify(named)
    assert code == 0 and "verified:" in stdout and stderr == "", (stdout, stderr)
    check = verify_stored(named)
    assert check.ok and any("GeoPackage" in c or "result.gpkg" in c for c in check.checks)
    assert any("the study's rules" in c for c in check.checks)


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_verify_reports_each_tampering(tamper, named: Path, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _copy(named, tmp_path)
    expected = tamper(folder)
    before = snapshot(tmp_path)
    code, _, stderr = _verify(folder)
    assert code == 5, stderr
    assert stderr.startswith(f"verification failed: {folder}") and expected in stderr, stderr
    assert "Traceback" not in stderr
    assert changes(before, snapshot(tmp_path)) == []  # verify writes nothing


@pytest.mark.parametrize("command", ["compare", "report", "map"])
def test_compare_report_and_map_refuse_a_tampered_result(command: str, named: Path, tmp_path: Path) -> None:
    good = _copy(named, tmp_path, "good")
    bad = _copy(named, tmp_path, "bad")
    reassign_across_regions(bad)
    before = snapshot(tmp_path)
    args = ["compare", str(good), str(bad), "--markdown", str(tmp_path / "diff.md")] if command == "compare" else \
        [command, str(bad)]
    r = CliRunner().invoke(app, args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 5 and len(lines) == 1, r.output
    assert f"{command} refused: {bad} fails the independent check" in lines[0] and "--allow-unverified" in lines[0]
    assert changes(before, snapshot(tmp_path)) == []  # no report, no map, no comparison written


def _read_anyway(command: str, named: Path, tmp_path: Path) -> Path:
    """A result with a lowered objective, read by ``command --allow-unverified``: exit 0 with the warning."""
    bad = _copy(named, tmp_path, "bad")
    lower_the_objective(bad)
    r = CliRunner().invoke(app, [command, str(bad), "--allow-unverified", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "marked UNVERIFIED" in r.stderr
    return bad


def test_report_allow_unverified_marks_every_page(named: Path, tmp_path: Path) -> None:
    bad = _read_anyway("report", named, tmp_path)
    html = (bad / "report.html").read_text()
    md = (bad / "report.md").read_text()
    assert html.count("UNVERIFIED") >= 3  # banner, 'verified independently: NO', footer
    assert md.startswith("> **UNVERIFIED") and md.rstrip().endswith("(siting verify).*")


def test_map_allow_unverified_marks_both_maps(named: Path, tmp_path: Path) -> None:
    bad = _read_anyway("map", named, tmp_path)
    assert "UNVERIFIED" in (bad / "map.html").read_text()
    assert (bad / "map.png").stat().st_size > 0


def test_compare_allow_unverified_marks_the_result(named: Path, tmp_path: Path) -> None:
    good, bad = _copy(named, tmp_path, "good"), _copy(named, tmp_path, "bad")
    drop_a_facility(bad)
    r = CliRunner().invoke(app, ["compare", str(good), str(bad), "--allow-unverified", "--json"])
    assert r.exit_code == 0, r.output
    diff = json.loads(r.stdout)
    assert list(diff["unverified"]) == ["b"] and any("rule says 1" in v for v in diff["unverified"]["b"])


def test_untouched_results_compare_and_report(named: Path, tmp_path: Path) -> None:
    a, b = _copy(named, tmp_path, "a"), _copy(named, tmp_path, "b")
    r = CliRunner().invoke(app, ["compare", str(a), str(b), "--markdown", str(tmp_path / "diff.md"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "diff.md").read_text().startswith("<!-- written by siting compare -->")
    r = CliRunner().invoke(app, ["compare", str(a), str(b), "--markdown", str(tmp_path / "diff.md"), "--quiet"])
    assert r.exit_code == 0, r.output  # its own earlier comparison may be replaced
    r = CliRunner().invoke(app, ["report", str(a), "--quiet"])
    assert r.exit_code == 0 and "UNVERIFIED" not in (a / "report.html").read_text(), r.output


def test_a_changed_instance_is_noted(tmp_path: Path) -> None:
    """Same tables, another title: the hash changes, the result still holds against the instance as it is."""
    inst = tmp_path / "inst"
    shutil.copytree(BASE, inst)
    out = tmp_path / "res"
    assert CliRunner().invoke(app, ["solve", str(inst / "instance.toml"), "--out", str(out), "-q"]).exit_code == 0
    text = (inst / "instance.toml").read_text()
    (inst / "instance.toml").write_text(text.replace("Oostende + Veurne", "Oostende and Veurne"))
    code, stdout, stderr = _verify(out)
    assert code == 0 and "note: the instance has changed since this result was written" in stderr, stderr


def test_validate_takes_a_result_folder(named: Path) -> None:
    r = CliRunner().invoke(app, ["validate", str(named)])
    assert r.exit_code == 0 and "verified:" in r.stdout, r.output


# ---------------------------------------------------------------------------------------------------------------
# Matrix and chain results
# ---------------------------------------------------------------------------------------------------------------
def test_matrix_result_holds_and_a_tampering_is_found(matrix: Path, tmp_path: Path) -> None:
    assert _verify(matrix)[0] == 0
    bad = _copy(matrix, tmp_path)
    assign = pd.read_csv(bad / "assignments.csv")
    facilities = pd.read_csv(bad / "facilities.csv")
    closed = facilities.loc[~facilities["open"], "facility"].iloc[0]
    assign.loc[0, "facility"] = closed  # a client moved to a closed facility (its cost left as it was)
    assign.to_csv(bad / "assignments.csv", index=False)
    code, _, stderr = _verify(bad)
    assert code == 5 and "closed option" in stderr, stderr


def test_chain_result_holds_and_a_tampering_is_found(chain: Path, tiny_chain_models: Path, tmp_path: Path) -> None:
    code, stdout, stderr = _verify(chain)
    assert code == 0 and "chain instance" in stdout, stderr
    bad = _copy(chain, tmp_path)
    flows = pd.read_csv(bad / "flows.csv")
    flows.loc[0, "tonnes"] = flows.loc[0, "tonnes"] * 0.5  # half a municipality's PMD disappears
    flows.to_csv(bad / "flows.csv", index=False)
    code, _, stderr = _verify(bad)
    assert code == 5 and "its supply is" in stderr, stderr


@pytest.mark.parametrize("command", ["report", "compare"])
def test_chain_results_are_verified_by_report_and_compare(command: str, chain: Path, tiny_chain_models: Path,
                                                         tmp_path: Path) -> None:
    """A chain result is read like any other (issue 14): report and compare verify it first, and refuse a
    tampered one without writing anything (an untouched one is reported and compared: tests/output/test_report.py)."""
    good, bad = _copy(chain, tmp_path, "good"), _copy(chain, tmp_path, "bad")
    flows = pd.read_csv(bad / "flows.csv")
    flows.loc[0, "tonnes"] = flows.loc[0, "tonnes"] * 0.5
    flows.to_csv(bad / "flows.csv", index=False)
    before = snapshot(tmp_path)
    r = CliRunner().invoke(app, [command, str(bad)] + ([str(good)] if command == "compare" else []))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 5 and len(lines) == 1 and f"{command} refused: {bad} fails" in lines[0], r.output
    assert changes(before, snapshot(tmp_path)) == []


# ---------------------------------------------------------------------------------------------------------------
# Multi-period results: each period as that period's problem, then across periods
# ---------------------------------------------------------------------------------------------------------------
def test_periods_result_holds(periods: Path) -> None:
    """(``siting report`` verifies one first and reports it: tests/model/test_periods.py.)"""
    code, stdout, stderr = _verify(periods)
    assert code == 0 and "periods instance" in stdout and stderr == "", (stdout, stderr)
    check = verify_stored(periods)
    assert any(c.startswith("stored tables: 2031-2040:") for c in check.checks)
    assert any("openings and closings recomputed" in c for c in check.checks)


def _reassign_in_period(folder: Path) -> str:
    """One municipality of the second period moved to another arrondissement's bank (CSV and GeoPackage alike)."""
    alloc = pd.read_csv(folder / "allocations.csv", dtype=str)
    fac = pd.read_csv(folder / "facilities.csv", dtype=str)
    row = int(alloc.index[alloc["period"] == "2028-2030"][0])
    other = fac[(fac["period"] == "2028-2030") & (fac["region"] != alloc.at[row, "region"])].iloc[0]

    def edit(frame) -> None:  # noqa: ANN001
        frame.loc[row, "facility_id"] = other["facility_id"]
        frame.loc[row, "site_id"] = other["site_id"]

    _edit_layer(folder, "allocations", edit)
    return "2028-2030: materialenbank:"


def _lower_the_total(folder: Path) -> str:
    lower_the_objective(folder)
    return "differs from recomputed"


def _reserve_before_its_window(folder: Path) -> str:
    """A facility of the last period moved back into the first period, onto reserve land that is not open yet:
    caught across periods (window, openings), whatever the single period says."""
    fac = pd.read_csv(folder / "facilities.csv", dtype=str)
    first = fac[fac["period"] == "2025-2027"]
    extra = fac[(fac["period"] == "2031-2040") & ~fac["facility_id"].isin(first["facility_id"])]
    if extra.empty:
        pytest.skip("every last-period facility is already open in the first period")

    def edit(frame):  # noqa: ANN001, ANN202
        added = frame.loc[extra.index].copy()
        added["period"] = "2025-2027"
        return pd.concat([frame, added], ignore_index=True)

    _edit_layer(folder, "facilities", edit)
    return "2025-2027:"


@pytest.mark.parametrize("tamper", [_reassign_in_period, _lower_the_total, _reserve_before_its_window],
                         ids=lambda f: f.__name__.strip("_"))
def test_periods_tampering_is_found(tamper, periods: Path, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _copy(periods, tmp_path)
    expected = tamper(folder)
    code, _, stderr = _verify(folder)
    assert code == 5 and expected in stderr and "Traceback" not in stderr, stderr


def test_chain_periods_result_holds_and_a_tampering_is_found(chain_periods: Path, tiny_chain_models: Path,
                                                            tmp_path: Path) -> None:
    code, stdout, stderr = _verify(chain_periods)
    assert code == 0 and "chain_periods instance" in stdout, (stdout, stderr)
    bad = _copy(chain_periods, tmp_path)
    flows = pd.read_csv(bad / "flows.csv")
    last = flows.index[flows["period"] == flows["period"].iloc[-1]][0]
    flows.loc[last, "tonnes"] = flows.loc[last, "tonnes"] * 0.5  # half a municipality's PMD gone, in one period
    flows.to_csv(bad / "flows.csv", index=False)
    code, _, stderr = _verify(bad)
    assert code == 5 and f"{flows['period'].iloc[-1]}:" in stderr, stderr


def test_a_result_whose_instance_moved_is_not_taken_as_verified(tmp_path: Path) -> None:
    inst = tmp_path / "inst"
    shutil.copytree(BASE, inst)
    out = tmp_path / "res"
    assert CliRunner().invoke(app, ["solve", str(inst / "instance.toml"), "--out", str(out), "-q"]).exit_code == 0
    shutil.move(inst, tmp_path / "moved")
    r = CliRunner().invoke(app, ["verify", str(out)])
    assert r.exit_code == 2 and "cannot find the instance" in r.stderr and "--instance" in r.stderr, r.output
    r = CliRunner().invoke(app, ["verify", str(out), "--instance", str(tmp_path / "moved" / "instance.toml")])
    assert r.exit_code == 0, r.output
    before = snapshot(tmp_path)
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 2 and "--allow-unverified" in r.stderr and changes(before, snapshot(tmp_path)) == []
    r = CliRunner().invoke(app, ["report", str(out), "--allow-unverified", "--quiet"])
    assert r.exit_code == 0 and "UNVERIFIED" in (out / "report.html").read_text(), r.output


@pytest.mark.parametrize("options", [["--set", "sparsify=on", "--set", "sparsify_k=2"], ["--crs", "EPSG:4326"]],
                         ids=["sparsified", "wgs84-layers"])
def test_sparsified_and_reprojected_results_verify(options: list[str], tmp_path: Path) -> None:
    """k-nearest arcs (each stored pair costed from the arc source) and GeoPackage layers in another CRS."""
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(out), "-q", *options])
    assert r.exit_code == 0, r.output
    assert _verify(out)[0] == 0


def test_a_coverage_model_result_holds_and_a_false_coverage_claim_is_found(tmp_path: Path) -> None:
    """A matrix instance solved by MCLP: its own objective (covered demand), coverage recomputed from the open set."""
    shutil.copytree(MATRIX, tmp_path / "m", ignore=shutil.ignore_patterns("*.py"))
    problem = tmp_path / "m" / "problem.toml"
    problem.write_text(problem.read_text().replace("single_source = true",
                                                   'single_source = true\nmodel = "mclp"\nservice = 30\np = 1'))
    out = tmp_path / "res"
    assert CliRunner().invoke(app, ["solve", str(tmp_path / "m"), "--out", str(out), "-q"]).exit_code == 0
    assert _verify(out)[0] == 0
    clients = pd.read_csv(out / "clients.csv")
    assert not clients["covered"].all()
    clients["covered"] = True  # every client claimed covered
    clients.to_csv(out / "clients.csv", index=False)
    code, _, stderr = _verify(out)
    assert code == 5 and "covered" in stderr, stderr
