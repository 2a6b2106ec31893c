"""Crash-safe writing: a file or a folder is written under a temporary sibling name, then moved into place.

A run killed at any moment leaves the previous version or nothing at the target path, never half a file. The
one file writer (:func:`write_atomic`) and the one folder writer (:func:`atomic_directory`) of the engine, and the
rule for which folders it may replace (:func:`check_replaceable`: only its own results, never a user's folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer.errors import InputError

RESULT_MARKER = "summary.json"  # every result folder siting writes holds one


def check_replaceable(out_dir: Path, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse an output folder siting may not replace: one that holds files it did not write (no ``summary.json``:
    a user's folder, ``.``), that is not a folder, or that holds one of the run's ``inputs`` (a manifest).

    Raises :class:`~optimizer.errors.InputError` (exit 2), so a command can call it before solving.
    """
    out = Path(out_dir).resolve()
    for path in inputs:
        if out == Path(path).resolve() or out in Path(path).resolve().parents:
            msg = f"the result folder holds an input of this run ({path}); write the result to another --out"
            raise InputError(msg, file=out, field="--out")
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; choose a folder for the result", file=out, field="--out")
    if out.is_dir() and any(out.iterdir()) and not (out / RESULT_MARKER).is_file():
        msg = (f"the folder exists and holds files siting did not write (no {RESULT_MARKER}); siting replaces only "
               "its own result folders: choose a new or empty folder")
        raise InputError(msg, file=out, field="--out")


@contextmanager
def atomic_directory(out_dir: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out_dir``; on success fsync its files and swap it into place.

    On any exception (KeyboardInterrupt included) the temporary folder is removed and ``out_dir`` is untouched.
    An existing ``out_dir`` is replaced only when it is empty or a previous result (:func:`check_replaceable`).
    """
    out_dir = Path(out_dir).resolve()
    check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_atomic(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a unique temporary sibling of ``target``, then move it over ``target``.

    The temporary name keeps ``target``'s suffix, so writers that choose the format by suffix (pandas, numpy,
    matplotlib) write the right one; a unique name (``mkstemp``) lets concurrent writers of the same target (sweep
    workers, cache fills) each finish with a complete file. On any exception the temporary file is removed and
    ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-{os.getpid()}-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing target is swapped out first and removed afterwards."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


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
        if kind in ("tmp", "old") and pid.isdigit() and not _alive(int(pid)) and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed
