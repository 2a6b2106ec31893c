"""Build the road and waterway network tables of Belgium from the ETISplus layers (as shipped in the Nodus demo).

Code: MIT, as the rest of the project. **The tables this script writes (``network.gpkg``) are derived from the
ETISplus network as redistributed in the Nodus repository under the GNU GPL v3.0, and are distributed under the
same licence** (see ``LICENSE`` and ``README.md`` in this folder).

Road
    ETISplus road links (A, N and R roads with speed and lanes), their real polyline length, and node kinds:
    ``motorway_junction`` (motorway links of two or more roads meet), ``motorway_exit`` (a motorway link meets a
    non-motorway link), ``motorway_vertex`` (only links of one motorway: no way on or off), ``road_node``.
    Motorway = an ``A`` road or one of the ring motorways R0, R1, R2, R3. The largest connected component is kept.
Water
    ETISplus inland waterways with their CEMT class (``MEANS`` 1-6), split into pieces of at most
    ``WATER_MAX_LINK_M`` so that docks and quays attach within half that; on them the nodes where goods can be
    transhipped: ``port`` (the Eurostat ports, snapped to the nearest waterway), ``terminal`` (the ETISplus trimodal
    terminals) and ``quay`` (one per economic zone within ``quay_max_gap_m`` of a CEMT >= IV waterway; assumption in
    ``models/access.toml``). Nodes inside a seaport area (``instances/flanders/zones/zones.gpkg``) carry its name.

Run from the project root (needs ``../shared`` and the zones layer)::

    python instances/networks_etisplus/build_etisplus.py [--shared ../shared/data] [--out DIR]
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

from optimizer.geo.network_build import densify_links, split_links_at_points  # noqa: E402
from optimizer.geo.network_tables import CEMT_FROM_INT, CRS, symmetric_csr  # noqa: E402

ETIS = "belgium/transport/nodus_etisplus/nodus_belgium_multimodal.gpkg"
PORTS = "flanders/transport/eurostat_ports_flanders_approx.csv"
MOTORWAY_RINGS = frozenset({"R0", "R1", "R2", "R3"})  # ring roads built as motorways (Brussels, Antwerp, Charleroi)
WATER_MAX_LINK_M = 1000.0
PORT_MAX_SNAP_M = 6500.0  # Eurostat port points are town points (not quays): Tessenderlo lies 6.0 km off
TERMINAL_MAX_SNAP_M = 2000.0


def _read_layers(etis: Path, layer: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The ``<layer>_polylines`` and ``<layer>_points`` (indexed by ``num``) of an ETISplus network, EPSG:31370."""
    lines = gpd.read_file(etis, layer=f"{layer}_polylines").to_crs(CRS)
    points = gpd.read_file(etis, layer=f"{layer}_points").to_crs(CRS).set_index("num")
    return lines, points


def _tables(lines: gpd.GeoDataFrame, points: gpd.GeoDataFrame, mode: str, link_attrs: dict,
            node_attrs: dict | None = None) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Nodes and links of one ETISplus network: ids ``<mode>:e<NUM>``, real polyline length, only the nodes that
    the links use; ``link_attrs`` / ``node_attrs`` add the mode's own columns."""
    prefix = f"{mode}:e"
    links = gpd.GeoDataFrame({
        "link_id": prefix + lines["NUM"].astype(str),
        "mode": mode,
        "from_node": prefix + lines["NODE1"].astype(str),
        "to_node": prefix + lines["NODE2"].astype(str),
        **link_attrs,
        "source": "etisplus",
    }, geometry=lines.geometry.to_numpy(), crs=CRS)
    links["length_km"] = links.geometry.length / 1000.0
    used = pd.unique(pd.concat([lines["NODE1"], lines["NODE2"]]))
    pts = points.loc[used]
    nodes = pd.DataFrame({"node_id": prefix + pd.Series(used).astype(str), "mode": mode, **(node_attrs or {}),
                          "x": pts.geometry.x.to_numpy(), "y": pts.geometry.y.to_numpy(), "source": "etisplus"})
    return nodes, links


