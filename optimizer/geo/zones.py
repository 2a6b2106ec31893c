"""Candidate zones with geometry: the facility point inside a zone, and "in a seaport" from geometry.

The shipped zone layer (``instances/flanders/zones/zones.gpkg``, built from CORINE 2018 by
``instances/flanders/zones/build_zones.py``) has polygons of industrial (class 121) and port (class 123) land, points
for the aggregate candidates of municipalities with free land but no polygon, and the four seaport areas. Instances
read it (or a planner's own zone layer) through :mod:`optimizer.data.tables`; this module holds the geometry rules.
All geometry is EPSG:31370 (Belgian Lambert 72, metres).
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.errors import InputError
from optimizer.geo.network_tables import NetworkTables
from optimizer.geo.road_access import nearest_road_entry
from optimizer.settings import CRS, PROJECT_ROOT

ZONES_GPKG = PROJECT_ROOT / "instances" / "flanders" / "zones" / "zones.gpkg"
ZONE_COLUMNS: tuple[str, ...] = ("zone_id", "name", "zone_class", "clc_code", "nis", "municipality", "seaport",
                                 "area_ha", "municipal_park_ha", "free_ha", "free_basis", "aggregate", "x", "y")


def load_zones(path: str | os.PathLike[str] | None = None, *, aggregates: bool = True) -> gpd.GeoDataFrame:
    """Read the candidate zones (polygons) and, if asked, the aggregate candidates (points) as one table.

    Parameters
    ----------
    path
        GeoPackage with layers ``zones`` and ``aggregate_candidates``; default the shipped ``zones.gpkg``.
    aggregates
        Append the aggregate candidates (``aggregate = True``, point geometry at the municipal centroid).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`ZONE_COLUMNS` + geometry, EPSG:31370; ``free_ha`` and ``area_ha`` in hectares.
    """
    path = Path(path) if path is not None else ZONES_GPKG
    if not path.is_file():
        raise InputError("zone layer not found (rebuild with instances/flanders/zones/build_zones.py)", file=path)
    layers = ["zones", "aggregate_candidates"] if aggregates else ["zones"]
    parts = []
    for layer in layers:
        gdf = gpd.read_file(path, layer=layer)
        missing = [c for c in ZONE_COLUMNS if c not in gdf.columns]
        if missing:
            raise InputError(f"layer {layer!r} misses column(s) {missing}", file=path, field=missing[0])
        if gdf.crs is None or not gdf.crs.equals(CRS):
            gdf = gdf.to_crs(CRS) if gdf.crs is not None else gdf.set_crs(CRS)
        parts.append(gdf[[*ZONE_COLUMNS, "geometry"]])
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=CRS)
    out["aggregate"] = out["aggregate"].astype(bool)
    out["seaport"] = out["seaport"].fillna("").astype(str)
    return out


def load_seaport_areas(path: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """The four seaport areas (layer ``seaport_areas``: ``seaport``, ``study_area_ha``, ``free_ha``, polygon)."""
    path = Path(path) if path is not None else ZONES_GPKG
    if not path.is_file():
        raise InputError("zone layer not found (rebuild with instances/flanders/zones/build_zones.py)", file=path)
    return gpd.read_file(path, layer="seaport_areas").to_crs(CRS)


def facility_points(geoms: np.ndarray, target_xy: np.ndarray, *, inset_m: float = 5.0) -> np.ndarray:
    """The point of each zone closest to a target point, guaranteed inside the zone (vectorised over zones).

    For a polygon the point is taken on the polygon shrunk by ``inset_m`` (so it lies strictly inside, not on the
    boundary) and checked with ``contains``; a polygon too thin to shrink, or a check that fails, falls back to the
    polygon's ``point_on_surface``. A point geometry (aggregate candidate) is its own facility point.

    Parameters
    ----------
    geoms
        Shapely geometries, EPSG:31370.
    target_xy
        (n, 2) target per zone (e.g. its road access node), EPSG:31370 metres.
    inset_m
        Distance the point keeps from the zone boundary.

    Returns
    -------
    numpy.ndarray
        (n, 2) facility points, EPSG:31370 metres.
    """
    geoms = np.asarray(geoms, dtype=object)
    target = shapely.points(np.asarray(target_xy, dtype=float))
    area = shapely.area(geoms) > 0
    out = shapely.get_coordinates(shapely.point_on_surface(geoms))
    if area.any():
        poly = geoms[area]
        inner = shapely.buffer(poly, -inset_m)
        inner = np.where(shapely.is_empty(inner), poly, inner)
        near = shapely.get_point(shapely.shortest_line(inner, target[area]), 0)
        inside = shapely.contains(poly, near)
        out[np.flatnonzero(area)[inside]] = shapely.get_coordinates(near[inside])
    pts = shapely.get_type_id(geoms) == 0
    out[pts] = shapely.get_coordinates(geoms[pts])
    return out


def zone_facility_points(tables: NetworkTables, geoms: np.ndarray, *, inset_m: float = 5.0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Facility point of each zone: its point closest to its nearest road entry node.

    Returns
    -------
    xy, entry_rows
        (n, 2) facility points (inside the polygons, EPSG:31370 m) and the row of each zone's road entry node.
    """
    rows, _ = nearest_road_entry(tables, geoms)
    return facility_points(geoms, tables.xy[rows], inset_m=inset_m), rows


def seaport_of(geoms: np.ndarray, seaport_areas: gpd.GeoDataFrame, *, min_share: float = 0.5) -> np.ndarray:
    """Name of the seaport each geometry lies in, from geometry ('' if none).

    A point is in a seaport when the seaport area contains it; a polygon when at least ``min_share`` of its area
    lies inside (assumption ``seaport_zone_min_share``). Distance to a port node plays no role.

    Parameters
    ----------
    geoms
        Shapely geometries, EPSG:31370.
    seaport_areas
        Layer ``seaport_areas`` of the zones GeoPackage (:func:`load_seaport_areas`).
    min_share
        Share of a polygon's area that must lie inside.

    Returns
    -------
    numpy.ndarray of str
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), "", dtype=object)
    areas = seaport_areas.geometry.to_numpy()
    names = seaport_areas["seaport"].to_numpy()
    gi, ai = shapely.STRtree(areas).query(geoms, predicate="intersects")
    if len(gi) == 0:
        return out
    g, a = geoms[gi], areas[ai]
    has_area = shapely.area(g) > 0
    share = np.where(has_area, shapely.area(shapely.intersection(g, a)) / np.where(has_area, shapely.area(g), 1.0),
                     shapely.within(g, a).astype(float))
    ok = share >= (np.where(has_area, min_share, 1.0) - 1e-12)
    # a polygon over two seaports (not in the data) takes the larger share: with repeated indices numpy keeps the
    # last assignment, so order by share ascending
    order = np.lexsort((share, gi))
    order = order[ok[order]]
    out[gi[order]] = names[ai[order]]
    return out
