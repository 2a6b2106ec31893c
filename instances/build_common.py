"""Pieces shared by the scripts that build the shipped geography tables (zones, networks).

Code only, MIT like the rest of the project: it reads and writes no third-party data itself, so each folder keeps
its own licence for the tables its script writes (``networks_etisplus`` GPL-3.0, ``networks_infrabel`` Infrabel
terms, ``osm_odbl`` ODbL 1.0). It lives here, beside the folders, because the scripts run as plain files
(``python instances/<folder>/build_<x>.py``, or loaded by path from ``build_geography.py`` and the tests), not as
a package; a script puts this folder on ``sys.path`` before importing it (and this module puts the project root
there, for ``optimizer``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from optimizer.geo.network_tables import write_network_tables  # noqa: E402

ZONES = PROJECT_ROOT / "instances" / "flanders" / "zones" / "zones.gpkg"


def access_assumption(name: str) -> float:
    """Value of ``[assumptions.<name>]`` in ``models/access.toml``: figures like ``quay_max_gap_m`` are named there."""
    with open(PROJECT_ROOT / "models" / "access.toml", "rb") as fh:
        return float(tomllib.load(fh)["assumptions"][name]["value"])


def default_shared() -> Path:
    """The shared ``data`` folder: ``$SITING_SHARED_DIR/data``, else ``../shared/data`` beside the project."""
    env = os.environ.get("SITING_SHARED_DIR")
    return Path(env) / "data" if env else PROJECT_ROOT.parent / "shared" / "data"


def seaport_of_points(xy: np.ndarray, seaport_areas: gpd.GeoDataFrame) -> np.ndarray:
    """Name of the seaport area that contains each point ('' outside all).

    Parameters
    ----------
    xy
        ``(n, 2)`` point coordinates, EPSG:31370 metres.
    seaport_areas
        The ``seaport_areas`` layer of the zones (EPSG:31370), with a ``seaport`` name column.
    """
    out = np.full(len(xy), "", dtype=object)
    pi, ai = shapely.STRtree(seaport_areas.geometry.to_numpy()).query(shapely.points(xy), predicate="within")
    out[pi] = seaport_areas["seaport"].to_numpy()[ai]
    return out


def write_sorted(nodes: pd.DataFrame, links: gpd.GeoDataFrame, out: Path,
                 external_nodes: pd.DataFrame | None = None) -> Path:
    """Round link geometry to 1 cm and sort by id before writing, so that a rebuild writes the same table."""
    links["geometry"] = shapely.set_precision(links.geometry.to_numpy(), 0.01)
    nodes = nodes.sort_values("node_id", kind="stable").reset_index(drop=True)
    links = links.sort_values("link_id", kind="stable").reset_index(drop=True)
    return write_network_tables(nodes, links, out, external_nodes=external_nodes)


def build_arguments(argv: list[str] | None, *, doc: str, here: Path, shared: Path | None = None,
                    shared_help: str = "the shared data folder") -> argparse.Namespace:
    """``[--shared DIR] [--out DIR]``: the command line of every build script (``--out`` defaults to its folder).

    ``shared`` is the default of ``--shared`` (:func:`default_shared`, or a folder below it); ``doc`` the script's
    docstring, whose first line describes it.
    """
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=default_shared() if shared is None else shared, help=shared_help)
    ap.add_argument("--out", type=Path, default=here, help="output folder (default: this folder)")
    return ap.parse_args(argv)


def flanders_arguments(argv: list[str] | None, *, doc: str, here: Path) -> argparse.Namespace | None:
    """:func:`build_arguments` for the scripts that read ``data/flanders``; ``None`` (after a one-line message, for
    exit code 2) when that folder is missing."""
    args = build_arguments(argv, doc=doc, here=here, shared=default_shared() / "flanders",
                           shared_help="the shared data/flanders folder")
    if not args.shared.is_dir():
        print(f"shared data folder not found: {args.shared}", file=sys.stderr)
        return None
    return args


def run_build(argv: list[str] | None, *, doc: str, here: Path, needs: str, needs_label: str,
              build: Callable[[Path, Path], Path], node_groups: str | list[str], link_groups: str) -> int:
    """The command line every network build script shares: ``[--shared DIR] [--out DIR]``, then a summary.

    Exit code 2 with a one-line message when ``needs`` (a path inside the shared folder) is missing, so nothing
    is half-built; 0 after writing, with the table's size, its node counts by ``node_groups`` and its link counts
    and km by ``link_groups``.
    """
    args = build_arguments(argv, doc=doc, here=here)
    if not (args.shared / needs).is_file():
        print(f"{needs_label} not found: {args.shared / needs}", file=sys.stderr)
        return 2
    path = build(args.shared, args.out)
    nodes, links = gpd.read_file(path, layer="nodes"), gpd.read_file(path, layer="links")
    print(f"{path}: {path.stat().st_size:,} bytes")
    print(nodes.groupby(node_groups).size().to_string())
    print(links.groupby(link_groups)["length_km"].agg(["size", "sum"]).round(1).to_string())
    return 0
