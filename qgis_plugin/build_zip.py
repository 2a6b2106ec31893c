"""Build the installable QGIS plugin zip: ``python qgis_plugin/build_zip.py`` -> ``dist/siting_processing.zip``.

Pure standard library, runs from a clean clone. The zip holds one top-level folder, ``siting_processing/``, as
QGIS's *Plugins ▸ Manage and Install Plugins… ▸ Install from ZIP* expects. Entries are sorted and time-stamped
with the fixed date below, so the same sources give a byte-identical zip.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import zipfile
from pathlib import Path

PLUGIN = "siting_processing"
SOURCE = Path(__file__).resolve().parent / PLUGIN
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "dist" / f"{PLUGIN}.zip"
REQUIRED_FILES = ("__init__.py", "metadata.txt", "LICENSE", "icon.svg", "plugin.py", "provider.py", "algorithms.py",
                  "engine.py")
REQUIRED_METADATA = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "icon",
                     "hasProcessingProvider")
EXCLUDED = ("__pycache__", ".pyc", ".pyo", ".DS_Store")
FIXED_TIME = (2025, 1, 1, 0, 0, 0)


def plugin_files(source: Path = SOURCE) -> list[Path]:
    """Files that go into the zip (sorted; caches and editor files left out)."""
    return sorted(p for p in source.rglob("*") if p.is_file() and not any(x in p.as_posix() for x in EXCLUDED))


def check_plugin(source: Path = SOURCE) -> dict[str, str]:
    """The plugin folder is complete and its metadata has what QGIS needs; returns the metadata."""
    missing = [f for f in REQUIRED_FILES if not (source / f).is_file()]
    if missing:
        raise SystemExit(f"error: {source}: missing {', '.join(missing)}")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(source / "metadata.txt", encoding="utf-8")
    meta = dict(parser.items("general")) if parser.has_section("general") else {}  # keys lower-cased
    absent = [k for k in REQUIRED_METADATA if k.lower() not in meta]
    if absent:
        raise SystemExit(f"error: {source / 'metadata.txt'}: [general] lacks {', '.join(absent)}")
    return meta


def build(out: Path = DEFAULT_OUT, source: Path = SOURCE) -> Path:
    """Write the zip (atomically: a temporary file moved into place) and return its path."""
    check_plugin(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in plugin_files(source):
            info = zipfile.ZipInfo(f"{PLUGIN}/{path.relative_to(source).as_posix()}", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"zip to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    meta = check_plugin()
    path = build(args.out)
    with zipfile.ZipFile(path) as zf:
        n = len(zf.namelist())
    print(f"built {path} ({meta['name']} {meta['version']}, {n} files); install it in QGIS with "
          "Plugins > Manage and Install Plugins... > Install from ZIP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
