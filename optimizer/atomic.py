"""Crash-safe writing, and the rule for what siting may replace: only what it wrote itself.

A file or a folder is written under a temporary sibling name, then moved into place, so a run killed at any
moment leaves the previous version or nothing at the target path, never half a file: :func:`write_atomic` (files)
and :func:`atomic_directory` (result folders) are the engine's only writers.

What may be replaced (issue 13) is decided here, before any work (:func:`check_destination`, called by every
command before it solves) and again just before the swap:

* a **result folder** is recognised by its marker, a ``summary.json`` carrying ``"format":
  "circular-siting/result"`` and an integer ``"format_version"`` (:func:`folder_marker`; results written before the
  marker existed are recognised by a ``summary.json`` holding ``instance_hash`` and ``status``). Pareto fronts
  (``circular-siting/pareto``) and sweep folders (``sweep.json``, ``circular-siting/sweep``) carry their own;
  folders that only receive maps, reports or benchmark tables carry ``.siting-output.json``, listing the files
  siting wrote there.
* replacing a result keeps the previous one: ``NAME/`` moves to ``NAME.previous/`` (one previous run is kept; the
  older ``NAME.previous/`` is removed only when it carries a marker itself). Nothing else is ever removed.
* refused with :class:`~optimizer.errors.InputError` (exit 2, one line, nothing touched): a symbolic link (never
  followed to replace its target), a file, a folder holding anything siting did not write, the current folder,
  the home folder and any folder holding them, a folder holding an input of the run (the instance, its tables,
  ``models/``), a destination that cannot be written (permissions, read-only) or lacks the free space a result
  needs.
* folders and files are created with ordinary permissions (``0777`` / ``0666`` less the umask), like any other
  program's output, so colleagues can read a result on a shared drive.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer.errors import InputError

RESULT_MARKER = "summary.json"  # every result folder siting writes holds one
RESULT_FORMAT = "circular-siting/result"
RESULT_FORMAT_VERSION = 1
PARETO_FORMAT = "circular-siting/pareto"
SWEEP_MARKER, SWEEP_FORMAT = "sweep.json", "circular-siting/sweep"
OUTPUT_MARKER, OUTPUT_FORMAT = ".siting-output.json", "circular-siting/output"
PREVIOUS_SUFFIX = ".previous"
# Free space a result needs at least (GeoPackage with the networks layer and QGIS styles, CSVs, summary): the
# materialenbanken result weighs 1.3 MB, fine-10k-3k's 6 MB; the previous result's size counts when it is larger.
MIN_FREE_BYTES = 16 * 2**20
MAX_MARKER_BYTES = 64 * 2**20

# what each kind of writer may write over (see folder_marker for the kinds)
REPLACES = {"result": {"result"}, "pareto": {"pareto"}, "sweep": {"sweep"}}


def result_marker() -> dict[str, object]:
    """The two keys that make a ``summary.json`` the marker of a siting result folder."""
    return {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION}


# ---------------------------------------------------------------------------------------------------------------
# Recognising siting's own folders
# ---------------------------------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict | None:
    """A small JSON object from a regular file (never a link, a FIFO or a device), or ``None``."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MARKER_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def folder_marker(folder: Path) -> str | None:
    """What siting wrote ``folder`` as: ``"result"``, ``"pareto"``, ``"sweep"`` or ``"output"``; ``None`` when the
    folder carries no marker (it is not siting's, or it is not a folder)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return None
    summary = _read_json(folder / RESULT_MARKER)
    if summary is not None:
        fmt = summary.get("format")
        if isinstance(fmt, str) and isinstance(summary.get("format_version"), int):
            return {RESULT_FORMAT: "result", PARETO_FORMAT: "pareto"}.get(fmt)
        if "format" not in summary and "instance_hash" in summary and "status" in summary:
            return "result"  # written before the marker existed (siting < 0.2): accepted as a result
    sweep = _read_json(folder / SWEEP_MARKER)
    if sweep is not None and (sweep.get("format") == SWEEP_FORMAT or {"sweep", "file_sha256"} <= set(sweep)):
        return "sweep"
    output = _read_json(folder / OUTPUT_MARKER)
    if output is not None and output.get("format") == OUTPUT_FORMAT:
        return "output"
    if _legacy_pareto(folder):
        return "pareto"
    return None


def _legacy_pareto(folder: Path) -> bool:
    """A front written before pareto folders had a summary.json: exactly pareto.csv (its header) and pareto.png."""
    try:
        names = {p.name for p in folder.iterdir()}
        if names != {"pareto.csv", "pareto.png"}:
            return False
        with (folder / "pareto.csv").open(encoding="utf-8") as fh:
            return fh.readline().startswith("point,")
    except (OSError, UnicodeDecodeError):
        return False


def is_result_folder(folder: Path) -> bool:
    """Whether ``folder`` is a result folder siting wrote (named, matrix, chain or located instance)."""
    return folder_marker(folder) == "result"


# ---------------------------------------------------------------------------------------------------------------
# Checking a destination before any work
# ---------------------------------------------------------------------------------------------------------------
def _listing(folder: Path, limit: int = 3) -> str:
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError:
        return "its content cannot be listed"
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"{len(names)} item(s): {shown}" + (", ..." if len(names) > limit else "")


def _protected(inputs: Iterable[Path]) -> list[tuple[Path, str]]:
    """Folders an output may never be, nor hold: the current folder, home, and the run's inputs."""
    project = Path(__file__).resolve().parents[1]  # settings.PROJECT_ROOT (a sibling module atomic may not import)
    out = [(Path.cwd().resolve(), "the current folder"), (Path.home().resolve(), "your home folder"),
           (project / "models", "the programme and assumption files (models/)"),
           (project / "instances", "the shipped instances (instances/)")]
    for path in inputs:
        out.append((Path(path).resolve(), f"an input of this run ({path})"))
    return out


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor)


