"""The disk cache of distance and cost matrices, keyed on every input (coordinates, network tables, parameters).

The folder is :func:`optimizer.settings.cache_dir` (``$SITING_CACHE_DIR`` or ``~/.cache/circular-siting``);
files are written atomically, so concurrent runs never read half a matrix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.atomic import write_atomic
from optimizer.settings import cache_dir

if TYPE_CHECKING:
    from optimizer.geo.network_tables import Networks


def matrix_cache_key(
    kind: str, arrays: Sequence[np.ndarray], networks: Networks | None, params: Mapping[str, Any]
) -> str:
    """sha256 key of a matrix from its inputs: kind, coordinate arrays, network tables and parameters."""
    h = hashlib.sha256(kind.encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update((networks.fingerprint if networks is not None else "-").encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def cached_matrix(key: str, compute: Callable[[], np.ndarray], *, directory: Path | None = None) -> np.ndarray:
    """Return the cached matrix of ``key``, or compute it and store it atomically (:func:`~optimizer.atomic.write_atomic`)."""
    folder = Path(directory) if directory is not None else cache_dir()
    target = folder / f"{key}.npy"
    if target.is_file():
        try:
            return np.load(target, allow_pickle=False)
        except (OSError, ValueError):
            pass  # unreadable (e.g. truncated by another writer): recompute
    value = np.asarray(compute())
    write_atomic(target, lambda tmp: np.save(tmp, value, allow_pickle=False))
    return value
