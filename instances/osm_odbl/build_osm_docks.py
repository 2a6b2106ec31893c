"""Build the sea-dock waterway layer of Flanders from OpenStreetMap (2015) and attach it to the ETISplus waterways.

Code: MIT. **The table it writes (``network.gpkg``) is derived from OpenStreetMap data and is made available under
the Open Database License 1.0 (ODbL), © OpenStreetMap contributors** (see ``README.md`` in this folder).

The ETISplus fairways follow the real waterways closely (median 6 m from the OSM lines) but stop at the main
channels: about 80 km of the port docks (Antwerp left bank: Deurganck-, Waasland-, Doel-, Verrebroekdok; the
Antwerp right-bank docks; Zeebrugge, Gent) lie more than 300 m from them. This layer adds those docks:

* OSM ``waterway=dock`` lines in Flanders, cut at their crossings and joined where their ends are within
  ``SNAP_M``; pieces that run within ``DUPLICATE_M`` of an ETISplus fairway over their whole length are dropped
  (already in ETISplus);
* straight connector links join the dock components to each other and to the ETISplus waterway nodes of CEMT >= IV
  by the shortest total length (minimum spanning tree over components);
* a ``quay`` node for every economic zone within ``quay_max_gap_m`` (``models/access.toml``) of a dock and without
  a quay on an ETISplus fairway.

Dock links are sea-going water: ``cemt = 6`` (class VIa, at least what any inland vessel needs) and ``maritime = 1``.

Run from the project root, after the zones and the ETISplus tables (needs ``../shared``)::

    python instances/osm_odbl/build_osm_docks.py [--shared ../shared/data] [--out DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # instances/: the shared build helpers (they put the project root on the path)

from build_common import PROJECT_ROOT, ZONES, access_assumption  # noqa: E402
from build_common import run_build, seaport_of_points, write_sorted  # noqa: E402

from optimizer.geo.network_build import connect_components, lines_to_network, split_links_at_points  # noqa: E402
from optimizer.geo.network_tables import CRS, symmetric_csr  # noqa: E402

OSM_WATERWAYS = "belgium/transport/be_osm_waterways_2015_canal_river.gpkg"
FLANDERS = "flanders/boundaries/gebiedsniveaus/gewest.shp"
ETIS = PROJECT_ROOT / "instances" / "networks_etisplus" / "network.gpkg"
SNAP_M = 30.0
DUPLICATE_M = 60.0


def build(shared: Path, out: Path) -> Path:
    """Build the dock layer and write ``out/network.gpkg``."""
    osm = gpd.read_file(shared / OSM_WATERWAYS).to_crs(CRS)
    flanders = gpd.read_file(shared / FLANDERS).to_crs(CRS)
    flanders = flanders.loc[flanders["gewest"].astype(int) == 2000, "geometry"].iloc[0]
    docks = osm[(osm["type"] == "dock") & osm.intersects(flanders)].reset_index(drop=True)
    etis_nodes = gpd.read_file(ETIS, layer="nodes")
    etis_links = gpd.read_file(ETIS, layer="links")
    etis_water = etis_links[etis_links["mode"] == "water"]
    zones = gpd.read_file(ZONES, layer="zones")
    seaport_areas = gpd.read_file(ZONES, layer="seaport_areas")

    attrs = pd.DataFrame({"mode": "water", "cemt": 6, "cemt_class": "VIa", "maritime": 1, "source": "osm",
                          "line": docks["name"].fillna("").astype(str)})
    nodes, links = lines_to_network(shapely.force_2d(docks.geometry.to_numpy()), attrs, snap_m=SNAP_M,
                                    node_prefix="water:o", link_prefix="water:osm-")
    # drop pieces that ETISplus already has
    fairway = shapely.buffer(shapely.union_all(etis_water.geometry.to_numpy()), DUPLICATE_M)
    dup = shapely.within(links.geometry.to_numpy(), fairway)
    links = links[~dup].reset_index(drop=True)
    used = pd.unique(pd.concat([links["from_node"], links["to_node"]]))
    nodes = nodes[nodes["node_id"].isin(used)].reset_index(drop=True)
    nodes["mode"], nodes["kind"], nodes["name"], nodes["source"] = "water", "waterway_node", "", "osm"

    # connectors: dock components and the ETISplus CEMT >= IV water nodes (one component) by a spanning tree
    pos = pd.Index(nodes["node_id"])
    a, b = pos.get_indexer(links["from_node"]), pos.get_indexer(links["to_node"])
    _, label = connected_components(symmetric_csr(a, b, np.ones(len(a)), len(nodes)), directed=False)
    anchor = etis_nodes[(etis_nodes["mode"] == "water") & (etis_nodes["cemt"] >= 4)]
    xy = np.vstack([nodes[["x", "y"]].to_numpy(float), anchor[["x", "y"]].to_numpy(float)])
    comp = np.concatenate([label, np.full(len(anchor), label.max() + 1)])
    ids = np.concatenate([nodes["node_id"].to_numpy(), anchor["node_id"].to_numpy()])
    ca, cb, cl = connect_components(xy, comp)
    conn = gpd.GeoDataFrame({
        "link_id": [f"water:osm-connector-{i}" for i in range(len(ca))],
        "mode": "water", "from_node": ids[ca], "to_node": ids[cb], "length_km": cl / 1000.0,
        "cemt": 6, "cemt_class": "VIa", "maritime": 1, "line": "connector", "source": "connector",
    }, geometry=shapely.linestrings(np.stack([xy[ca], xy[cb]], axis=1)) if len(ca) else [], crs=CRS)
    links = gpd.GeoDataFrame(pd.concat([links, conn], ignore_index=True), crs=CRS)

    # quays for zones on a dock that have none on an ETISplus fairway
    has_quay = set(etis_nodes.loc[etis_nodes["kind"] == "quay", "node_id"].str.replace("water:quay-", "", regex=False))
    cand = zones[~zones["zone_id"].isin(has_quay)].reset_index(drop=True)
    dock_mask = links["source"].to_numpy() == "osm"
    tree = shapely.STRtree(links.geometry.to_numpy()[dock_mask])
    (zi, li), _ = tree.query_nearest(cand.geometry.to_numpy(), max_distance=access_assumption("quay_max_gap_m"),
                                     return_distance=True, all_matches=False)
    seg = shapely.shortest_line(cand.geometry.to_numpy()[zi], links.geometry.to_numpy()[dock_mask][li])
    z = cand.iloc[zi]
    new = pd.DataFrame({"node_id": "water:dockquay-" + z["zone_id"].to_numpy(), "mode": "water", "kind": "quay",
                        "name": "quay " + z["name"].to_numpy(), "source": "derived"})
    nodes, links, _ = split_links_at_points(nodes, links, shapely.get_coordinates(shapely.get_point(seg, 1)), new,
                                            link_mask=dock_mask, max_gap_m=1.0)
    nodes["cemt"] = 6
    nodes["seaport"] = seaport_of_points(nodes[["x", "y"]].to_numpy(float), seaport_areas)
    return write_sorted(nodes, links, out, external_nodes=etis_nodes)


def main(argv: list[str] | None = None) -> int:
    """Build ``network.gpkg`` (``[--shared DIR] [--out DIR]``); exit code 2 when the source file is missing."""
    return run_build(argv, doc=__doc__, here=HERE, needs=OSM_WATERWAYS, needs_label="OSM waterways", build=build,
                     node_groups="kind", link_groups="source")


if __name__ == "__main__":
    raise SystemExit(main())
