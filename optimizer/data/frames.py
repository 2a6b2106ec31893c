"""GeoDataFrames in, an instance out: :meth:`Instance.from_frames <optimizer.data.instance.Instance.from_frames>`.

A notebook user has a demand layer (points or polygons with inhabitants), a layer of candidate sites (points or
polygons with free hectares) and perhaps region polygons. :func:`check_layer` checks each layer once, at the
boundary — a CRS must be set (a layer without one is refused, never guessed), geometries present, of the right
type and valid — and converts it to EPSG:31370 (Belgian Lambert 72, metres). The tables then pass the same
validators as a manifest's tables (:mod:`optimizer.data.tables`), so a frame is held to the same rules as a file;
a problem is reported as ``<demand GeoDataFrame>:ROW:FIELD`` with rows numbered from 1 (the frame's position).
The caller's frames are never modified: everything works on copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.settings import CRS

if TYPE_CHECKING:
    from optimizer.data.instance import Instance
    from optimizer.data.programmes import Programme

POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
M2_PER_KM2 = 1_000_000.0
DEMAND_LABEL, CANDIDATES_LABEL = "<demand GeoDataFrame>", "<candidates GeoDataFrame>"


def check_layer(gdf: object, label: str, *, polygons_only: bool = False, notes: list[str] | None = None):  # noqa: ANN201
    """A checked copy of a layer in EPSG:31370 (rows renumbered 0..n-1); :class:`InputError` on the first problem.

    Parameters
    ----------
    gdf
        A ``geopandas.GeoDataFrame`` with its CRS set (any CRS; it is converted).
    label
        How messages name the layer (a file name, or ``<demand GeoDataFrame>``).
    polygons_only
        Accept polygons only (region layers); otherwise points and polygons.
    notes
        Receives one line per conversion made (the CRS).
    """
    import geopandas as gpd
    import shapely

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"expected a GeoDataFrame, got a {type(gdf).__name__}; build one with "
                         "geopandas.GeoDataFrame(frame, geometry=..., crs=...)", file=label)
    gdf = gdf.copy().reset_index(drop=True)
    if gdf.empty:
        raise InputError("the layer has no features: give at least one", file=label)
    if gdf.crs is None:
        raise InputError("the layer has no CRS: set it (gdf.set_crs('EPSG:31370') for Lambert 72 metres, "
                         "'EPSG:4326' for degrees); siting never guesses one", file=label, field="crs")
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    if missing.any():
        raise InputError("feature without geometry: give it a point or a polygon, or drop it", file=label,
                         row=_first(missing) + 1, field="geometry")
    kinds = geom.geom_type.to_numpy()
    allowed = POLYGON_TYPES if polygons_only else POINT_TYPES + POLYGON_TYPES
    wrong = ~np.isin(kinds, allowed)
    if wrong.any():
        k = _first(wrong)
        want = "polygons" if polygons_only else "points or polygons"
        raise InputError(f"a {kinds[k]} geometry where {want} are expected", file=label, row=k + 1, field="geometry")
    invalid = ~shapely.is_valid(geom.to_numpy())
    if invalid.any():
        k = _first(invalid)
        raise InputError(f"invalid geometry ({shapely.is_valid_reason(geom.iloc[k])}); repair it first, e.g. with "
                         "shapely.make_valid", file=label, row=k + 1, field="geometry")
    if not gdf.crs.equals(CRS):
        if notes is not None:
            notes.append(f"{label}: converted from {gdf.crs.to_string()} to {CRS}")
        gdf = gdf.to_crs(CRS)
    return gdf


def region_of(points, regions, label: str, what: str) -> np.ndarray:  # noqa: ANN001 - GeoSeries, GeoDataFrame
    """The ``_region`` of the polygon each point lies in (the border counts); a point in no region is an error."""
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=regions.crs)
    hit = gpd.sjoin(pts, regions[["_region", "geometry"]], how="left", predicate="intersects")
    hit = hit[~hit.index.duplicated(keep="first")].sort_index()
    outside = hit["_region"].isna().to_numpy()
    if outside.any():
        raise InputError(f"the {what} lies in no region polygon; extend the regions or drop the feature", file=label,
                         row=_first(outside) + 1, field="geometry")
    return hit["_region"].astype(str).to_numpy()


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def _text_ids(values: pd.Series) -> np.ndarray:
    """Ids as text: whole floats without '.0' (codes read as 11001.0 stay 11001)."""
    def one(v: object) -> str:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()
    return np.array([one(v) for v in values], dtype=object)


def instance_from_frames(
    *,
    demand: object,
    candidates: object,
    programmes: Sequence[str | Programme],
    regions: Mapping[str, object] | None = None,
    parameters: Mapping[str, object] | None = None,
    assumptions: Mapping[str, object] | None = None,
    name: str = "frames",
    title: str = "",
    description: str = "",
) -> Instance:
    """Build and validate an instance from GeoDataFrames (see :meth:`Instance.from_frames`)."""
    from optimizer.data.instance import (
        Instance,
        load_programmes,
        resolve_assumptions,
        resolve_models,
        resolve_parameters,
    )
    from optimizer.data.tables import validate_candidates, validate_demand

    notes: list[str] = []
    progs = load_programmes(list(programmes), where="programmes")
    if any(p.kind == "chain" for p in progs):
        raise InputError("a plastics-chain programme needs its existing sites from a manifest: use load_instance",
                         file="programmes", field=next(p.id for p in progs if p.kind == "chain"))
    params = resolve_parameters(dict(parameters or {}), Path("<parameters>"), {})
    resolved = resolve_assumptions(dict(assumptions or {}), Path("<assumptions>"), {})
    progs = resolve_models(progs, params, resolved, {}, "<parameters>")
    gd = check_layer(demand, DEMAND_LABEL, notes=notes)
    gc = check_layer(candidates, CANDIDATES_LABEL, notes=notes)

    d_points = gd.geometry.representative_point()
    table = pd.DataFrame(gd.drop(columns=gd.geometry.name))
    if "nis" not in table:
        table["nis"] = [str(i + 1) for i in range(len(table))]
        notes.append(f"{DEMAND_LABEL}: no 'nis' column: the demand units are numbered 1..{len(table)}")
    table["nis"] = _text_ids(table["nis"])
    if "name" not in table:
        table["name"] = table["nis"]
    if "area_km2" not in table:
        is_poly = gd.geometry.geom_type.isin(POLYGON_TYPES).to_numpy()
        table["area_km2"] = np.where(is_poly, gd.geometry.area.to_numpy() / M2_PER_KM2, 0.0)
    table["x"], table["y"] = d_points.x.to_numpy(), d_points.y.to_numpy()
    for column, layer in (regions or {}).items():
        if column in table:
            raise InputError(f"the demand frame already has a {column!r} column: drop it or the regions entry",
                             file=DEMAND_LABEL, field=column)
        label = f"<regions[{column!r}] GeoDataFrame>"
        polys = check_layer(layer, label, polygons_only=True, notes=notes)
        names = (_text_ids(polys[column]) if column in polys else _text_ids(polys["name"]) if "name" in polys
                 else np.array([f"region {i + 1}" for i in range(len(polys))], dtype=object))
        table[column] = region_of(d_points, polys.assign(_region=names), DEMAND_LABEL, "demand feature")

    c_points = gc.geometry.representative_point()
    sites = pd.DataFrame(gc.drop(columns=gc.geometry.name))
    if "site_id" not in sites:
        sites["site_id"] = [str(i + 1) for i in range(len(sites))]
    sites["site_id"] = _text_ids(sites["site_id"])
    if "name" not in sites:
        sites["name"] = sites["site_id"]
    if "zone_type" not in sites:
        sites["zone_type"] = progs[0].zone_types[0]
        notes.append(f"{CANDIDATES_LABEL}: no 'zone_type' column: every site counts as {progs[0].zone_types[0]!r}")
    sites["x"], sites["y"] = c_points.x.to_numpy(), c_points.y.to_numpy()
    if "nis" in sites:
        sites["nis"] = _text_ids(sites["nis"])
    else:
        sites["nis"] = _demand_unit_of(c_points, gd, table["nis"].to_numpy())
        notes.append(f"{CANDIDATES_LABEL}: no 'nis' column: each site belongs to the demand polygon it lies in, "
                     "else to the nearest demand unit (its region and centrumstad flag follow)")

    demand_table = validate_demand(table, Path(DEMAND_LABEL), progs)
    candidates_table = validate_candidates(sites, Path(CANDIDATES_LABEL), demand_table, resolved)
    variant = str(params["size_variant"])
    if not any(p.knows_variant(variant) for p in progs):
        progs[0].sizes_for(variant, strict=True)
    digest = hashlib.sha256()
    for frame in (demand_table, candidates_table):
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(",".join(map(str, frame.columns)).encode())
    return Instance(
        name=name, path=Path("<frames>"), title=title, description="\n".join([description, *notes]).strip(),
        source="GeoDataFrames (Instance.from_frames)", demand=demand_table, candidates=candidates_table,
        programmes=progs, parameters=params, assumptions=resolved,
        overrides={**{k: v for k, v in (parameters or {}).items()},
                   **{f"assumption.{k}": v for k, v in (assumptions or {}).items()}},
        data_hash=digest.hexdigest(),
    )


def _demand_unit_of(points, demand, ids: np.ndarray) -> np.ndarray:  # noqa: ANN001 - GeoSeries, GeoDataFrame
    """The demand unit of each site: the demand polygon it lies in, else the nearest demand unit (cKDTree)."""
    import geopandas as gpd
    from scipy.spatial import cKDTree

    out = np.full(len(points), "", dtype=object)
    is_poly = demand.geometry.geom_type.isin(POLYGON_TYPES).to_numpy()
    if is_poly.any():
        polys = gpd.GeoDataFrame({"_unit": ids[is_poly]}, geometry=demand.geometry[is_poly].to_numpy(),
                                 crs=demand.crs)
        hit = gpd.sjoin(gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=demand.crs), polys,
                        how="left", predicate="intersects")
        hit = hit[~hit.index.duplicated(keep="first")].sort_index()
        inside = hit["_unit"].notna().to_numpy()
        out[inside] = hit["_unit"].to_numpy()[inside]
    todo = out == ""
    if todo.any():
        centres = demand.geometry.representative_point()
        tree = cKDTree(np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()]))
        _, nearest = tree.query(np.column_stack([points.x.to_numpy()[todo], points.y.to_numpy()[todo]]))
        out[todo] = ids[np.asarray(nearest, dtype=int)]
    return out