def check_destination(out: Path, inputs: Iterable[Path] = (), *, kind: str = "result",
                      need_bytes: int | None = None, names: Iterable[str] = ()) -> Path:
    """Refuse a destination siting may not write, before any work; return its absolute path.

    Parameters
    ----------
    out
        The ``--out`` path as given (a symbolic link is refused, never followed).
    inputs
        Files and folders the run reads (the instance manifest, layers): the destination may not be one of them
        nor hold one.
    kind
        What will be written: ``"result"`` (a folder replaced as a whole, the previous one kept as
        ``NAME.previous``), ``"pareto"``, ``"sweep"`` (a folder written into and resumed) or ``"files"`` (maps,
        reports, benchmark tables added to any folder: only the files ``names`` are checked, and refused when they
        exist and siting did not write them).
    need_bytes
        Free space the output needs (default: :data:`MIN_FREE_BYTES`, or more when the previous result was larger;
        ``0``: no space check, e.g. just before the swap, when the output is already written).

    Raises
    ------
    InputError
        Exit 2, one line naming the path, what is there and what to do.
    """
    given = Path(out)
    where = dict(file=given, field="--out")
    if given.is_symlink():
        target = os.readlink(given)
        raise InputError(f"is a symbolic link (to {target}); siting never writes through a link, which would replace "
                         "what it points to: give a real folder path or a new name", **where)
    path = Path(os.path.abspath(given))
    resolved = path.resolve()
    if kind == "files":  # files are added to a folder, which is never replaced: only same-named files matter
        if resolved.exists() and not resolved.is_dir():
            raise InputError("exists and is a file, not a folder: give --out a folder for the output files", **where)
        for name in names:
            _check_own_file(resolved, name)
        _check_writable(resolved, need_bytes, kind)
        return resolved
    for folder, what in _protected(inputs):
        if resolved == folder or resolved in folder.parents:
            same = "is" if resolved == folder else "holds"
            raise InputError(f"{same} {what}; an output goes into a folder of its own: give --out a new folder "
                             "name, e.g. results/NAME", **where)
    if resolved.exists() and not resolved.is_dir():
        raise InputError("exists and is a file, not a folder; siting does not replace files it did not write: "
                         "give --out a new folder name", **where)
    marker = folder_marker(resolved)
    allowed = REPLACES[kind]
    if resolved.is_dir() and any(resolved.iterdir()) and marker not in allowed:
        what = (f"a siting {marker} folder, which a {kind} does not replace" if marker is not None
                else f"files siting did not write ({_listing(resolved)})")
        raise InputError(f"the folder exists and holds {what}; siting replaces only its own folders: choose a new "
                         "or empty folder, or move the files away", **where)
    if kind in ("result", "pareto") and resolved.is_dir() and any(resolved.iterdir()):
        _check_previous_slot(resolved, kind)  # the current result will move there
    _check_writable(resolved, need_bytes, kind)
    return resolved


