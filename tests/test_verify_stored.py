"""``siting verify``: a stored result re-checked independently; ``compare`` and ``report`` refuse one that fails.

Issue 13, item 3. Each tampering is one a planner could make by hand or a tool could cause: a municipality moved
to another arrondissement's bank, a facility deleted, the objective lowered, the GeoPackage and the CSV copies
drifting apart. Named results come from the small corpus instance; the matrix example and a time-limited S2b
chain cover the other two kinds. A tampered result is never written to by compare or report (snapshots).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from conftest import PROJECT_ROOT
from snapshot import changes, snapshot
from typer.testing import CliRunner

from optimizer.check.stored import verify_stored
from optimizer.cli import app

CORPUS = Path(__file__).parent / "corpus"
BASE = CORPUS / "base"
MATRIX = PROJECT_ROOT / "instances" / "matrix_example"


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("named") / "result"
    result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("matrix")
    shutil.copytree(MATRIX, root / "m", ignore=shutil.ignore_patterns("*.py"))
    result = CliRunner().invoke(app, ["solve", str(root / "m"), "--out", str(root / "result"), "--quiet"])
    assert result.exit_code == 0, result.output
    return root / "result"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """S2b stopped at a time limit (a feasible, verified chain), from the real process: ``--json`` prints only
    JSON on stdout (no solver banner), strict JSON."""
    out = tmp_path_factory.mktemp("chain") / "result"
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "chain", "s2b-plastics-chain", "--out", str(out),
                           "--time-limit", "15", "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout, parse_constant=_no_constant)
    assert summary["format"] == "circular-siting/result" and summary["kind"] == "chain"
    return out


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} in JSON output: not strict JSON")


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


@pytest.mark.parametrize("command", ["compare", "report"])
def test_compare_and_report_refuse_a_tampered_result(command: str, named: Path, tmp_path: Path) -> None:
    good = _copy(named, tmp_path, "good")
    bad = _copy(named, tmp_path, "bad")
    reassign_across_regions(bad)
    before = snapshot(tmp_path)
    args = ["compare", str(good), str(bad), "--markdown", str(tmp_path / "diff.md")] if command == "compare" else \
        ["report", str(bad)]
    r = CliRunner().invoke(app, args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 5 and len(lines) == 1, r.output
    assert f"{command} refused: {bad} fails the independent check" in lines[0] and "--allow-unverified" in lines[0]
    assert changes(before, snapshot(tmp_path)) == []  # no report, no comparison written


def test_report_allow_unverified_marks_every_page(named: Path, tmp_path: Path) -> None:
    bad = _copy(named, tmp_path, "bad")
    lower_the_objective(bad)
    r = CliRunner().invoke(app, ["report", str(bad), "--allow-unverified", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "marked UNVERIFIED" in r.stderr
    html = (bad / "report.html").read_text()
    md = (bad / "report.md").read_text()
    assert html.count("UNVERIFIED") >= 3  # banner, 'verified independently: NO', footer
    assert md.startswith("> **UNVERIFIED") and md.rstrip().endswith("(siting verify).*")


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


def test_chain_result_holds_and_a_tampering_is_found(chain: Path, tmp_path: Path) -> None:
    code, stdout, stderr = _verify(chain)
    assert code == 0 and "chain instance" in stdout, stderr
    bad = _copy(chain, tmp_path)
    flows = pd.read_csv(bad / "flows.csv")
    flows.loc[0, "tonnes"] = flows.loc[0, "tonnes"] * 0.5  # half a municipality's PMD disappears
    flows.to_csv(bad / "flows.csv", index=False)
    code, _, stderr = _verify(bad)
    assert code == 5 and "its supply is" in stderr, stderr


@pytest.mark.parametrize("command", ["map", "report", "compare"])
def test_chain_results_in_map_report_compare_are_refused_clearly(command: str, chain: Path, tmp_path: Path) -> None:
    before = snapshot(chain)
    args = [command, str(chain)] + ([str(chain)] if command == "compare" else [])
    r = CliRunner().invoke(app, args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "plastics-chain result" in lines[0], r.output
    assert changes(before, snapshot(chain)) == []


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
