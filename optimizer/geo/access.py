"""Multimodal access of points: distances to each network, mode availability and the knooppuntwaarde (node value).

All coordinates in EPSG:31370 metres, distances in km. The thresholds and weights are named assumptions
(:class:`~optimizer.geo.access_rules.AccessParameters`, ``models/access.toml``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.distances import as_xy
from optimizer.geo.network_tables import ACCESS_KINDS, CEMT_RANK, MODES, Networks


def access_attributes(
    x_m: np.ndarray | Sequence[float],
    y_m: np.ndarray | Sequence[float],
    networks: Networks,
    thresholds: AccessParameters | None = None,
) -> pd.DataFrame:
    """Multimodal access of points: distances to each network, mode availability and knooppuntwaarde.

    Parameters
    ----------
    x_m, y_m
        Point coordinates in EPSG:31370 (metres), same length.
    networks
        Strategic (or user-replaced) networks.
    thresholds
        Access parameters; default read from ``models/access.toml``.

    Returns
    -------
    pandas.DataFrame
        One row per point:

        ``motorway_access_km``
            Straight distance to the nearest motorway exit or interchange node (road nodes of kind
            ``motorway_exit``/``motorway_junction``; border points excluded).
        ``water_km``, ``water_cemt``
            Straight distance to the nearest waterway stretch (link line, quays and port spurs included) of
            CEMT class ≥ ``water_min_cemt`` and that stretch's class.
        ``rail_freight_km``
            Straight distance to the nearest freight rail line (``freight = 1``) or rail freight terminal.
        ``seaport_km``
            Straight distance to the nearest node of one of the four seaport areas.
        ``has_road``, ``has_water``, ``has_rail``, ``has_seaport``
            Distance ≤ the mode's ``*_max_access_km`` (``seaport_max_km``).
        ``n_modes``
            ``has_road + has_water + has_rail``.
        ``knooppuntwaarde``
            Node value in [0, 1]: ``Σ_m w_m · 2^(−d_m / h_m) / Σ_m w_m`` over m ∈ {road, water, rail}, with d_m
            the distances above, w_m the weights and h_m the half-value distances (score 0.5 at d = h). The
            study gives no formula (digest A7); weights and h are named assumptions in ``access.toml``.
        All distances in km; ``inf`` when the network has no such element.
    """
    import shapely  # imported where used: runs without geography (matrix instances) never need it

    p = thresholds if thresholds is not None else AccessParameters.from_toml()
    pts_xy = as_xy(np.column_stack([np.asarray(x_m, dtype=float).ravel(), np.asarray(y_m, dtype=float).ravel()]))
    n = len(pts_xy)
    points = shapely.points(pts_xy)
    nodes = networks.nodes
    road_nodes = nodes[(nodes["mode"] == "road") & nodes["kind"].isin(ACCESS_KINDS["road"])]
    motorway_km = _nearest_point_km(pts_xy, road_nodes[["x", "y"]].to_numpy(dtype=float))

    wl = networks.mode_links("water")
    rank = wl["cemt_class"].map(CEMT_RANK).to_numpy(dtype=float)
    wl = wl[rank >= CEMT_RANK[p.water_min_cemt]]
    water_km, water_idx = _nearest_line_km(points, _link_lines(networks, wl))
    water_cemt = np.full(n, "", dtype=object)
    hit = water_idx >= 0
    water_cemt[hit] = wl["cemt_class"].to_numpy(dtype=object)[water_idx[hit]]

    rl = networks.mode_links("rail")
    rl = rl[pd.to_numeric(rl["freight"], errors="coerce").fillna(0).to_numpy() == 1]
    line_km, _ = _nearest_line_km(points, _link_lines(networks, rl))
    terminals = nodes[(nodes["mode"] == "rail") & (nodes["kind"] == "rail_terminal")]
    rail_km = np.minimum(line_km, _nearest_point_km(pts_xy, terminals[["x", "y"]].to_numpy(dtype=float)))

    ports = nodes[nodes["seaport"].astype(str).str.len() > 0]
    seaport_km = _nearest_point_km(pts_xy, ports[["x", "y"]].to_numpy(dtype=float))

    dist = {"road": motorway_km, "water": water_km, "rail": rail_km}
    has = {m: dist[m] <= p.max_access_km[m] for m in MODES}
    w = np.array([p.weights[m] for m in MODES])
    decay = np.column_stack([np.exp2(-dist[m] / p.half_value_km[m]) for m in MODES])  # 2^(-d/h), 0 at d=inf
    kv = decay @ w / w.sum()
    return pd.DataFrame({
        "motorway_access_km": motorway_km,
        "water_km": water_km,
        "water_cemt": water_cemt,
        "rail_freight_km": rail_km,
        "seaport_km": seaport_km,
        "has_road": has["road"],
        "has_water": has["water"],
        "has_rail": has["rail"],
        "has_seaport": seaport_km <= p.seaport_max_km,
        "n_modes": (has["road"].astype(int) + has["water"] + has["rail"]).astype(int),
        "knooppuntwaarde": np.clip(kv, 0.0, 1.0),
    })


def _nearest_point_km(pts_xy: np.ndarray, targets_xy: np.ndarray) -> np.ndarray:
    if len(targets_xy) == 0 or len(pts_xy) == 0:
        return np.full(len(pts_xy), np.inf)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(targets_xy).query(pts_xy, k=1)
    return d / 1000.0


def _link_lines(networks: Networks, links: pd.DataFrame) -> np.ndarray:
    """Straight segment geometry of each link (from node → to node), EPSG:31370."""
    import shapely

    xy = networks.nodes.set_index("node_id")[["x", "y"]]
    a = xy.loc[links["from_node"]].to_numpy(dtype=float)
    b = xy.loc[links["to_node"]].to_numpy(dtype=float)
    return shapely.linestrings(np.stack([a, b], axis=1)) if len(links) else np.array([], dtype=object)


def _nearest_line_km(points: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km) from each point to the nearest line and that line's index (−1 when there is none)."""
    dist = np.full(len(points), np.inf)
    idx = np.full(len(points), -1, dtype=int)
    if len(lines) == 0 or len(points) == 0:
        return dist, idx
    import shapely

    pairs, d = shapely.STRtree(lines).query_nearest(points, return_distance=True, all_matches=False)
    dist[pairs[0]] = d / 1000.0
    idx[pairs[0]] = pairs[1]
    return dist, idx
