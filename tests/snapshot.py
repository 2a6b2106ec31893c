"""Snapshots of a directory tree: every path with its type, size, modification time and content hash.

The reliability corpus takes one before and one after each refused command and requires them to be equal:
nothing written, nothing deleted, nothing touched (issue 13).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

Entry = tuple  # ("file", size, mtime_ns, sha256) | ("dir", mode) | ("link", target)


def snapshot(*roots: Path) -> dict[str, Entry]:
    """Every path under ``roots`` (links not followed) -> what it is; the roots themselves included."""
    out: dict[str, Entry] = {}
    for root in roots:
        root = Path(root)
        if not (root.exists() or root.is_symlink()):
            out[str(root)] = ("missing",)
            continue
        out[str(root)] = _entry(root)
        if root.is_dir() and not root.is_symlink():
            for folder, dirs, files in os.walk(root):
                for name in [*dirs, *files]:
                    path = Path(folder) / name
                    out[str(path)] = _entry(path)
    return out


def _entry(path: Path) -> Entry:
    st = path.lstat()
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_dir():
        return ("dir", st.st_mode)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ("file", st.st_size, st.st_mtime_ns, st.st_mode, digest)


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """What differs between two snapshots (empty: nothing written or deleted)."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return [f"added {p}" for p in added] + [f"deleted {p}" for p in removed] + [f"changed {p}" for p in changed]
