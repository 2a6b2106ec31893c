"""Build the rail network table of Belgium from the Infrabel line sections (open data, 2019).

Code: MIT. The table it writes (``network.gpkg``) is derived from Infrabel open data and is reused under Infrabel's
terms of use for open data (attribution "Infrabel"); see ``README.md`` in this folder.

Nodes are the Infrabel operating points (``ptcar``) at the ends of the line sections, placed at the mean of the
section ends that meet there; links are the line sections with their real length, freight category ``linecat_f``
(F1-F4), number of tracks, electrification and line label. Sections without geometry (78, mostly border stubs) are
left out; the largest connected component is kept. The freight terminals are the 13 of the project's schematic
network (public facts: the main freight yards and port rail hubs of Flanders), each placed at the Infrabel
operating point named in ``TERMINALS``; no better source of freight terminal locations is available here.

Run from the project root (needs ``../shared`` and the zones layer)::

    python instances/networks_infrabel/build_infrabel.py [--shared ../shared/data] [--out DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # instances/: the shared build helpers (they put the project root on the path)

from build_common import ZONES, run_build, seaport_of_points, write_sorted  # noqa: E402

from optimizer.geo.network_tables import CRS, symmetric_csr  # noqa: E402

SECTIONS = "belgium/transport/infrabel_rail/sections-de-lignes.geojson"
SIMPLIFY_M = 2.0  # stored geometry only; lengths are measured before simplifying
CONNECT_MAX_M = 2000.0  # islands closer than this to the main network get a straight connector

# Freight terminals (the 13 of the former schematic network) -> Infrabel operating point name. A name ending
# in '*' is a prefix: the group's operating point nearest the group's centroid is used.
TERMINALS: dict[str, tuple[str, str]] = {
    "antwerpen-noord": ("Antwerpen-Noord (Main Hub, marshalling yard)", "ANTW-N*"),
    "antwerpen-rechteroever": ("Antwerpen port right bank (Zandvliet)", "ZANDVLIET"),
    "antwerpen-linkeroever": ("Antwerpen port left bank (bundel Kallo)", "B.KALLO"),
    "antwerpen-deurganck": ("Antwerpen port Deurganckdok (bundel Krommenhoek)", "B.KROMMENHK"),
    "zeebrugge": ("Zeebrugge port (Zeebrugge-Vorming)", "ZEEBRUGGE-F"),
    "gent-zeehaven": ("Gent port right bank (Gent-Zeehaven)", "GENT-ZEEH"),
    "gent-rieme": ("Gent port left bank (Kluizendok)", "KLUIZENDOK-Z"),
    "genk-goederen": ("Genk-Goederen", "GENK-GOED"),
    "muizen": ("Muizen freight yard", "MUIZEN-T"),
    "willebroek": ("Willebroek terminal", "WILLEBROEK"),
    "mol": ("Mol freight terminal", "MOL"),
    "kortrijk": ("Kortrijk freight terminal", "KORTRIJK"),
    "schaarbeek": ("Schaarbeek-Vorming (Brussels)", "SCHAERB-FORM"),
}


def build_rail(shared: Path, seaport_areas: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Rail nodes and links from the Infrabel line sections."""
    s = gpd.read_file(shared / SECTIONS)
    s = s[s.geometry.notna() & ~s.geometry.is_empty].to_crs(CRS).reset_index(drop=True)
    geom = shapely.force_2d(s.geometry.to_numpy())
    a, b = shapely.get_point(geom, 0), shapely.get_point(geom, -1)
    ends = pd.concat([
        pd.DataFrame({"pt": s["ptcarfrom"].astype(str), "name": s["ptcarfromname"], "x": shapely.get_x(a),
                      "y": shapely.get_y(a)}),
        pd.DataFrame({"pt": s["ptcarto"].astype(str), "name": s["ptcartoname"], "x": shapely.get_x(b),
                      "y": shapely.get_y(b)})], ignore_index=True)
    pts = ends.groupby("pt").agg(name=("name", "first"), x=("x", "mean"), y=("y", "mean"))
    nodes = pd.DataFrame({"node_id": "rail:i" + pts.index.to_numpy(), "mode": "rail", "kind": "rail_node",
                          "name": pts["name"].fillna("").to_numpy(), "x": pts["x"].to_numpy(),
                          "y": pts["y"].to_numpy(), "source": "infrabel"})
    links = gpd.GeoDataFrame({
        "link_id": "rail:i" + s["ls_id"].astype(str),
        "mode": "rail",
        "from_node": "rail:i" + s["ptcarfrom"].astype(str),
        "to_node": "rail:i" + s["ptcarto"].astype(str),
        "length_km": shapely.length(geom) / 1000.0,
        "freight_cat": s["linecat_f"].fillna("").astype(str),
        "tracks": pd.to_numeric(s["nrtracks"], errors="coerce").fillna(0).astype(int),
        "electrified": s["ecs_voltfreq"].fillna("").astype(str),
        "line": s["label"].fillna("").astype(str),
        "source": "infrabel",
    }, geometry=shapely.simplify(geom, SIMPLIFY_M), crs=CRS)
    links = links[links["from_node"] != links["to_node"]].reset_index(drop=True)
    # the largest connected component; islands within CONNECT_MAX_M of it (the data lacks their junction section)
    # are joined to its nearest node by a straight connector, farther ones are dropped
    pos = pd.Index(nodes["node_id"])
    ia, ib = pos.get_indexer(links["from_node"]), pos.get_indexer(links["to_node"])
    _, label = connected_components(symmetric_csr(ia, ib, np.ones(len(ia)), len(nodes)), directed=False)
    main = np.bincount(label).argmax()
    xy = nodes[["x", "y"]].to_numpy(float)
    main_rows = np.flatnonzero(label == main)
    tree = cKDTree(xy[main_rows])
    keep = label == main
    connectors = []
    for lab in np.unique(label[label != main]):  # a handful of islands
        rows = np.flatnonzero(label == lab)
        d, k = tree.query(xy[rows])
        if d.min() > CONNECT_MAX_M:
            continue
        keep[rows] = True
        r, m = rows[np.argmin(d)], main_rows[k[np.argmin(d)]]
        connectors.append({"link_id": f"rail:connector-{nodes.at[r, 'node_id'][6:]}", "mode": "rail",
                           "from_node": nodes.at[r, "node_id"], "to_node": nodes.at[m, "node_id"],
                           "length_km": float(d.min()) / 1000.0, "freight_cat": "", "tracks": 0, "electrified": "",
                           "line": "connector", "source": "connector",
                           "geometry": shapely.linestrings([xy[r], xy[m]])})
    nodes = nodes[keep].reset_index(drop=True)
    links = links[keep[ia]].reset_index(drop=True)
    if connectors:
        links = gpd.GeoDataFrame(pd.concat([links, gpd.GeoDataFrame(connectors, crs=CRS)], ignore_index=True),
                                 crs=CRS)
    # a link is never shorter than the chord between its (averaged) end nodes
    xy = nodes.set_index("node_id")[["x", "y"]]
    chord = np.hypot(*(xy.loc[links["from_node"]].to_numpy() - xy.loc[links["to_node"]].to_numpy()).T) / 1000.0
    links["length_km"] = np.maximum(links["length_km"].to_numpy(), chord)
    # freight terminals
    for _key, (label_, ptname) in TERMINALS.items():
        if ptname.endswith("*"):
            group = nodes[nodes["name"].str.startswith(ptname[:-1])]
            if group.empty:
                raise AssertionError(f"no Infrabel operating point starts with {ptname[:-1]!r}")
            c = group[["x", "y"]].mean().to_numpy()
            row = group.index[np.argmin(np.hypot(group["x"] - c[0], group["y"] - c[1]))]
        else:
            hit = nodes.index[nodes["name"] == ptname]
            if len(hit) != 1:
                raise AssertionError(f"Infrabel operating point {ptname!r} found {len(hit)} times")
            row = hit[0]
        nodes.at[row, "kind"] = "rail_terminal"
        nodes.at[row, "name"] = f"{label_} [Infrabel {nodes.at[row, 'name']}]"
    nodes["seaport"] = seaport_of_points(nodes[["x", "y"]].to_numpy(float), seaport_areas)
    return nodes, links


def build(shared: Path, out: Path) -> Path:
    """Build the rail table from ``shared`` (the ``data`` folder) and write ``out/network.gpkg``."""
    seaport_areas = gpd.read_file(ZONES, layer="seaport_areas")
    nodes, links = build_rail(shared, seaport_areas)
    return write_sorted(nodes, links, out)


def main(argv: list[str] | None = None) -> int:
    """Build ``network.gpkg`` (``[--shared DIR] [--out DIR]``); exit code 2 when the source file is missing."""
    return run_build(argv, doc=__doc__, here=HERE, needs=SECTIONS, needs_label="Infrabel line sections", build=build,
                     node_groups="kind", link_groups="freight_cat")


if __name__ == "__main__":
    raise SystemExit(main())
