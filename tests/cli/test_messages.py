"""Messages that point at the right place, quiet and JSON output, and the last bullets of issue 13, item 6.

In-process (click's ``CliRunner``, the real ``app`` and guard) except where a process must be interrupted (Ctrl-C
in a sweep). Solver banners are printed by the C++ library straight to file descriptor 1, which only a real process
shows: the real-process ``--json`` runs of a named instance (tests/check/test_reliability.py) and of a chain
(tests/cli/test_cli.py) check that nothing but JSON reaches stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORPUS, PROJECT_ROOT
from snapshot import changes, snapshot
from click.testing import CliRunner

from optimizer.cli import app

BASE = CORPUS / "base"
MATRIX = PROJECT_ROOT / "instances" / "matrix_example"


def _strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON: not strict JSON")

    return json.loads(text, parse_constant=refuse)


def _one_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


# --- --json parses, --quiet is quiet -----------------------------------------------------------------------------
def test_json_is_the_only_output_and_strict(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(tmp_path / "res"), "--json"])
    assert r.exit_code == 0 and r.stderr == "", r.output
    summary = _strict(r.stdout)
    assert summary["format"] == "circular-siting/result" and summary["out_dir"] == str(tmp_path / "res")
    _strict((tmp_path / "res" / "summary.json").read_text())  # the written manifest is strict JSON too


@pytest.mark.parametrize("target", ["matrix", "chain"])
def test_quiet_prints_nothing(target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Matrix solve, and a chain solve (stopped by its time limit: exit 0 with a solution or 4 without one — the
    solver runs either way)."""
    if target == "matrix":
        shutil.copytree(MATRIX, tmp_path / "m", ignore=shutil.ignore_patterns("*.py"))
        r = CliRunner().invoke(app, ["solve", str(tmp_path / "m"), "--out", str(tmp_path / "res"), "--quiet"])
        assert r.exit_code == 0 and r.stderr == "", r.output
    else:
        chain = request.getfixturevalue("tiny_chain_models")
        r = CliRunner().invoke(app, ["chain", str(chain), "--out", str(tmp_path / "res"), "--quiet", "--time-limit",
                                     "1"])
        assert r.exit_code in (0, 4), r.output
        assert r.exit_code == 0 or r.stderr.startswith("no solution:")
    assert r.stdout == ""


# --- messages that point at the right place ------------------------------------------------------------------------
def test_chain_on_a_location_instance_gives_the_reason(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["chain", "materialenbanken", "--out", str(tmp_path / "x")])
    line = _one_error(r.stderr)
    assert r.exit_code == 2 and "materialenbanken is not a plastics-chain instance (it places materialenbank)" in line
    assert "siting solve materialenbanken" in line and not (tmp_path / "x").exists()


def test_pareto_on_a_chain_instance_gives_the_reason(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["pareto", "s2b-plastics-chain", "--out", str(tmp_path / "x")])
    line = _one_error(r.stderr)
    assert r.exit_code == 2 and "the plastics chain has its own model" in line and "not with `siting solve`" not in line


def test_report_shows_the_time_limit_used(tmp_path: Path) -> None:
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(out), "--time-limit", "37", "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["report", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert "<code>time_limit_s</code></td><td>37.0</td>" in html  # not the manifest's 60
    assert "| `time_limit_s` | 37.0 |" in md


def test_show_cites_the_study_not_the_digest() -> None:
    r = CliRunner().invoke(app, ["show", "materialenbanken"])
    assert r.exit_code == 0, r.output
    source = next(ln for ln in r.stdout.splitlines() if ln.startswith("source:"))
    assert "lines L10020-10133" in source and "DIGEST" not in source and "§" not in source


def test_bench_without_data_says_where_the_data_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITING_BENCHMARKS_DIR", str(tmp_path / "none"))
    before = snapshot(tmp_path)
    r = CliRunner().invoke(app, ["bench", "ci", "--out", str(tmp_path / "bench")])
    line = _one_error(r.stderr)
    assert r.exit_code == 2 and f"no benchmark data in {tmp_path / 'none'}" in line
    assert "SITING_BENCHMARKS_DIR" in line and "benchmarks/README.md" in line
    assert changes(before, snapshot(tmp_path)) == []


