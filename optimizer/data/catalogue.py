"""The named instances (``instances/*.toml``) by name and title, read without loading any table.

Kept apart from :mod:`optimizer.data.instance` so that ``siting list`` answers without importing pandas
(half a second of a process on this machine; ``benchmarks/perf/README.md``, "Fixed costs").
"""

from __future__ import annotations

from pathlib import Path

from optimizer.data.tomlfile import peek_toml
from optimizer.settings import PROJECT_ROOT

INSTANCES_DIR = PROJECT_ROOT / "instances"


def list_instances(directory: Path = INSTANCES_DIR) -> list[dict[str, str]]:
    """Name, title and file of every named instance (``instances/*.toml``)."""
    rows = []
    for path in sorted(directory.glob("*.toml")):
        manifest = peek_toml(path)
        meta = manifest.get("instance", {}) if manifest is not None else {
            "title": "(unreadable manifest: run `siting validate`)"}
        rows.append({"name": path.stem, "title": meta.get("title", ""), "path": str(path)})
    return rows