def _check_own_file(folder: Path, name: str) -> list[str]:
    """Refuse to write ``folder/name`` over a file siting did not write; return the names siting wrote there."""
    target = folder / name
    marker = folder_marker(folder) if folder.is_dir() else None
    listed = list((_read_json(folder / OUTPUT_MARKER) or {}).get("files", [])) if marker == "output" else []
    if target.is_symlink():
        raise InputError(f"{name} is a symbolic link; siting never writes through a link: choose another --out",
                         file=folder, field="--out")
    if target.exists() and marker != "result" and name not in listed:
        raise InputError(f"{name} exists and was not written by siting, which does not replace it: move it away or "
                         "choose another --out", file=folder, field="--out")
    return listed


def _check_previous_slot(target: Path, kind: str) -> None:
    """The ``NAME.previous`` sibling that will receive the current result must be free or siting's own."""
    previous = target.with_name(target.name + PREVIOUS_SUFFIX)
    if not (previous.exists() or previous.is_symlink()):
        return
    if previous.is_symlink() or folder_marker(previous) not in REPLACES[kind]:
        raise InputError(f"{previous.name} exists and was not written by siting, and replacing this result moves "
                         f"the current one there: move or rename {previous.name} first", file=target, field="--out")


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _check_writable(target: Path, need_bytes: int | None, kind: str) -> None:
    """The folder that will receive the output can be written and has room for it (probed with a temporary file,
    which is removed: the only thing a check ever creates)."""
    base = _existing_ancestor(target.parent if kind in ("result", "pareto") else target)
    where = dict(file=target, field="--out")
    if not base.is_dir():
        raise InputError(f"{base} is a file, so no folder can be created below it: give --out a folder path", **where)
    try:
        fd, probe = tempfile.mkstemp(prefix=".siting-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "not permitted", errno.ENOSPC: "the disk is full"}.get(e.errno, e.strerror or str(e))
        raise InputError(f"cannot write in {base} ({reason}): choose a folder you can write to", **where) from None
    if need_bytes == 0:
        return
    need = need_bytes if need_bytes is not None else MIN_FREE_BYTES
    if kind in ("result", "pareto") and target.is_dir():
        need = max(need, int(1.2 * _tree_bytes(target)))
    free = _free_bytes(base)
    if free < need:
        raise InputError(f"only {free / 2**20:.1f} MB free on the disk of {base}, the output needs about "
                         f"{need / 2**20:.0f} MB: free some space or choose another --out", **where)


def check_replaceable(out_dir: Path, inputs: tuple[Path, ...] = ()) -> None:
    """:func:`check_destination` for a result folder (kept for callers of the earlier name)."""
    check_destination(out_dir, inputs, kind="result")


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new uniquely named folder in ``parent`` with ordinary permissions (``0777`` less the umask), unlike
    :func:`tempfile.mkdtemp`'s ``0700``, which would make the result unreadable to colleagues."""
    for _ in range(100):
        path = Path(parent) / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary folder name", str(parent))


def _write_error(target: Path, e: BaseException) -> InputError:
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0][:120]
    return InputError(f"cannot write the output ({reason}); nothing was replaced, the previous one is unchanged: free "
                      "some space or choose another --out", file=target, field="--out")


def _disk_full(folder: Path) -> bool:
    try:
        return _free_bytes(folder) < 256 * 2**10
    except OSError:
        return False


def _is_write_failure(e: BaseException) -> bool:
    """An operating-system write failure (disk full, permissions), also as raised by GDAL/SQLite through pyogrio."""
    if isinstance(e, OSError):
        return True
    text = str(e).lower()
    return type(e).__module__.startswith(("pyogrio", "sqlite3")) and any(
        w in text for w in ("disk is full", "no space", "read-only", "permission denied", "write error"))


