"""GeoDataFrames in, an instance out: :meth:`Instance.from_frames <optimizer.data.instance.Instance.from_frames>`.

A notebook user has a demand layer (points or polygons with inhabitants), a layer of candidate sites (points or
polygons with free hectares) and perhaps region polygons. :func:`check_frame` checks each layer once, at the
boundary, with the check every GIS layer passes (:func:`optimizer.data.layer_fields.check_layer`, shared with
``siting locate``) — a CRS must be set (a layer without one is refused, never guessed), geometries present, of the
right type and valid — and converts it to EPSG:31370 (Belgian Lambert 72, metres). The tables then pass the same
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

from optimizer.data.layer_fields import (
    POLYGON_TYPES,
    as_text,
    check_layer,
    nearest_unit,
    polygon_unit_of,
    region_of,
)
from optimizer.errors import InputError

if TYPE_CHECKING:
    from optimizer.data.instance import Instance
    from optimizer.data.programmes import Programme

M2_PER_KM2 = 1_000_000.0
DEMAND_LABEL, CANDIDATES_LABEL = "<demand GeoDataFrame>", "<candidates GeoDataFrame>"


NO_CRS_IN_FRAME = ("the GeoDataFrame has no CRS: set it (gdf.set_crs('EPSG:31370') for Lambert 72 metres, "
                   "'EPSG:4326' for degrees); siting never guesses one")


def check_frame(gdf: object, label: str, *, polygons_only: bool = False, notes: list[str] | None = None):  # noqa: ANN201
    """A checked copy of a GeoDataFrame in EPSG:31370 (:func:`optimizer.data.layer_fields.check_layer`, the check
    every GIS layer passes, from a file or from Python); :class:`InputError` on the first problem."""
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"expected a GeoDataFrame, got a {type(gdf).__name__}; build one with "
                         "geopandas.GeoDataFrame(frame, geometry=..., crs=...)", file=label)
    return check_layer(gdf, label, polygons_only=polygons_only, notes=notes, no_crs=NO_CRS_IN_FRAME)


def _text_ids(values: pd.Series) -> np.ndarray:
    return np.array([as_text(v) for v in values], dtype=object)


def instance_from_frames(*, demand: object, candidates: object, programmes: Sequence[str | Programme],
                         regions: Mapping[str, object] | None, parameters: Mapping[str, object] | None,
                         assumptions: Mapping[str, object] | None, name: str, title: str, description: str) -> Instance:
    """Build and validate an instance from GeoDataFrames: the body of :meth:`Instance.from_frames`, which holds the
    arguments' defaults and documentation (here every argument is required, so they live in one place)."""
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
    gd = check_frame(demand, DEMAND_LABEL, notes=notes)
    gc = check_frame(candidates, CANDIDATES_LABEL, notes=notes)

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
        polys = check_frame(layer, label, polygons_only=True, notes=notes)
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
    is_zone = gc.geometry.geom_type.isin(POLYGON_TYPES).to_numpy()
    if is_zone.any():  # zones keep their polygons, as a manifest's zone layer does (facility points inside them)
        sites["geometry"] = np.where(is_zone, gc.geometry.to_numpy(), None)
        if "area_ha" not in sites:
            sites["area_ha"] = np.where(is_zone, gc.geometry.area.to_numpy() / 1e4, np.nan)
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
        plain = frame.drop(columns=["geometry"], errors="ignore")
        digest.update(pd.util.hash_pandas_object(plain, index=True).to_numpy().tobytes())
        digest.update(",".join(map(str, frame.columns)).encode())
        if "geometry" in frame:  # zone polygons, as WKB
            import shapely

            digest.update(b"".join(shapely.to_wkb(g) if g is not None else b"-" for g in frame["geometry"]))
    return Instance(
        name=name, path=Path("<frames>"), title=title, description="\n".join([description, *notes]).strip(),
        source="GeoDataFrames (Instance.from_frames)", demand=demand_table, candidates=candidates_table,
        programmes=progs, parameters=params, assumptions=resolved,
        overrides={**{k: v for k, v in (parameters or {}).items()},
                   **{f"assumption.{k}": v for k, v in (assumptions or {}).items()}},
        data_hash=digest.hexdigest(),
    )


def _demand_unit_of(points, demand, ids: np.ndarray) -> np.ndarray:  # noqa: ANN001 - GeoSeries, GeoDataFrame
    """The demand unit of each site: the demand polygon it lies in, else the nearest demand unit (as for
    ``siting locate``'s layers: :mod:`optimizer.data.layer_fields`)."""
    out = polygon_unit_of(points, demand, ids)
    todo = out == ""
    if todo.any():
        out[todo] = nearest_unit(points[todo], demand.geometry.representative_point(), ids, CANDIDATES_LABEL,
                                 rows=np.flatnonzero(todo))
    return out
