"""Rebuild every shipped geography table in order: zones, ETISplus road/water, Infrabel rail, OSM docks.

Each step reads the third-party files in ``../shared/data`` (never copied) and writes its folder's table atomically;
the networks build on the zones (quays of zones on the water, seaport areas), the OSM docks on ETISplus. Run from
the project root::

    python instances/build_geography.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = (
    ("flanders/zones/build_zones.py", "flanders"),
    ("networks_etisplus/build_etisplus.py", ""),
    ("networks_infrabel/build_infrabel.py", ""),
    ("osm_odbl/build_osm_docks.py", ""),
)


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get("SITING_SHARED_DIR")
    default = Path(env) / "data" if env else HERE.parents[1] / "shared" / "data"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=default, help="the shared data folder")
    args = ap.parse_args(argv)
    if not args.shared.is_dir():
        print(f"shared data folder not found: {args.shared}", file=sys.stderr)
        return 2
    for script, sub in STEPS:
        path = HERE / script
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {script}")
        rc = module.main(["--shared", str(args.shared / sub if sub else args.shared)])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