@contextmanager
def atomic_directory(out_dir: Path, *, kind: str = "result") -> Iterator[Path]:
    """Yield a temporary folder next to ``out_dir``; on success fsync its files and swap it into place.

    On any exception (KeyboardInterrupt included) the temporary folder is removed and ``out_dir`` is untouched.
    An existing ``out_dir`` is replaced only when it is empty or siting's own folder of the same kind
    (:func:`check_destination`); it is kept as ``NAME.previous``. A failure to write (disk full, permissions)
    becomes one :class:`~optimizer.errors.InputError`.
    """
    given = Path(out_dir)
    out_dir = check_destination(given, kind=kind, need_bytes=0)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(out_dir)
        tmp = make_temp_dir(out_dir.parent, f".{out_dir.name}.tmp-{os.getpid()}-")
    except OSError as e:
        raise _write_error(given, e) from None
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
        replace_dir(tmp, out_dir, kind=kind)
    except BaseException as e:
        full = _disk_full(tmp)  # measured before the temporary folder goes: GDAL reports ENOSPC in its own words
        shutil.rmtree(tmp, ignore_errors=True)
        if _is_write_failure(e) or (full and isinstance(e, Exception)):
            raise _write_error(given, OSError(errno.ENOSPC, "the disk is full") if full else e) from None
        raise


def write_atomic(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a unique temporary sibling of ``target``, then move it over ``target``.

    The temporary name keeps ``target``'s suffix, so writers that choose the format by suffix (pandas, numpy,
    matplotlib) write the right one; a unique name (``mkstemp``) lets concurrent writers of the same target (sweep
    workers, cache fills) each finish with a complete file. The file gets ordinary permissions (``0666`` less the
    umask). On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-{os.getpid()}-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def replace_dir(new: Path, target: Path, *, kind: str = "result") -> None:
    """Move ``new`` to ``target``; an existing target becomes ``NAME.previous`` (an empty one is simply replaced).

    An older ``NAME.previous`` is moved out of the way first and removed at the end, and only if siting wrote it
    (checked again here, just before the swap).
    """
    if not (target.exists() or target.is_symlink()):
        os.replace(new, target)
        return
    if target.is_symlink() or not target.is_dir():
        raise InputError("turned into a link or a file while the result was being written; nothing was replaced",
                         file=target, field="--out")
    if not any(target.iterdir()):
        os.replace(new, target)  # rename onto an empty folder
        return
    if folder_marker(target) not in REPLACES[kind]:
        raise InputError("received files siting did not write while the result was being written; nothing was "
                         "replaced: choose a new folder", file=target, field="--out")
    previous = target.with_name(target.name + PREVIOUS_SUFFIX)
    trash = None
    if previous.exists() or previous.is_symlink():
        _check_previous_slot(target, kind)
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(previous, trash)
    os.replace(target, previous)
    os.replace(new, target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Files added to a folder (maps, reports, benchmark tables)
# ---------------------------------------------------------------------------------------------------------------
def write_output_file(folder: Path, name: str, write: Callable[[Path], object]) -> Path:
    """Write ``folder/name`` atomically; never over a file siting did not write.

    In a folder that is not a result folder, ``.siting-output.json`` records the files siting wrote, so a later
    run may replace them (and only them).
    """
    folder = Path(folder)
    listed = _check_own_file(folder, name)
    own = folder_marker(folder) == "result" if folder.is_dir() else False
    try:
        target = write_atomic(folder / name, write)
        if not own:
            body = json.dumps({"format": OUTPUT_FORMAT, "format_version": 1, "files": sorted({*listed, name})},
                              indent=2) + "\n"
            write_atomic(folder / OUTPUT_MARKER, lambda p: p.write_text(body, encoding="utf-8"))
    except OSError as e:
        raise _write_error(folder / name, e) from None
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale(target: Path) -> list[Path]:
    """Remove the ``.NAME.tmp-PID-*`` / ``.NAME.old-PID`` siblings that runs killed hard (SIGKILL, power loss) left.

    Only folders whose process is gone are removed, so a concurrent run writing the same target is not disturbed.
    Returns the folders removed.
    """
    removed = []
    for sibling in target.parent.glob(f".{target.name}.*-*"):
        kind, _, rest = sibling.name.removeprefix(f".{target.name}.").partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("tmp", "old") and pid.isdigit() and not _alive(int(pid)) and sibling.is_dir() \
                and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed
