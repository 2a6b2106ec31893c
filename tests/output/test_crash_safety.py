"""Crash-safe outputs: SIGKILL in the middle of writing leaves the previous result or nothing, never a corrupt one.

(Replacing a result keeps the previous one as ``NAME.previous``, issue 13; ``tests/test_outputs.py`` tests that
policy, this file what a kill at any moment leaves.)

A child process runs the real pipeline with ``pyogrio.write_dataframe`` wrapped to sleep after each layer (and,
for the swap test, ``os.replace`` wrapped to sleep after the first rename), announces each step on stdout, and is
killed with SIGKILL at a chosen step. The target folder must then hold the previous, complete result (every
GeoPackage layer readable, the same summary) or not exist; and the next run must succeed despite the stale
``.NAME.tmp-*`` / ``.NAME.old-*`` folders the kill left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, PROJECT_ROOT

INSTANCE = CORPUS / "base" / "instance.toml"
EXPECTED_LAYERS = {"facilities", "allocations", "demand", "candidates"}

SLOW_WRITER = r"""
import os, sys, time
from pathlib import Path
import pyogrio

pause = float(os.environ.get("SLOW_WRITE_S", "0"))
original_write = pyogrio.write_dataframe

def slow_write(*args, **kwargs):
    original_write(*args, **kwargs)
    print("LAYER", kwargs.get("layer"), flush=True)
    time.sleep(pause)

pyogrio.write_dataframe = slow_write
if os.environ.get("SLOW_SWAP"):
    original_replace = os.replace

    def slow_replace(src, dst):
        original_replace(src, dst)
        print("REPLACED", Path(dst).name, flush=True)
        time.sleep(float(os.environ["SLOW_SWAP"]))

    os.replace = slow_replace

from optimizer.pipeline import run

run(sys.argv[1], out_dir=Path(sys.argv[2]), overrides={"time_limit_s": "60"})
print("DONE", flush=True)
"""


def _start(out: Path, *, pause: float, swap: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "SLOW_WRITE_S": str(pause)}
    if swap:
        env["SLOW_SWAP"] = str(swap)
    return subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(INSTANCE), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=env)


def _kill_at(proc: subprocess.Popen, marker: str) -> list[str]:
    """Read the child's stdout until ``marker`` appears, then SIGKILL it (mid-write)."""
    seen = []
    for line in proc.stdout:  # type: ignore[union-attr]
        seen.append(line.strip())
        if line.startswith(marker):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (seen, proc.stderr.read() if proc.stderr else "")
    return seen


def _check_complete(out: Path) -> dict:
    """The folder holds a complete, readable result: every layer opens and has rows; summary parses."""
    import pyogrio

    gpkg = out / "result.gpkg"
    layers = {str(name) for name in pyogrio.list_layers(gpkg)[:, 0]}
    assert EXPECTED_LAYERS <= layers, layers
    for layer in layers:
        frame = pyogrio.read_dataframe(gpkg, layer=layer)
        assert len(frame) > 0, layer
    for name in ("facilities.csv", "allocations.csv"):
        assert (out / name).stat().st_size > 0
    return json.loads((out / "summary.json").read_text())


def _run_here(out: Path) -> None:
    """The same run as the child's, in this process (a run that is not killed needs no process of its own)."""
    from optimizer.pipeline import run

    run(INSTANCE, out_dir=out, overrides={"time_limit_s": "60"})


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("crash") / "result"
    _run_here(out)
    return out, _check_complete(out)


def test_kill_mid_write_keeps_previous_result(previous: tuple[Path, dict]) -> None:
    out, summary = previous
    before = (out / "summary.json").read_bytes()
    proc = _start(out, pause=60.0)
    seen = _kill_at(proc, "LAYER facilities")  # the first layer is in the temporary GeoPackage, the rest not yet
    assert seen[-1] == "LAYER facilities"
    assert (out / "summary.json").read_bytes() == before
    assert _check_complete(out)["objective"] == summary["objective"]
    stale = list(out.parent.glob(f".{out.name}.tmp-*"))
    assert stale, "the kill should have left the half-written temporary folder behind"


def test_kill_mid_write_without_previous_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    proc = _start(out, pause=60.0)
    _kill_at(proc, "LAYER facilities")
    assert not out.exists()


def test_kill_during_swap_leaves_previous_or_nothing(previous: tuple[Path, dict]) -> None:
    """Killed between moving the old result aside and moving the new one in: the target is absent or complete,
    never corrupt, and the previous result is intact in ``result.previous`` (where a replaced result is kept)."""
    out, summary = previous
    before = (out / "summary.json").read_bytes()
    proc = _start(out, pause=0.0, swap=60.0)
    seen = _kill_at(proc, "REPLACED result.previous")  # the current result has just moved aside
    assert "REPLACED result.previous" in seen, seen
    if out.exists():
        _check_complete(out)
    kept = out.with_name("result.previous")
    assert (kept / "summary.json").read_bytes() == before
    assert _check_complete(kept)["objective"] == summary["objective"]


def test_next_run_after_kills_succeeds(previous: tuple[Path, dict], tmp_path: Path) -> None:
    """Stale .tmp-/.old- folders from killed runs do not break the next run."""
    out, summary = previous
    parent = out.parent
    (parent / f".{out.name}.tmp-stale").mkdir(exist_ok=True)
    (parent / f".{out.name}.tmp-stale" / "result.gpkg").write_bytes(b"half a geopackage")
    _run_here(out)
    assert _check_complete(out)["objective"] == summary["objective"]


def test_stale_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    """A SIGKILLed run's ``.NAME.tmp-PID-*`` / ``.NAME.old-PID`` folders go; a live run's and foreign ones stay."""
    from optimizer.atomic import atomic_directory

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "result"
    stale = [tmp_path / f".result.tmp-{dead.pid}-abc", tmp_path / f".result.old-{dead.pid}"]
    live = tmp_path / f".result.tmp-{os.getppid()}-xyz"  # the parent of this process is alive
    foreign = tmp_path / ".other.tmp-1-abc"
    for folder in [*stale, live, foreign]:
        folder.mkdir()
    with atomic_directory(target) as tmp:
        (tmp / "summary.json").write_text("{}")
    assert (target / "summary.json").is_file()
    assert not any(p.exists() for p in stale)
    assert live.exists() and foreign.exists()
