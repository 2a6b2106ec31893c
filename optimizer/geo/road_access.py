"""Snapping points and zones to the road network: the access legs every network trip starts and ends with.

A point reaches the road by an *access leg*: to one of its ``k`` nearest road entry nodes (straight line x
``access_circuity``), or onto its nearest non-motorway road link (perpendicular x circuity) and along that link's real
geometry to either end. Coordinates are EPSG:31370 metres; legs in km. Vectorised (cKDTree, STRtree), never a loop
over points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from optimizer.errors import InputError
from optimizer.geo.distances import as_xy
from optimizer.geo.network_tables import NetworkTables

ROAD_ENTRY_KINDS = frozenset({"road_node", "motorway_exit"})  # where a vehicle can join the road network


@dataclass(frozen=True)
class RoadAccess:
    """Candidate road entry nodes of each point and the road km of the access leg to each.

    Attributes
    ----------
    node
        (n, K) row numbers into ``tables.nodes`` (road nodes of kind ``road_node`` or ``motorway_exit``).
    km
        (n, K) road km from the point to that node: straight x circuity to the ``k`` nearest entry nodes; for the
        last two columns, perpendicular x circuity onto the nearest non-motorway link + along the link to its end.
    """

    node: np.ndarray
    km: np.ndarray


def road_entry_rows(tables: NetworkTables) -> np.ndarray:
    """Row numbers (into ``tables.nodes``) of the road entry nodes; :class:`InputError` when there is none."""
    nodes = tables.nodes
    entry = np.flatnonzero((nodes["mode"].to_numpy() == "road") & nodes["kind"].isin(ROAD_ENTRY_KINDS).to_numpy())
    if len(entry) == 0:
        raise InputError("the road layer has no entry node (kind road_node or motorway_exit)", field="nodes.kind")
    return entry


def road_access(tables: NetworkTables, xy: np.ndarray, *, circuity: float, k: int = 3) -> RoadAccess:
    """Snap points to the road network (cKDTree on entry nodes + nearest local link, vectorised).

    Parameters
    ----------
    tables
        Network tables with a road layer.
    xy
        (n, 2) points, EPSG:31370 metres.
    circuity
        Factor (>= 1) on straight legs.
    k
        Nearest entry nodes per point.

    Returns
    -------
    RoadAccess
        ``k + 2`` candidates per point (``k`` when the road layer has no local links).
    """
    xy = as_xy(xy)
    entry = road_entry_rows(tables)
    k = int(min(k, len(entry)))
    d, j = cKDTree(tables.xy[entry]).query(xy, k=k)
    d, j = d.reshape(len(xy), k), j.reshape(len(xy), k)
    cand_node, cand_km = [entry[j]], [d / 1000.0 * circuity]
    links = tables.links
    local = np.flatnonzero((links["mode"].to_numpy() == "road") & (links["road_class"].to_numpy() != "motorway"))
    if len(local) and len(xy):
        geoms = links.geometry.to_numpy()[local]
        (pi, li), perp = shapely.STRtree(geoms).query_nearest(shapely.points(xy), return_distance=True,
                                                               all_matches=False)
        order = np.argsort(pi, kind="stable")  # one match per point (all_matches=False)
        pi, li, perp = pi[order], li[order], perp[order]
        g = geoms[li]
        along = shapely.line_locate_point(g, shapely.points(xy[pi])) / np.maximum(shapely.length(g), 1e-9)
        link_rows = local[li]
        a, b = tables.link_ends(links.iloc[link_rows])
        # geometry may run to -> from: measure from the end nearest the from node
        start = shapely.get_coordinates(shapely.get_point(g, 0))
        reverse = np.hypot(*(start - tables.xy[a]).T) > np.hypot(*(start - tables.xy[b]).T)
        along = np.where(reverse, 1.0 - along, along)
        length = links["length_km"].to_numpy(dtype=float)[link_rows]
        leg = perp / 1000.0 * circuity
        node2 = np.empty((len(xy), 2), dtype=np.int64)
        km2 = np.empty((len(xy), 2))
        node2[pi, 0], km2[pi, 0] = a, leg + along * length
        node2[pi, 1], km2[pi, 1] = b, leg + (1.0 - along) * length
        cand_node.append(node2)
        cand_km.append(km2)
    return RoadAccess(np.concatenate(cand_node, axis=1).astype(np.int64), np.concatenate(cand_km, axis=1))


def nearest_road_entry(tables: NetworkTables, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest road entry node (kind ``road_node`` or ``motorway_exit``) of each geometry.

    Parameters
    ----------
    tables
        Network tables with a road layer.
    geoms
        Shapely geometries (points or polygons), EPSG:31370.

    Returns
    -------
    rows, distance_m
        Row numbers into ``tables.nodes`` and the straight distance in metres from the geometry (0 inside).
    """
    entry = road_entry_rows(tables)
    tree = shapely.STRtree(shapely.points(tables.xy[entry]))
    (gi, ni), dist = tree.query_nearest(np.asarray(geoms), return_distance=True, all_matches=False)
    rows = np.empty(len(geoms), dtype=np.int64)
    d = np.empty(len(geoms))
    rows[gi], d[gi] = entry[ni], dist
    return rows, d
