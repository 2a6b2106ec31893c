"""Outputs never delete what siting did not write (issue 13, items 1 and 2).

The corpus below sets up a scene in a temporary folder (a checkout with ``.git`` and ``.venv``, a planner's
folder of documents, a home folder, links, earlier results), runs one command in-process (click's
``CliRunner``, the real ``app`` and guard) and requires: exit code 2, one line ``error: PATH::FIELD: ...`` saying
what is there and what to do, no traceback, and the whole scene byte for byte as it was (a snapshot of every
path, size, mtime and hash before and after: nothing written, nothing deleted). A few cases also run as real
processes. The tests after the corpus check what *is* allowed: replacing an earlier result keeps it as
``NAME.previous``, results get ordinary permissions, maps and reports go into any folder without replacing a
file siting did not write, and a write that still fails leaves the previous result intact.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CORPUS, PROJECT_ROOT
from snapshot import changes, snapshot
from click.testing import CliRunner

from optimizer.cli import app

BASE = CORPUS / "base"
MATRIX = PROJECT_ROOT / "instances" / "matrix_example"
MARKER = {"format": "circular-siting/result", "format_version": 1, "kind": "named", "instance": "x",
          "instance_hash": "0" * 64, "status": "optimal"}


@pytest.fixture(scope="module")
def solved(corpus_result: Path) -> Path:
    """A real result of the small corpus instance, solved once; cases copy it."""
    return corpus_result


# ---------------------------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------------------------
def checkout(root: Path) -> Path:
    """A project checkout: what `siting solve ... --out .` once deleted."""
    repo = root / "checkout"
    (repo / ".git" / "refs").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    (repo / "README.md").write_text("# my project\n")
    shutil.copytree(MATRIX, repo / "m", ignore=shutil.ignore_patterns("*.py"))
    shutil.copytree(BASE, repo / "inst")
    return repo


def documents(root: Path, name: str = "docs") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "report.docx").write_bytes(b"my report")
    (folder / "map.png").write_bytes(b"my own map")
    (folder / "notes").mkdir()
    (folder / "notes" / "a.txt").write_text("notes")
    return folder


def fake_result(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(MARKER))
    (folder / "facilities.csv").write_text("facility_id\n")
    return folder


@dataclass
class OutCase:
    """A scene, the command run in it (``{tmp}`` is the scene's root), and what the error line must say."""

    id: str
    scene: Callable[[Path, Path], None]  # (root, solved result) -> None
    args: list[str]
    text: str
    field: str = "--out"
    cwd: str = "."
    code: int = 2
    env: dict[str, str] | None = None


def _matrix(root: Path, _: Path) -> None:
    shutil.copytree(MATRIX, root / "m", ignore=shutil.ignore_patterns("*.py"))


def _checkout(root: Path, _: Path) -> None:
    checkout(root)


def _docs(root: Path, solved: Path) -> None:
    _matrix(root, solved)
    documents(root)


def _with(*parts: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def go(root: Path, solved: Path) -> None:
        for part in parts:
            part(root, solved)

    return go


def _file(root: Path, _: Path) -> None:
    (root / "notes.txt").write_text("my notes")


def _link(target: str, name: str = "link") -> Callable[[Path, Path], None]:
    return lambda root, _: (root / name).symlink_to(root / target)


def _copy_result(name: str = "res") -> Callable[[Path, Path], None]:
    return lambda root, solved: shutil.copytree(solved, root / name, symlinks=True)


def _fake_result(name: str) -> Callable[[Path, Path], None]:
    return lambda root, _: fake_result(root / name)


def _home(root: Path, _: Path) -> None:
    documents(root, "home")


def _sweep_folder(root: Path, _: Path) -> None:
    (root / "sweep").mkdir()
    (root / "sweep" / "sweep.json").write_text(json.dumps({"format": "circular-siting/sweep", "format_version": 1}))


def _sweep_file(root: Path, _: Path) -> None:
    (root / "s.toml").write_text(f'[sweep]\nname = "s"\ninstance = "{(BASE / "instance.toml").as_posix()}"\n'
                                 '[[scenario]]\nname = "a"\n')


def _boundaries(kind: str) -> Callable[[Path, Path], None]:
    def go(root: Path, solved: Path) -> None:
        import geopandas as gpd
        import shapely

        _copy_result()(root, solved)
        box = shapely.box(30_000, 190_000, 60_000, 220_000)
        if kind == "csv":
            (root / "bnd.csv").write_text("name,x,y\nOostende,50000,210000\n")
            return
        gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box], crs="EPSG:31370")
        if kind == "no-crs":
            with warnings.catch_warnings():  # "no projection information": exactly the file under test
                warnings.simplefilter("ignore", UserWarning)
                gdf.set_crs(None, allow_override=True).to_file(root / "bnd.shp")
        elif kind == "swapped":  # latitude where the longitude belongs
            wgs = gdf.to_crs("EPSG:4326")
            swapped = shapely.transform(wgs.geometry.iloc[0], lambda xy: xy[:, ::-1])
            gpd.GeoDataFrame({"name": ["a"]}, geometry=[swapped], crs="EPSG:4326").to_file(root / "bnd.gpkg")

    return go


