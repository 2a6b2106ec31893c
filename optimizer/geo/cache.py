"""The disk cache of computed arrays (network pair costs and their shortest-path trees), keyed by content.

A key is the sha256 of everything that shapes the arrays: a kind label, the coordinates, the network tables' content
hash (:attr:`optimizer.geo.network_tables.NetworkTables.fingerprint`) and the parameters. An entry is a folder of
``.npy`` files (one per array) plus ``meta.json``; it is written into a temporary folder and renamed into place, so a
reader never sees half an entry, and read back memory-mapped (no copy until used). The folder is
:func:`optimizer.settings.cache_dir` (``$SITING_CACHE_DIR`` or ``~/.cache/circular-siting``), never next to the user's
files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.settings import cache_dir


def content_key(kind: str, arrays: Sequence[np.ndarray], fingerprint: str, params: Mapping[str, Any]) -> str:
    """sha256 key from a kind label, coordinate arrays, a network fingerprint and JSON-able parameters."""
    h = hashlib.sha256(kind.encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(fingerprint.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def cached_arrays(
    key: str,
    compute: Callable[[], Mapping[str, np.ndarray]],
    *,
    directory: str | os.PathLike[str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], bool]:
    """Return the arrays stored under ``key``, or compute, store and return them.

    Parameters
    ----------
    key
        Content key (:func:`content_key`).
    compute
        Called on a miss; returns name -> array (numeric arrays only, no pickles).
    directory
        Cache folder (default :func:`optimizer.settings.cache_dir`).
    meta
        Extra JSON-able facts written next to the arrays (for humans).

    Returns
    -------
    arrays, hit
        The arrays (memory-mapped, read-only, on a hit) and whether they came from the cache.
    """
    folder = Path(directory) if directory is not None else cache_dir()
    entry = folder / key
    if (entry / "meta.json").is_file():
        try:
            names = json.loads((entry / "meta.json").read_text())["arrays"]
            return {n: np.load(entry / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in names}, True
        except (OSError, ValueError, KeyError):
            pass  # damaged entry: recompute and replace below
    arrays = {n: np.asarray(v) for n, v in compute().items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=folder))
    except OSError:
        return arrays, False  # a read-only or missing cache folder never fails a run
    try:
        for n, v in arrays.items():
            np.save(tmp / f"{n}.npy", v, allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps({"arrays": list(arrays), **dict(meta or {})}, default=str))
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)  # a damaged entry this cache wrote itself
        try:
            os.replace(tmp, entry)
        except OSError:
            pass  # another process stored the same entry first; ours is equal
    except OSError:
        pass  # disk full: the run goes on uncached
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return arrays, False
