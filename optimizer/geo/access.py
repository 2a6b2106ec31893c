"""Knooppuntwaarde (node value) and multimodal access of zones or points, from their real access to the networks.

Per geometry (a zone polygon, or a point), in km:

``motorway_access_km``
    Road distance on the network from the geometry's facility point (:func:`optimizer.geo.zones.zone_facility_points`)
    to the nearest motorway junction or exit: access leg (:func:`optimizer.geo.road_access.road_access`) + shortest
    road path (one multi-source ``csgraph.dijkstra`` from all motorway nodes).
``water_km``, ``water_cemt``
    Straight distance from the zone (0 when it touches) to the nearest quay, port or terminal on a waterway of CEMT
    class >= ``water_min_cemt``, and that node's class.
``rail_freight_km``
    Straight distance from the zone to the nearest rail line of a freight category in ``rail_freight_categories``
    (Infrabel F1-F4) or to a rail freight terminal.
``seaport``, ``has_seaport``
    The seaport area the geometry lies in (a polygon: at least ``seaport_zone_min_share`` of its area), from the
    port geometry (:func:`optimizer.geo.zones.seaport_of`); distance to a port node plays no role.

A mode is available (``has_road``, ``has_water``, ``has_rail``) when its distance is at most ``<mode>_max_access_km``;
``n_modes`` counts them (the study's "at least 2 performant modes", M1 L5334-5335); the node value is
``kv = Σ_m w_m · 2^(−d_m / h_m) / Σ_m w_m`` (1 on all three networks, 0.5 for a mode at its half-value distance).
Formula, weights, half-value distances and thresholds are named assumptions in ``models/access.toml`` (the study
gives none: digest A7). Coordinates EPSG:31370 metres.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.network_tables import CEMT_FROM_INT, MODES, WATER_TRANSFER_KINDS, NetworkTables, mode_csr

if TYPE_CHECKING:  # geopandas, shapely, scipy and the zone geometry are imported where used: ACCESS_COLUMNS needs none
    import geopandas as gpd

MOTORWAY_KINDS = frozenset({"motorway_junction", "motorway_exit"})
ACCESS_COLUMNS: tuple[str, ...] = ("motorway_access_km", "water_km", "water_cemt", "rail_freight_km", "has_road",
                                   "has_water", "has_rail", "n_modes", "knooppuntwaarde", "seaport", "has_seaport")


def access_attributes(
    tables: NetworkTables,
    geoms: Any,
    *,
    params: AccessParameters | None = None,
    seaport_areas: gpd.GeoDataFrame | None = None,
    access_xy: np.ndarray | None = None,
) -> pd.DataFrame:
    """Access distances, available modes, knooppuntwaarde and seaport of zones or points (see the module docstring).

    Parameters
    ----------
    tables
        Network tables (road, water and rail layers).
    geoms
        Shapely geometries (zone polygons or points) or an (n, 2) array of points, EPSG:31370.
    params
        Default: :meth:`AccessParameters.from_toml`.
    seaport_areas
        If given, add ``seaport`` (name, from geometry) and ``has_seaport``; without it both are empty/false.
    access_xy
        (n, 2) road access point of each geometry (its facility point); default the zone's point nearest its road
        entry (points: the point itself).

    Returns
    -------
    pandas.DataFrame
        One row per geometry with :data:`ACCESS_COLUMNS` (+ ``motorway_straight_km``). Distances in km (``inf``
        when the layer is missing); ``water_cemt`` is the roman class ('' when there is none).
    """
    import shapely
    from scipy.sparse.csgraph import dijkstra

    from optimizer.geo.road_access import road_access
    from optimizer.geo.zones import seaport_of, zone_facility_points

    p = params if params is not None else AccessParameters.from_toml()
    geoms = _as_geoms(geoms)
    n = len(geoms)
    nodes, links = tables.nodes, tables.links
    if access_xy is None:
        access_xy, _ = zone_facility_points(tables, geoms)
    access_xy = np.asarray(access_xy, dtype=float).reshape(n, 2)

    # road: network km to the nearest motorway junction/exit (multi-source Dijkstra over the road links)
    kind = nodes["kind"].to_numpy()
    mw = np.flatnonzero((nodes["mode"].to_numpy() == "road") & np.isin(kind, list(MOTORWAY_KINDS)))
    motorway_km = np.full(n, np.inf)
    motorway_straight = np.full(n, np.inf)
    if len(mw) and n:
        road = mode_csr(tables, links["mode"].to_numpy() == "road")
        d_mw = dijkstra(road, directed=True, indices=mw, min_only=True)
        acc = road_access(tables, access_xy, circuity=p.access_circuity, k=p.k_access)
        motorway_km = (acc.km + d_mw[acc.node]).min(axis=1)
        motorway_straight = _nearest_km(geoms, shapely.points(tables.xy[mw]))[0]

    # water: straight to the nearest quay/port/terminal on CEMT >= min
    wq = np.flatnonzero((nodes["mode"].to_numpy() == "water") & np.isin(kind, list(WATER_TRANSFER_KINDS))
                        & (nodes["cemt"].to_numpy() >= p.water_min_cemt_rank))
    water_km, w_idx = _nearest_km(geoms, shapely.points(tables.xy[wq]))
    cemt = np.where(w_idx >= 0, nodes["cemt"].to_numpy()[wq][np.maximum(w_idx, 0)], 0) if len(wq) else \
        np.zeros(n, dtype=int)

    # rail: straight to the nearest freight line of the categories, or to a freight terminal
    rl = links[(links["mode"] == "rail") & links["freight_cat"].isin(list(p.rail_freight_categories))]
    line_km, _ = _nearest_km(geoms, rl.geometry.to_numpy())
    term = np.flatnonzero((nodes["mode"].to_numpy() == "rail") & (kind == "rail_terminal"))
    term_km, _ = _nearest_km(geoms, shapely.points(tables.xy[term]))
    rail_km = np.minimum(line_km, term_km)

    dist = {"road": motorway_km, "water": water_km, "rail": rail_km}
    has = {m: dist[m] <= p.max_access_km[m] for m in MODES}
    w = np.array([p.weights[m] for m in MODES])
    decay = np.column_stack([np.exp2(-dist[m] / p.half_value_km[m]) for m in MODES])  # 0 at d = inf
    seaport = (seaport_of(geoms, seaport_areas, min_share=p.seaport_min_share) if seaport_areas is not None
               else np.full(n, "", dtype=object))
    return pd.DataFrame({
        "motorway_access_km": motorway_km, "motorway_straight_km": motorway_straight,
        "water_km": water_km, "water_cemt": [CEMT_FROM_INT.get(int(c), "") for c in cemt],
        "rail_freight_km": rail_km,
        "has_road": has["road"], "has_water": has["water"], "has_rail": has["rail"],
        "n_modes": (has["road"].astype(int) + has["water"] + has["rail"]).astype(int),
        "knooppuntwaarde": np.clip(decay @ w / w.sum(), 0.0, 1.0),
        "seaport": seaport.astype(str), "has_seaport": np.array([len(s) > 0 for s in seaport], dtype=bool),
    })


def _as_geoms(geoms: Any) -> np.ndarray:
    import geopandas as gpd
    import shapely

    if isinstance(geoms, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return np.asarray(geoms.geometry.to_numpy() if isinstance(geoms, gpd.GeoDataFrame) else geoms.to_numpy(),
                          dtype=object)
    arr = np.asarray(geoms)
    if arr.dtype != object:
        xy = np.asarray(arr, dtype=float).reshape(-1, 2)
        return shapely.points(xy)
    return arr


def _nearest_km(geoms: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km) from each geometry to the nearest target geometry (0 inside) and that target's index."""
    import shapely

    dist = np.full(len(geoms), np.inf)
    idx = np.full(len(geoms), -1, dtype=np.int64)
    if len(targets) == 0 or len(geoms) == 0:
        return dist, idx
    (gi, ti), d = shapely.STRtree(np.asarray(targets)).query_nearest(np.asarray(geoms), return_distance=True,
                                                                      all_matches=False)
    dist[gi], idx[gi] = d / 1000.0, ti
    return dist, idx