def build_road(etis: Path) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Road nodes and links (largest connected component) from the ETISplus road layers."""
    lines, points = _read_layers(etis, "road")
    ref = lines["NAME"].fillna("").astype(str).str.replace(" ", "", regex=False).str.upper()
    letter = ref.str[0]
    motorway = (letter == "A") | ref.isin(MOTORWAY_RINGS)
    road_class = np.where(motorway, "motorway", np.where(letter.isin(["N", "R"]), letter, "other"))
    nodes, links = _tables(lines, points, "road", {"road_ref": ref, "road_class": road_class,
                                                   "speed_kmh": lines["SPEED"].astype(float),
                                                   "lanes": lines["LANES"].astype(int)})
    # node kind from the links that meet there
    ends = pd.concat([pd.DataFrame({"node_id": links["from_node"], "mw": motorway, "ref": ref}),
                      pd.DataFrame({"node_id": links["to_node"], "mw": motorway, "ref": ref})])
    ends = ends.reset_index(drop=True)
    g = ends.groupby("node_id").agg(deg=("mw", "size"), n_mw=("mw", "sum"),
                                     refs=("ref", lambda s: tuple(sorted(set(s)))))
    g["mw_refs"] = ends[ends["mw"]].groupby("node_id")["ref"].agg(lambda s: tuple(sorted(set(s))))
    g = g.reindex(nodes["node_id"])
    g["mw_refs"] = g["mw_refs"].apply(lambda v: v if isinstance(v, tuple) else ())
    kind = np.where(g["n_mw"].to_numpy() == 0, "road_node",
                    np.where(g["n_mw"].to_numpy() < g["deg"].to_numpy(), "motorway_exit",
                             np.where(g["mw_refs"].map(len).to_numpy() >= 2, "motorway_junction",
                                      np.where(g["deg"].to_numpy() >= 3, "motorway_junction", "motorway_vertex"))))
    nodes["kind"] = kind
    nodes["name"] = [" x ".join(r) if k != "road_node" else "" for r, k in zip(g["refs"], kind)]
    # keep the largest connected component (ETISplus has three tiny islands)
    pos = pd.Index(nodes["node_id"])
    a, b = pos.get_indexer(links["from_node"]), pos.get_indexer(links["to_node"])
    _, label = connected_components(symmetric_csr(a, b, np.ones(len(a)), len(nodes)), directed=False)
    main = np.bincount(label).argmax()
    keep_nodes = label == main
    nodes = nodes[keep_nodes].reset_index(drop=True)
    links = links[keep_nodes[a]].reset_index(drop=True)
    return nodes, links


def build_water(etis: Path, shared: Path, zones: gpd.GeoDataFrame, seaport_areas: gpd.GeoDataFrame,
                quay_gap_m: float) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Waterway nodes and links with ports, terminals and zone quays."""
    lines, points = _read_layers(etis, "iww")
    cemt = lines["MEANS"].astype(int)
    nodes, links = _tables(lines, points, "water", {"cemt": cemt, "cemt_class": cemt.map(CEMT_FROM_INT), "maritime": 0},
                           {"kind": "waterway_node", "name": "", "locode": ""})
    nodes, links = densify_links(nodes, links, WATER_MAX_LINK_M, node_template={
        "mode": "water", "kind": "waterway_node", "name": "", "locode": "", "source": "split"}, id_prefix="")

    # Eurostat ports (town points) snapped to the nearest CEMT >= IV waterway within PORT_MAX_SNAP_M, else to the
    # nearest waterway of any class (Gent's town point lies by a class-I river in the centre, its port on the canal)
    ports = pd.read_csv(shared / PORTS)
    new = pd.DataFrame({"node_id": "water:port-" + ports["locode"], "mode": "water", "kind": "port",
                        "name": ports["port_name"], "locode": ports["locode"], "source": "derived"})
    xy = ports[["x_l72", "y_l72"]].to_numpy(float)
    nodes, links, placed = split_links_at_points(nodes, links, xy, new, link_mask=links["cemt"].to_numpy() >= 4,
                                                 max_gap_m=PORT_MAX_SNAP_M)
    rest = placed == ""
    nodes, links, placed_rest = split_links_at_points(nodes, links, xy[rest], new[rest], max_gap_m=PORT_MAX_SNAP_M)
    if (placed_rest == "").any():
        raise AssertionError(f"ports farther than {PORT_MAX_SNAP_M} m from any waterway: "
                             f"{ports.loc[rest, 'locode'][placed_rest == ''].tolist()}")
    # ETISplus trimodal terminals on the water
    term = gpd.read_file(etis, layer="terminals").to_crs(CRS)
    term = term[term["IWW"] == 1]
    new = pd.DataFrame({"node_id": "water:terminal-" + term["NUM"].astype(str), "mode": "water", "kind": "terminal",
                        "name": term["TERMINALNA"].astype(str), "locode": "", "source": "etisplus"})
    nodes, links, _ = split_links_at_points(nodes, links, shapely.get_coordinates(term.geometry.to_numpy()), new,
                                            max_gap_m=TERMINAL_MAX_SNAP_M)
    # a quay for every zone within quay_gap_m of a CEMT >= IV waterway, at the waterway point nearest the zone
    big = links["cemt"].to_numpy() >= 4
    tree = shapely.STRtree(links.geometry.to_numpy()[big])
    (zi, li), _ = tree.query_nearest(zones.geometry.to_numpy(), max_distance=quay_gap_m, return_distance=True,
                                     all_matches=False)
    seg = shapely.shortest_line(zones.geometry.to_numpy()[zi], links.geometry.to_numpy()[big][li])
    on_water = shapely.get_coordinates(shapely.get_point(seg, 1))
    z = zones.iloc[zi]
    new = pd.DataFrame({"node_id": "water:quay-" + z["zone_id"].to_numpy(), "mode": "water", "kind": "quay",
                        "name": "quay " + z["name"].to_numpy(), "locode": "", "source": "derived"})
    nodes, links, _ = split_links_at_points(nodes, links, on_water, new, link_mask=big, max_gap_m=1.0)

    # CEMT of a node = highest class of its links; seaport by containment in a seaport area
    ends = pd.concat([links[["from_node", "cemt"]].rename(columns={"from_node": "node_id"}),
                      links[["to_node", "cemt"]].rename(columns={"to_node": "node_id"})])
    nodes["cemt"] = ends.groupby("node_id")["cemt"].max().reindex(nodes["node_id"]).fillna(0).astype(int).to_numpy()
    nodes["seaport"] = seaport_of_points(nodes[["x", "y"]].to_numpy(float), seaport_areas)
    return nodes, links