def _bnd_suffix(kind: str) -> str:
    return {"csv": "bnd.csv", "no-crs": "bnd.shp", "swapped": "bnd.gpkg"}[kind]


def _tampered(root: Path, solved: Path) -> None:
    _copy_result()(root, solved)
    summary = json.loads((root / "res" / "summary.json").read_text())
    summary["objective"]["total"] *= 0.9
    (root / "res" / "summary.json").write_text(json.dumps(summary))


LOCATE = ["locate", "--demand", "d.gpkg", "--weight", "w", "--candidates", "c.gpkg", "--free-area", "f",
          "--programme", "materialenbank"]
INST = str(BASE / "instance.toml")

CASES = [
    # --- --out onto what siting did not write: refused before any work ---
    OutCase("out-dot-in-checkout", _checkout, ["solve", "m", "--out", "."], "is the current folder", cwd="checkout"),
    OutCase("out-dot-named-instance", _checkout, ["solve", "inst/instance.toml", "--out", "."], "is the current folder",
            cwd="checkout"),
    OutCase("out-parent-of-cwd", _checkout, ["solve", "../m", "--out", ".."], "holds the current folder",
            cwd="checkout/inst"),
    OutCase("out-user-folder", _docs, ["solve", "m", "--out", "docs"], "files siting did not write"),
    OutCase("out-user-folder-named", _docs, ["solve", INST, "--out", "docs"], "'map.png'"),
    OutCase("out-file", _with(_matrix, _file), ["solve", "m", "--out", "notes.txt"], "is a file"),
    OutCase("out-below-a-file", _with(_matrix, _file), ["solve", "m", "--out", "notes.txt/sub"],
            "is a file, so no folder can be created below it"),
    OutCase("out-symlink-to-result", _with(_matrix, _copy_result(), _link("res")), ["solve", "m", "--out", "link"],
            "is a symbolic link"),
    OutCase("out-symlink-to-user-folder", _with(_docs, _link("docs")), ["solve", "m", "--out", "link"],
            "never writes through a link"),
    OutCase("out-dangling-symlink", _with(_matrix, _link("nowhere")), ["solve", "m", "--out", "link"],
            "symbolic link"),
    OutCase("out-instance-folder", _checkout, ["solve", "inst/instance.toml", "--out", "inst"],
            "an input of this run", cwd="checkout"),
    OutCase("out-matrix-instance-folder", _matrix, ["solve", "m", "--out", "m"], "is an input of this run"),
    OutCase("out-parent-of-instance", _checkout, ["solve", "checkout/inst/instance.toml", "--out", "checkout"],
            "holds an input of this run"),
    OutCase("out-home", _with(_matrix, _home), ["solve", "m", "--out", "home"], "your home folder",
            env={"HOME": "{tmp}/home"}),
    OutCase("out-shipped-instances", _matrix, ["solve", "m", "--out", str(PROJECT_ROOT / "instances")],
            "shipped instances"),
    OutCase("out-previous-slot-taken", _with(_matrix, _fake_result("res"), lambda r, _: documents(r, "res.previous")),
            ["solve", "m", "--out", "res"], "res.previous exists and was not written by siting"),
    OutCase("out-sweep-folder", _with(_matrix, _sweep_folder), ["solve", "m", "--out", "sweep"],
            "a siting sweep folder"),
    OutCase("out-full-disk", _matrix, ["solve", "m", "--out", "new"], "MB free on the disk"),
    OutCase("solve-a-result-folder", _fake_result("res"), ["solve", "res"], "is a siting result folder, not an instance",
            field=""),
    # --- every writer checks its destination ---
    OutCase("chain-out-user-folder", _docs, ["chain", "s2b-plastics-chain", "--out", "docs"],
            "files siting did not write"),
    OutCase("chain-solve-out-user-folder", _docs, ["solve", "s2b-plastics-chain", "--out", "docs"],
            "files siting did not write"),
    OutCase("periods-out-user-folder", _docs, ["solve", "s6b-temp-reserve-periods", "--out", "docs"],
            "files siting did not write"),
    OutCase("chain-periods-out-dot", _checkout, ["chain", "s2e-p2c-rampup", "--out", "."], "is the current folder",
            cwd="checkout"),
    OutCase("locate-out-user-folder", _docs, [*LOCATE, "--out", "docs"], "files siting did not write"),
    OutCase("locate-out-dot", _checkout, [*LOCATE, "--out", "."], "is the current folder", cwd="checkout"),
    OutCase("pareto-out-user-folder", _docs, ["pareto", INST, "--out", "docs"], "files siting did not write"),
    OutCase("pareto-out-result-folder", _copy_result(), ["pareto", INST, "--out", "res"],
            "a siting result folder, which a pareto does not replace"),
    OutCase("sweep-out-user-folder", _with(_docs, _sweep_file), ["sweep", "s.toml", "--workers", "0", "--out", "docs"],
            "files siting did not write"),
    OutCase("sensitivity-out-user-folder", _docs, ["sensitivity", INST, "--out", "docs"], "files siting did not write"),
    OutCase("sensitivity-out-dot", _checkout, ["sensitivity", "inst/instance.toml", "--out", "."],
            "is the current folder", cwd="checkout"),
    OutCase("sweep-out-result-folder", _with(_copy_result(), _sweep_file),
            ["sweep", "s.toml", "--workers", "0", "--out", "res"], "a siting result folder"),
    OutCase("map-out-file", _with(_copy_result(), _file), ["map", "res", "--out", "notes.txt"], "is a file"),
    OutCase("map-out-foreign-map", _with(_copy_result(), lambda r, s: documents(r)), ["map", "res", "--out", "docs"],
            "map.png exists and was not written by siting"),
    OutCase("map-out-symlink", _with(_copy_result(), lambda r, s: documents(r), _link("docs")),
            ["map", "res", "--out", "link"], "symbolic link"),
    OutCase("report-out-file", _with(_copy_result(), _file), ["report", "res", "--out", "notes.txt"], "is a file"),
    OutCase("report-out-foreign-map", _with(_copy_result(), lambda r, s: documents(r)),
            ["report", "res", "--out", "docs"], "map.png exists and was not written by siting"),
    OutCase("compare-markdown-user-file", _with(_copy_result("a"), _copy_result("b"), _file),
            ["compare", "a", "b", "--markdown", "notes.txt"], "not written by siting compare", field="--markdown"),
    OutCase("compare-markdown-folder", _with(_copy_result("a"), _copy_result("b"), lambda r, s: documents(r)),
            ["compare", "a", "b", "--markdown", "docs"], "is a folder", field="--markdown"),
    # --- map and report: boundaries that cannot be drawn ---
    OutCase("boundaries-no-crs", _boundaries("no-crs"), ["map", "res", "--boundaries", "bnd.shp"], "has no CRS",
            field="--boundaries"),
    OutCase("boundaries-csv", _boundaries("csv"), ["map", "res", "--boundaries", "bnd.csv"],
            "a table is not a boundary layer", field="--boundaries"),
    OutCase("boundaries-swapped-axes", _boundaries("swapped"), ["report", "res", "--boundaries", "bnd.gpkg"],
            "axis order", field="--boundaries"),
    OutCase("boundaries-missing", _copy_result(), ["map", "res", "--boundaries", "nope.gpkg"], "not found",
            field="--boundaries"),
    # --- results that cannot be read as such ---
    OutCase("verify-a-user-folder", lambda r, s: documents(r), ["verify", "docs"], "is not a siting result", field=""),
    OutCase("report-a-matrix-result", _with(_matrix, lambda r, s: _run(["solve", "m", "--out", "mres", "-q"], r)),
            ["report", "mres"], "needs coordinates, and a matrix instance has none", field=""),
]