def test_capacity_below_demand_is_infeasible_not_bad_input(tmp_path: Path) -> None:
    shutil.copytree(MATRIX, tmp_path / "m", ignore=shutil.ignore_patterns("*.py"))
    facilities = tmp_path / "m" / "facilities.csv"
    facilities.write_text(facilities.read_text().replace("north,60,100", "north,10,100").replace("south,,220",
                                                                                                  "south,5,220"))
    before = snapshot(tmp_path)
    r = CliRunner().invoke(app, ["solve", str(tmp_path / "m"), "--out", str(tmp_path / "res")])
    assert r.exit_code == 3, r.output
    assert r.stderr.startswith("infeasible:") and "total capacity of all facilities, 95, is below the total demand 135" \
        in r.stderr
    assert changes(before, snapshot(tmp_path)) == []


# --- TOML encodings, data roots, validate ---------------------------------------------------------------------------
def test_toml_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    shutil.copytree(BASE, tmp_path / "inst")
    manifest = tmp_path / "inst" / "instance.toml"
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    shutil.copytree(MATRIX, tmp_path / "m", ignore=shutil.ignore_patterns("*.py"))
    problem = tmp_path / "m" / "problem.toml"
    problem.write_bytes(b"\xef\xbb\xbf" + problem.read_bytes())
    for target in (manifest, tmp_path / "m"):
        r = CliRunner().invoke(app, ["validate", str(target)])
        assert r.exit_code == 0 and r.stdout.startswith("ok: "), r.output


def test_tables_in_a_declared_data_root_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path / "inst")
    (tmp_path / "gis").mkdir()
    shutil.move(tmp_path / "inst" / "candidates.csv", tmp_path / "gis" / "candidates.csv")
    manifest = tmp_path / "inst" / "instance.toml"
    text = manifest.read_text().replace('"candidates.csv"', '"../gis/candidates.csv"')
    manifest.write_text(text)
    r = CliRunner().invoke(app, ["validate", str(manifest)])
    assert r.exit_code == 2 and "leaves with '..'" in r.stderr  # not without the opt-in
    manifest.write_text(text.replace("[instance]\n", '[instance]\ndata_roots = ["../gis"]\n'))
    r = CliRunner().invoke(app, ["validate", str(manifest)])
    assert r.exit_code == 0, r.output
    manifest.write_text(text)
    monkeypatch.setenv("SITING_DATA_ROOTS", str(tmp_path / "gis"))
    r = CliRunner().invoke(app, ["validate", str(manifest)])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("target", ["materialenbanken", "manifest", "matrix-folder", "matrix-toml",
                                    "s2b-plastics-chain", "not-an-instance-folder", "missing"])
def test_validate_takes_anything_solve_takes(target: str, tmp_path: Path) -> None:
    shutil.copytree(MATRIX, tmp_path / "m", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("mine")
    arg = {"manifest": str(BASE / "instance.toml"), "matrix-folder": str(tmp_path / "m"),
           "matrix-toml": str(tmp_path / "m" / "problem.toml"), "not-an-instance-folder": str(tmp_path / "docs"),
           "missing": str(tmp_path / "nope.toml")}.get(target, target)
    r = CliRunner().invoke(app, ["validate", arg])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    if target in ("not-an-instance-folder", "missing"):
        assert r.exit_code == 2 and _one_error(r.stderr)
    else:
        assert r.exit_code == 0 and r.stdout.startswith("ok: "), r.output


# --- Ctrl-C in a sweep ----------------------------------------------------------------------------------------------
def test_ctrl_c_in_a_sweep_prints_no_worker_tracebacks(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the workers too. They ignore it; the sweep stops,
    keeps what finished and says so in one line."""
    (tmp_path / "s.toml").write_text(f'[sweep]\nname = "c"\ninstance = "{(BASE / "instance.toml").as_posix()}"\n'
                                     '[[grid]]\nvary = { land_cost_eur_per_m2 = [0, 1, 2, 3] }\n')
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "sweep", "s.toml", "--workers", "1", "--out",
                             str(out)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:  # the cluster runs: a first scenario is written
        if list((out / "scenarios").glob("*/summary.json")):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.lstrip().startswith("sweep")]
    assert len(lines) == 1 and lines[0].startswith("interrupted — "), stderr