def build(shared: Path, out: Path) -> Path:
    """Build road + water from ``shared`` (the ``data`` folder) and write ``out/network.gpkg``."""
    etis = shared / ETIS
    zones = gpd.read_file(ZONES, layer="zones")
    seaport_areas = gpd.read_file(ZONES, layer="seaport_areas")
    rn, rl = build_road(etis)
    wn, wl = build_water(etis, shared, zones, seaport_areas, access_assumption("quay_max_gap_m"))
    for nodes, links, mode in ((rn, rl, "road"), (wn, wl, "water")):
        pos = pd.Index(nodes["node_id"])
        a, b = pos.get_indexer(links["from_node"]), pos.get_indexer(links["to_node"])
        n_comp, _ = connected_components(symmetric_csr(a, b, np.ones(len(a)), len(nodes)), directed=False)
        if n_comp != 1:
            raise AssertionError(f"{mode} network has {n_comp} components")
    nodes = pd.concat([rn, wn], ignore_index=True)
    links = gpd.GeoDataFrame(pd.concat([rl, wl], ignore_index=True), crs=CRS)
    links["length_km"] = np.maximum(links["length_km"].to_numpy(), _chord_km(nodes, links))
    return write_sorted(nodes, links, out)


def _chord_km(nodes: pd.DataFrame, links: pd.DataFrame) -> np.ndarray:
    xy = nodes.set_index("node_id")[["x", "y"]]
    a = xy.loc[links["from_node"]].to_numpy(float)
    b = xy.loc[links["to_node"]].to_numpy(float)
    return np.hypot(*(a - b).T) / 1000.0


def main(argv: list[str] | None = None) -> int:
    """Build ``network.gpkg`` (``[--shared DIR] [--out DIR]``); exit code 2 when the source file is missing."""
    return run_build(argv, doc=__doc__, here=HERE, needs=ETIS, needs_label="ETISplus layers", build=build,
                     node_groups=["mode", "kind"], link_groups="mode")


if __name__ == "__main__":
    raise SystemExit(main())