def _run(args: list[str], cwd: Path) -> None:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output


def _check_refusal(case: OutCase, code: int, stderr: str, root: Path, before: dict) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code == case.code, f"exit {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: "), line
    location, _, message = line.removeprefix("error: ").partition(": ")
    assert location.rsplit(":", 2)[2] == case.field, line
    assert case.text in message, line
    assert changes(before, snapshot(root)) == [], "something was written or deleted"
    assert not [p for p in root.rglob(".*.tmp-*")], "a temporary folder was left behind"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_refused_output(case: OutCase, solved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "scene"
    root.mkdir()
    case.scene(root, solved)
    for key, value in (case.env or {}).items():
        monkeypatch.setenv(key, value.replace("{tmp}", str(root)))
    if case.id == "out-full-disk":
        monkeypatch.setattr("optimizer.atomic._free_bytes", lambda _: 3 * 2**20)
    monkeypatch.chdir(root / case.cwd)
    before = snapshot(root)
    result = CliRunner().invoke(app, case.args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        pytest.fail("uncaught exception:\n" + "".join(traceback.format_exception(result.exception)))
    _check_refusal(case, result.exit_code, result.stderr, root, before)


def test_output_corpus_is_large_enough() -> None:
    assert len(CASES) >= 35 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case_id", ["out-dot-in-checkout"])  # the run that once deleted a checkout
def test_refused_output_in_a_real_process(case_id: str, solved: Path, tmp_path: Path) -> None:
    """The same refusals from the real ``python -m optimizer.cli`` (real stderr, real exit code)."""
    case = next(c for c in CASES if c.id == case_id)
    root = tmp_path / "scene"
    root.mkdir()
    case.scene(root, solved)
    before = snapshot(root)
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", *case.args], capture_output=True, text=True,
                          cwd=root / case.cwd, timeout=300, check=False)
    _check_refusal(case, proc.returncode, proc.stderr, root, before)


# ---------------------------------------------------------------------------------------------------------------
# What is allowed: replacing siting's own results, recoverably; ordinary permissions; files added to any folder
# ---------------------------------------------------------------------------------------------------------------
def _solve_matrix(root: Path, out: str, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["solve", str(root / "m"), "--out", str(root / out), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_replacing_a_result_keeps_the_previous_one(tmp_path: Path) -> None:
    _matrix(tmp_path, tmp_path)
    first = _solve_matrix(tmp_path, "res")
    second = _solve_matrix(tmp_path, "res", "--mip-gap", "0.5")
    kept = json.loads((tmp_path / "res.previous" / "summary.json").read_text())
    assert kept["solve_options"]["mip_gap"] == first["solve_options"]["mip_gap"] != second["solve_options"]["mip_gap"]
    third = _solve_matrix(tmp_path, "res", "--mip-gap", "0.25")
    kept = json.loads((tmp_path / "res.previous" / "summary.json").read_text())
    assert kept["solve_options"]["mip_gap"] == 0.5 and third["solve_options"]["mip_gap"] == 0.25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "res", "res.previous"]  # one previous run, no debris


def test_an_empty_folder_is_used_without_a_previous(tmp_path: Path) -> None:
    _matrix(tmp_path, tmp_path)
    (tmp_path / "res").mkdir()
    _solve_matrix(tmp_path, "res")
    assert (tmp_path / "res" / "summary.json").is_file() and not (tmp_path / "res.previous").exists()


def test_result_folders_get_ordinary_permissions(tmp_path: Path) -> None:
    _matrix(tmp_path, tmp_path)
    old = os.umask(0o022)
    try:
        _solve_matrix(tmp_path, "res")
        _solve_matrix(tmp_path, "res")
    finally:
        os.umask(old)
    assert (tmp_path / "res").stat().st_mode & 0o777 == 0o755
    for f in (tmp_path / "res").iterdir():
        assert f.stat().st_mode & 0o777 == 0o644, f
    old = os.umask(0o077)  # a private umask is respected too
    try:
        _solve_matrix(tmp_path, "private")
    finally:
        os.umask(old)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700


def test_solve_dot_in_an_instance_folder_keeps_earlier_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd my_instance && siting solve .` used to replace results/ with every earlier run in it."""
    _matrix(tmp_path, tmp_path)
    earlier = fake_result(tmp_path / "m" / "results" / "earlier")
    monkeypatch.chdir(tmp_path / "m")
    result = CliRunner().invoke(app, ["solve", ".", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "results" / "m" / "summary.json").is_file()  # named after the folder
    assert (earlier / "summary.json").read_text() == json.dumps(MARKER)


def test_a_legacy_result_without_marker_is_replaced_and_kept(tmp_path: Path) -> None:
    """A result written before the marker (summary.json with instance_hash and status) counts as siting's."""
    _matrix(tmp_path, tmp_path)
    legacy = tmp_path / "res"
    legacy.mkdir()
    (legacy / "summary.json").write_text(json.dumps({"instance": "x", "instance_hash": "abc", "status": "optimal"}))
    _solve_matrix(tmp_path, "res")
    assert json.loads((tmp_path / "res.previous" / "summary.json").read_text())["instance_hash"] == "abc"


def test_maps_go_into_a_users_folder_without_replacing_their_files(solved: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "report.docx").write_bytes(b"mine")
    for _ in range(2):  # the second run replaces the map siting wrote, listed in .siting-output.json
        result = CliRunner().invoke(app, ["map", str(solved), "--out", str(docs), "--no-html", "--quiet"])
        assert result.exit_code == 0, result.output
    assert (docs / "report.docx").read_bytes() == b"mine"
    assert json.loads((docs / ".siting-output.json").read_text())["files"] == ["map.png"]
    assert (docs / "map.png").read_bytes().startswith(b"\x89PNG")


def test_a_failed_write_leaves_the_previous_result_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the GeoPackage is written: one line, exit 2, the previous result untouched."""
    import pyogrio

    out = tmp_path / "res"
    result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    before = snapshot(tmp_path)

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pyogrio, "write_dataframe", full)
    result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(out), "--quiet"])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "cannot write the output (No space left on device)" in lines[0] and "previous one is unchanged" in lines[0]
    assert changes(before, snapshot(tmp_path)) == []


def _mount_tmpfs(path: Path, size: str, *, readonly: bool = False) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True,
                          check=False).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)


@pytest.fixture()
def read_only(tmp_path: Path):  # noqa: ANN201 - yields the folder
    """A folder nobody may write in: a read-only tmpfs as root, a 0555 folder otherwise."""
    folder = tmp_path / "ro"
    if _mount_tmpfs(folder, "1m", readonly=True):
        yield folder
        _umount(folder)
    elif os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:
        pytest.skip("running as root without mount: no way to make a folder read-only")


def test_read_only_destination_is_refused_before_solving(read_only: Path, tmp_path: Path) -> None:
    _matrix(tmp_path, tmp_path)
    before = snapshot(tmp_path / "m")
    result = CliRunner().invoke(app, ["solve", str(tmp_path / "m"), "--out", str(read_only / "res")])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "cannot write in" in lines[0] and ("read-only" in lines[0] or "permission denied" in lines[0])
    assert not list(read_only.iterdir()) and changes(before, snapshot(tmp_path / "m")) == []


def test_a_full_disk_is_found_before_solving_and_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real small file system (tmpfs, as root): the free-space check refuses it before the solve; with the check
    lowered, the real ENOSPC while writing is one line and the previous result stays intact."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "800k"):
        pytest.skip("needs root and mount for a real small file system")
    try:
        result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(disk / "res")])
        assert result.exit_code == 2 and "MB free on the disk" in result.stderr, result.output
        monkeypatch.setattr("optimizer.atomic.MIN_FREE_BYTES", 0)
        result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(disk / "res"), "-q"])
        assert result.exit_code == 0, result.output  # ~0.5 MB fits
        before = snapshot(disk)
        monkeypatch.setattr("optimizer.atomic._tree_bytes", lambda _: 0)  # pretend the result needs nothing
        result = CliRunner().invoke(app, ["solve", str(BASE / "instance.toml"), "--out", str(disk / "res"), "-q"])
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert "cannot write the output" in lines[0], lines[0]
        assert changes(before, snapshot(disk)) == []
    finally:
        _umount(disk)
