"""Build node/link tables from line geometry: the shipped networks' build helpers and a planner's own line layer.

Split links at points, densify links, node loose lines, connect components: used by the build scripts of the shipped
networks (``instances/networks_*/build_*.py``). :func:`load_network_layer` reads a planner's official line layer
(GeoPackage, Shapefile, GeoJSON) as the network of one mode, to put in place of the shipped one with
:meth:`optimizer.geo.network_tables.NetworkTables.with_layer`. All geometry is EPSG:31370 (metres); link lengths are written in km and always measured on the
geometry. These run once at build time; loops here go over links or components, never over point pairs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree
from shapely.ops import substring

from optimizer.errors import InputError
from optimizer.geo.network_tables import (
    CEMT_FROM_INT,
    CEMT_TO_INT,
    CRS,
    LINK_COLUMNS,
    MODES,
    NODE_COLUMNS,
    NetworkTables,
    as_crs,
    conform,
    parse_cemt,
)


def split_links_at_points(
    nodes: pd.DataFrame,
    links: gpd.GeoDataFrame,
    points_xy: np.ndarray,
    new_nodes: pd.DataFrame,
    *,
    link_mask: np.ndarray | None = None,
    max_gap_m: float,
    merge_m: float = 25.0,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, np.ndarray]:
    """Put points on their nearest link as nodes, splitting the link there.

    Parameters
    ----------
    nodes
        Node table (``node_id``, ``x``, ``y``, ``kind``, ``name`` ...), EPSG:31370.
    links
        Link table with line geometry oriented from ``from_node`` to ``to_node``.
    points_xy
        (k, 2) points to place, EPSG:31370 metres.
    new_nodes
        k rows: the node each point becomes (``node_id``, ``kind``, ``name`` and any other node column); its
        ``x``/``y`` are set to the point's projection on the link.
    link_mask
        Links a point may be placed on (default all).
    max_gap_m
        Points farther than this from every allowed link are not placed (their result id is ``""``).
    merge_m
        A projection within this distance of an existing end node, or of another point's projection on the same
        link, reuses that node (an existing plain node takes the new node's ``kind``, ``name`` and extra columns).

    Returns
    -------
    nodes, links, node_of_point
        Updated tables (split links get ids ``<link_id>.<k>`` and ``source`` unchanged) and, per point, the id of
        the node it became (``""`` when it was farther than ``max_gap_m``).
    """
    nodes = nodes.copy().reset_index(drop=True)
    links = links.copy().reset_index(drop=True)
    new_nodes = new_nodes.reset_index(drop=True)
    pts = shapely.points(np.asarray(points_xy, dtype=float))
    cand = np.flatnonzero(np.ones(len(links), bool) if link_mask is None else np.asarray(link_mask, bool))
    result = np.full(len(pts), "", dtype=object)
    if len(cand) == 0 or len(pts) == 0:
        return nodes, links, result
    geoms = links.geometry.to_numpy()
    tree = shapely.STRtree(geoms[cand])
    (pi, li), _ = tree.query_nearest(pts, max_distance=max_gap_m, return_distance=True, all_matches=False)
    li = cand[li]
    pos = shapely.line_locate_point(geoms[li], pts[pi])
    length = shapely.length(geoms[li])
    node_row = pd.Index(nodes["node_id"])
    upgrade_kinds = {"waterway_node", "rail_node", "road_node"}
    extra_cols = [c for c in new_nodes.columns if c not in ("node_id", "x", "y")]
    drop_links, add_links = [], []
    for link in np.unique(li):  # one pass per link that receives points
        sel = np.flatnonzero(li == link)
        sel = sel[np.argsort(pos[sel], kind="stable")]
        row = links.iloc[link]
        cuts: list[float] = []
        cut_ids: list[str] = []
        for s in sel:
            p, at = pi[s], float(pos[s])
            if at <= merge_m or length[s] - at <= merge_m:
                end_id = row["from_node"] if at <= merge_m else row["to_node"]
                r = node_row.get_loc(end_id)
                if nodes.at[r, "kind"] in upgrade_kinds:
                    for c in extra_cols:
                        nodes.at[r, c] = new_nodes.at[p, c]
                result[p] = end_id
                continue
            if cuts and at - cuts[-1] <= merge_m:
                result[p] = cut_ids[-1]
                continue
            xy = shapely.get_coordinates(shapely.line_interpolate_point(geoms[link], at))[0]
            rec = new_nodes.iloc[p].to_dict()
            rec.update(x=float(xy[0]), y=float(xy[1]))
            nodes = pd.concat([nodes, pd.DataFrame([rec])], ignore_index=True)
            node_row = pd.Index(nodes["node_id"])
            cuts.append(at)
            cut_ids.append(rec["node_id"])
            result[p] = rec["node_id"]
        if not cuts:
            continue
        drop_links.append(link)
        add_links.extend(_split_one(row, geoms[link], cuts, cut_ids))
    if drop_links:
        keep = np.ones(len(links), bool)
        keep[drop_links] = False
        links = gpd.GeoDataFrame(pd.concat([links[keep], gpd.GeoDataFrame(add_links, crs=links.crs)],
                                           ignore_index=True), crs=links.crs)
    return nodes, links, result


def _split_one(row: pd.Series, geom, cuts: Sequence[float], cut_ids: Sequence[str]) -> list[dict]:  # noqa: ANN001
    bounds = [0.0, *cuts, float(shapely.length(geom))]
    ends = [row["from_node"], *cut_ids, row["to_node"]]
    out = []
    for k in range(len(bounds) - 1):
        piece = substring(geom, bounds[k], bounds[k + 1])
        rec = row.to_dict()
        rec.update(link_id=f"{row['link_id']}.{k + 1}", from_node=ends[k], to_node=ends[k + 1], geometry=piece,
                   length_km=float(shapely.length(piece)) / 1000.0)
        out.append(rec)
    return out


def densify_links(
    nodes: pd.DataFrame,
    links: gpd.GeoDataFrame,
    max_length_m: float,
    *,
    link_mask: np.ndarray | None = None,
    node_template: dict,
    id_prefix: str,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Split every (selected) link longer than ``max_length_m`` into equal pieces, adding plain nodes between them.

    New nodes get ``node_template`` (e.g. ``{"mode": "water", "kind": "waterway_node", "source": "split"}``) and ids
    ``<id_prefix><link_id>.<k>``; their coordinates lie on the link geometry.
    """
    mask = np.ones(len(links), bool) if link_mask is None else np.asarray(link_mask, bool)
    length = shapely.length(links.geometry.to_numpy())
    pieces = np.where(mask, np.ceil(length / max_length_m), 1).astype(int)
    long = np.flatnonzero(pieces > 1)
    if len(long) == 0:
        return nodes, links
    add_nodes, add_links = [], []
    geoms = links.geometry.to_numpy()
    for i in long:  # loop over links, at build time
        row = links.iloc[i]
        cuts = [length[i] * k / pieces[i] for k in range(1, pieces[i])]
        ids = [f"{id_prefix}{row['link_id']}.{k}" for k in range(1, pieces[i])]
        xy = shapely.get_coordinates(shapely.line_interpolate_point(geoms[i], cuts))
        for nid, (x, y) in zip(ids, xy):
            add_nodes.append({**node_template, "node_id": nid, "x": float(x), "y": float(y)})
        add_links.extend(_split_one(row, geoms[i], cuts, ids))
    keep = np.ones(len(links), bool)
    keep[long] = False
    nodes = pd.concat([nodes, pd.DataFrame(add_nodes)], ignore_index=True)
    links = gpd.GeoDataFrame(pd.concat([links[keep], gpd.GeoDataFrame(add_links, crs=links.crs)],
                                       ignore_index=True), crs=links.crs)
    return nodes, links


def lines_to_network(
    geoms: np.ndarray,
    attrs: pd.DataFrame,
    *,
    snap_m: float,
    node_prefix: str,
    link_prefix: str,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Node loose lines (no topology, e.g. OSM ways) into a graph: cut at crossings, merge ends closer than ``snap_m``.

    Parameters
    ----------
    geoms
        LineStrings in EPSG:31370.
    attrs
        One row of link attributes per line (copied to every piece of it).
    snap_m
        End points closer than this become one node.
    node_prefix, link_prefix
        Prefixes of the generated node and link ids.

    Returns
    -------
    nodes, links
        Nodes (``node_id``, ``x``, ``y``) at the merged end points; links (attributes + ``from_node``, ``to_node``,
        ``length_km``, geometry) between them.
    """
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(list(geoms))))
    noded = noded[shapely.length(noded) > 0]
    # attribute of each piece: the input line that covers its midpoint
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    (pi, li), _ = shapely.STRtree(np.asarray(geoms)).query_nearest(mid, return_distance=True, all_matches=False)
    src = np.empty(len(noded), dtype=int)
    src[pi] = li
    start, end = shapely.get_point(noded, 0), shapely.get_point(noded, -1)
    ends_xy = np.vstack([shapely.get_coordinates(start), shapely.get_coordinates(end)])
    n_nodes, label, nx_, ny_ = _snap_points(ends_xy, snap_m)
    ids = np.array([f"{node_prefix}{i}" for i in range(n_nodes)], dtype=object)
    a, b = label[: len(noded)], label[len(noded):]
    keep = a != b
    # the piece keeps its own geometry; its ends move to the merged node (< snap_m), so the chord never exceeds it
    geom = shapely.set_coordinates(noded.copy(), _moved_coords(noded, nx_[a], ny_[a], nx_[b], ny_[b]))
    links = gpd.GeoDataFrame(attrs.iloc[src].reset_index(drop=True), geometry=geom, crs=CRS)[keep]
    links = links.reset_index(drop=True)
    links["from_node"], links["to_node"] = ids[a[keep]], ids[b[keep]]
    links["length_km"] = shapely.length(links.geometry.to_numpy()) / 1000.0
    links["link_id"] = [f"{link_prefix}{i}" for i in range(len(links))]
    used = np.unique(np.concatenate([a[keep], b[keep]]))
    nodes = pd.DataFrame({"node_id": ids[used], "x": nx_[used], "y": ny_[used]})
    return nodes, links


def _moved_coords(lines: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    coords = coords.copy()
    coords[first] = np.column_stack([ax, ay])
    coords[last] = np.column_stack([bx, by])
    return coords


def connect_components(
    node_xy: np.ndarray,
    component: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight connectors that join every component to the rest by the shortest total length (Kruskal on components).

    Parameters
    ----------
    node_xy
        (n, 2) node coordinates, EPSG:31370 metres.
    component
        Component label of each node.

    Returns
    -------
    a, b, length_m
        Node rows of each connector's ends and its straight length in metres: the minimum spanning tree of the
        components under the closest-node distance, so ``c - 1`` connectors.
    """
    labels = np.unique(component)
    c = len(labels)
    if c <= 1:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    best = np.full((c, c), np.inf)
    pair = {}
    trees = [cKDTree(node_xy[component == lab]) for lab in labels]
    rows = [np.flatnonzero(component == lab) for lab in labels]
    for i in range(c):  # components, not pairs of points
        for j in range(i + 1, c):
            d, k = trees[j].query(node_xy[rows[i]], k=1)
            m = int(np.argmin(d))
            best[i, j] = best[j, i] = d[m]
            pair[(i, j)] = (rows[i][m], rows[j][k[m]])
    mst = minimum_spanning_tree(np.where(np.isfinite(best), np.maximum(best, 1e-6), 0)).tocoo()
    a, b, w = [], [], []
    for i, j in zip(mst.row, mst.col):
        i, j = min(i, j), max(i, j)
        ra, rb = pair[(i, j)]
        a.append(ra)
        b.append(rb)
        w.append(best[i, j])
    return np.asarray(a), np.asarray(b), np.asarray(w)


# ---------------------------------------------------------------------------------------------------------------
# A planner's own line layer
# ---------------------------------------------------------------------------------------------------------------
DEFAULT_SNAP_TOLERANCE_M = 25.0
LAYER_ATTRIBUTES = ("cemt_class", "freight_cat", "road_class", "road_ref", "name")


def load_network_layer(
    path: str | os.PathLike[str],
    mode: str,
    *,
    column_map: Mapping[str, str] | None = None,
    crs: str | int | None = None,
    layer: str | None = None,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    defaults: Mapping[str, Any] | None = None,
) -> NetworkTables:
    """Read a planner's line layer (GeoPackage, Shapefile, GeoJSON) as the network of one mode.

    Line end points and vertices closer than ``snap_tolerance_m`` are merged into one node; every segment between
    consecutive vertices becomes a link with its own geometry. Road nodes where a ``motorway`` line meets another
    road become ``motorway_exit`` (entries), other motorway nodes ``motorway_junction``/``motorway_vertex``, the rest
    ``road_node``; every vertex of a waterway is a potential ``quay`` (the layer has no quays of its own); rail
    nodes are ``rail_node``. Replace the shipped layer of that mode with
    :meth:`~optimizer.geo.network_tables.NetworkTables.with_layer`.

    Parameters
    ----------
    path
        Line file readable by pyogrio (``.gpkg``, ``.shp``, ``.geojson``, ...).
    mode
        ``"road"``, ``"water"`` or ``"rail"``.
    column_map
        Our attribute name → the column in the file, e.g. ``{"cemt_class": "CEMT_KLASSE"}``. Attributes:
        ``cemt_class`` (water, required: class per line, e.g. ``"Va"``, ``"VIb"``, ``4``), ``freight_cat`` (rail,
        Infrabel F1-F4, default ``"F1"``), ``road_class`` (road: ``motorway`` or anything else, default
        ``"motorway"``), ``road_ref`` and ``name`` (labels).
    crs
        CRS of the file (EPSG code or string) when the file has none. A file without CRS and no ``crs`` is an
        error; a file whose CRS differs from ``crs`` is an error too. The layer is reprojected to EPSG:31370.
    layer
        Layer name inside a multi-layer file (GeoPackage).
    snap_tolerance_m
        Distance in metres under which vertices are merged into one node.
    defaults
        Values for attributes missing from the file, e.g. ``{"cemt_class": "IV"}``.

    Returns
    -------
    NetworkTables
        Nodes and links of ``mode`` only (EPSG:31370; lengths in km, measured on the geometry).

    Raises
    ------
    InputError
        With file, row (1-based feature number) and field of the first problem found.
    """
    import geopandas as gpd  # heavy import only where files are read

    path = Path(path)
    column_map = dict(column_map or {})
    defaults = dict(defaults or {})
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; use one of {list(MODES)}", file=path, field="mode")
    if not path.exists():
        raise InputError("file not found", file=path)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as e:  # noqa: BLE001 - pyogrio raises several types
        raise InputError(f"cannot read line layer: {e}", file=path) from e
    if crs is not None:
        if gdf.crs is None:
            gdf = gdf.set_crs(crs)
        elif not gdf.crs.equals(as_crs(crs)):
            msg = f"file declares CRS {gdf.crs.to_string()} but crs={crs!r} was given"
            raise InputError(msg, file=path, field="crs")
    if gdf.crs is None:
        msg = "layer has no CRS; pass crs='EPSG:xxxx' (e.g. EPSG:31370 Lambert 72, EPSG:4326 WGS84)"
        raise InputError(msg, file=path, field="crs")
    geom_type = gdf.geometry.geom_type.to_numpy()
    ok = np.isin(geom_type, ["LineString", "MultiLineString"]) | gdf.geometry.isna().to_numpy()
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        msg = f"geometry is {geom_type[i]}; a network layer needs LineString/MultiLineString features"
        raise InputError(msg, file=path, row=i + 1, field="geometry")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if gdf.empty:
        raise InputError("layer has no line features", file=path, field="geometry")
    feature_row = gdf.index.to_numpy() + 1
    attrs = _layer_attributes(gdf, mode, column_map, defaults, path, feature_row)
    gdf = gdf.to_crs(CRS)
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    parts, part_feature = shapely.get_parts(geoms, return_index=True)
    coords, part_of_vertex = shapely.get_coordinates(parts, return_index=True)
    nodes, links = _vertices_to_graph(coords, part_of_vertex, part_feature, attrs, mode, snap_tolerance_m)
    return NetworkTables(nodes, links, (str(path),))


def road_node_kinds(a: np.ndarray, b: np.ndarray, motorway: np.ndarray, n_nodes: int) -> np.ndarray:
    """Kind of every road node from its links: ``motorway_exit`` where a motorway meets another road (an entry),
    ``motorway_junction`` (degree >= 3) or ``motorway_vertex`` on motorways only, ``road_node`` elsewhere."""
    on_mw = np.bincount(np.concatenate([a[motorway], b[motorway]]), minlength=n_nodes) > 0
    on_local = np.bincount(np.concatenate([a[~motorway], b[~motorway]]), minlength=n_nodes) > 0
    degree = np.bincount(np.concatenate([a, b]), minlength=n_nodes)
    return np.where(on_mw & on_local, "motorway_exit",
                    np.where(on_mw, np.where(degree >= 3, "motorway_junction", "motorway_vertex"), "road_node"))


def _layer_attributes(gdf, mode, column_map, defaults, path, feature_row) -> pd.DataFrame:  # noqa: ANN001
    unknown = set(column_map) - set(LAYER_ATTRIBUTES)
    if unknown:
        raise InputError(f"unknown attribute(s) in column_map: {sorted(unknown)}; ours: {list(LAYER_ATTRIBUTES)}",
                         file=path, field=sorted(unknown)[0])
    for ours, theirs in column_map.items():
        if theirs not in gdf.columns:
            msg = f"column {theirs!r} (for {ours}) not in the file; columns: {list(gdf.columns)}"
            raise InputError(msg, file=path, field=theirs)
    n = len(gdf)

    def column(ours: str, default: Any) -> pd.Series:
        col = column_map.get(ours, ours)
        if col in gdf.columns:
            return gdf[col].reset_index(drop=True)
        return pd.Series([defaults.get(ours, default)] * n)

    out = pd.DataFrame({"road_ref": column("road_ref", "").fillna("").astype(str),
                        "line": column("name", "").fillna("").astype(str)})
    out["road_class"] = column("road_class", "motorway").astype(str) if mode == "road" else ""
    out["cemt"], out["cemt_class"], out["freight_cat"] = 0, "", ""
    if mode == "water":
        raw = column("cemt_class", None)
        cemt = [parse_cemt(v) for v in raw]
        bad = [i for i, c in enumerate(cemt) if c is None]
        if bad:
            field = column_map.get("cemt_class", "cemt_class")
            if field not in gdf.columns and "cemt_class" not in defaults:
                msg = ("water layer needs a CEMT class per line: map your column with "
                       "column_map={'cemt_class': '<column>'} or give defaults={'cemt_class': 'IV'}")
                raise InputError(msg, file=path, field=field)
            i = bad[0]
            msg = f"CEMT class {raw.iloc[i]!r} not understood; use one of {list(CEMT_TO_INT)}"
            raise InputError(msg, file=path, row=int(feature_row[i]), field=field)
        out["cemt"] = [CEMT_TO_INT[c] for c in cemt]
        out["cemt_class"] = [CEMT_FROM_INT[CEMT_TO_INT[c]] for c in cemt]
    if mode == "rail":
        raw = column("freight_cat", "F1").fillna("").astype(str).str.strip().str.upper()
        bad = np.flatnonzero(~raw.isin(["F1", "F2", "F3", "F4"]).to_numpy())
        if len(bad):
            i = int(bad[0])
            msg = f"freight category {raw.iloc[i]!r} not understood (use F1, F2, F3 or F4)"
            raise InputError(msg, file=path, row=int(feature_row[i]), field=column_map.get("freight_cat", "freight_cat"))
        out["freight_cat"] = raw.to_numpy()
    return out


def _snap_points(xy: np.ndarray, r_m: float) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Merge points closer than ``r_m`` (chains of them too) into nodes at their mean: the way both line builders
    make nodes of line ends or vertices. ``(n_nodes, node of each point, node x, node y)``, EPSG:31370 metres."""
    n = len(xy)
    pairs = cKDTree(xy).query_pairs(r=r_m, output_type="ndarray")
    adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    n_nodes, label = connected_components(adj, directed=False)
    count = np.bincount(label, minlength=n_nodes)
    node_x = np.bincount(label, weights=xy[:, 0], minlength=n_nodes) / count
    node_y = np.bincount(label, weights=xy[:, 1], minlength=n_nodes) / count
    return n_nodes, label, node_x, node_y


def _vertices_to_graph(coords, part_of_vertex, part_feature, attrs, mode, tol_m  # noqa: ANN001
                       ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Snap vertices closer than ``tol_m`` into nodes and turn consecutive vertices into links (schema tables)."""
    n_nodes, label, node_x, node_y = _snap_points(coords, tol_m)
    same_part = part_of_vertex[1:] == part_of_vertex[:-1]
    a, b = label[:-1][same_part], label[1:][same_part]
    feature = part_feature[part_of_vertex[:-1][same_part]]
    keep = a != b  # segments shorter than the tolerance collapse into a node
    a, b, feature = a[keep], b[keep], feature[keep]
    seg = shapely.linestrings(np.stack([np.column_stack([node_x[a], node_y[a]]),
                                        np.column_stack([node_x[b], node_y[b]])], axis=1)) if len(a) else \
        np.array([], dtype=object)
    at = attrs.iloc[feature].reset_index(drop=True)
    used = np.unique(np.concatenate([a, b]))
    ids = np.array([f"{mode}:u{i:07d}" for i in range(n_nodes)], dtype=object)
    if mode == "road":
        kind = road_node_kinds(a, b, at["road_class"].to_numpy() == "motorway", n_nodes)[used]
    elif mode == "water":
        kind = np.full(len(used), "quay")
    else:
        kind = np.full(len(used), "rail_node")
    cemt_at_node = np.zeros(n_nodes, dtype=int)
    if mode == "water" and len(a):
        np.maximum.at(cemt_at_node, a, at["cemt"].to_numpy(int))
        np.maximum.at(cemt_at_node, b, at["cemt"].to_numpy(int))
    nodes = pd.DataFrame({"node_id": ids[used], "mode": mode, "kind": kind, "name": "", "x": node_x[used],
                          "y": node_y[used], "cemt": cemt_at_node[used], "source": "user"})
    links = pd.DataFrame({"link_id": [f"{mode}:ul{i:07d}" for i in range(len(a))], "mode": mode,
                          "from_node": ids[a], "to_node": ids[b], "length_km": shapely.length(seg) / 1000.0,
                          "source": "user", **{c: at[c].to_numpy() for c in at.columns}})
    nodes = conform(nodes, NODE_COLUMNS, shapely.points(nodes[["x", "y"]].to_numpy(dtype=float)))
    links = conform(links, LINK_COLUMNS, seg)
    return nodes, links
