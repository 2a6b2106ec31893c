"""One GIS layer read and checked at the boundary, and its fields turned into checked columns (``siting locate``).

:func:`read_layer` reads a planner's layer (any file OGR reads) and returns it in EPSG:31370 (Belgian Lambert 72,
metres), features in the layer's order; the field readers (:func:`field_values`, :func:`numbers`, :func:`ids`,
:func:`flags`, :func:`labels`, :func:`as_text`) turn one field into a checked column. Every problem is an
:class:`~optimizer.errors.InputError` naming the layer (``FILE`` or ``FILE|layername=LAYER``, as QGIS writes a
source), the feature (numbered from 1, as everywhere in this project) and the field.

* a layer without a CRS is refused; any other CRS (geographic or projected) is converted to EPSG:31370, with a
  note;
* points and polygons are accepted (as the caller asks); an invalid polygon is refused with the reason, or repaired
  with ``shapely.make_valid`` when asked.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.settings import CRS

POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
TRUE_WORDS = {"true", "1", "yes", "y", "ja", "j", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "nee", "f", ""}


@dataclass(frozen=True)
class LayerSource:
    """A GIS layer: a file any OGR driver reads (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, ...) and a layer."""

    path: Path
    layer: str | None = None
    option: str = ""  # the command-line option that named it, for messages

    @classmethod
    def parse(cls, text: str, option: str = "") -> LayerSource:
        """``FILE``, ``FILE::LAYER`` or QGIS's own ``FILE|layername=LAYER``."""
        text = str(text).strip()
        layer = None
        if "|layername=" in text:
            text, _, rest = text.partition("|layername=")
            layer, _, options = rest.partition("|")
            if options:  # e.g. a QGIS filter: siting reads whole layers, so it must not drop it silently
                msg = (f"the source carries QGIS options siting does not apply ({options}); give FILE or "
                       "FILE::LAYER (save a filtered layer as its own file first)")
                raise InputError(msg, file=text, field=option or None)
        elif "::" in text:
            text, _, layer = text.partition("::")
        return cls(Path(text).expanduser(), layer or None, option)

    @property
    def label(self) -> str:
        """How messages name the layer: ``FILE``, or ``FILE|layername=LAYER`` as QGIS writes a layer's source."""
        return f"{self.path}|layername={self.layer}" if self.layer else str(self.path)

    def describe(self) -> str:
        """Short name for the generated manifest: ``FILE.gpkg (layer LAYER)``."""
        return f"{self.path.name}" + (f" (layer {self.layer})" if self.layer else "")


def read_layer(source: LayerSource, *, allow_polygons: bool = True, polygons_only: bool = False,
               repair: bool = False, notes: list[str] | None = None):  # noqa: ANN201 - GeoDataFrame
    """Read a layer, check it and return it in EPSG:31370 (features in the layer's order, index 0..n-1).

    Parameters
    ----------
    source
        The file and layer.
    allow_polygons, polygons_only
        Accepted geometry types: points (and multipoints), polygons (and multipolygons), or polygons only.
    repair
        Repair invalid polygons with ``shapely.make_valid`` (with a note) instead of refusing them.
    notes
        List that receives one line per conversion made (CRS, repaired geometries).

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's fields and geometry, in EPSG:31370 (metres).
    """
    import geopandas as gpd
    import pyogrio

    label = source.label
    if not source.path.exists():
        raise InputError("file not found; check the path", file=source.path, field=source.option or None)
    try:
        layers = pyogrio.list_layers(source.path)
    except Exception as e:  # noqa: BLE001 - any driver failure is an input problem
        msg = f"not a GIS file GDAL can read ({_one_line(e)}); save the layer as GeoPackage, Shapefile or GeoJSON"
        raise InputError(msg, file=source.path) from e
    names = [str(n) for n in layers[:, 0]]
    if source.layer is None and len(names) > 1:
        msg = f"the file holds {len(names)} layers ({', '.join(names)}): pick one with FILE::LAYER"
        raise InputError(msg, file=source.path, field="layer")
    if source.layer is not None and source.layer not in names:
        msg = f"no layer {source.layer!r} in the file; use one of {', '.join(names)}"
        raise InputError(msg, file=source.path, field="layer")
    try:
        gdf = gpd.read_file(source.path, layer=source.layer or names[0], engine="pyogrio")
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot read the layer ({_one_line(e)})", file=label) from e
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None or "geometry" not in gdf:
        raise InputError("the layer has no geometry: give points or polygons", file=label, field="geometry")
    return check_layer(gdf, label, allow_polygons=allow_polygons, polygons_only=polygons_only, repair=repair,
                       notes=notes, no_crs=NO_CRS_IN_FILE)


NO_CRS_IN_FILE = ("the layer has no CRS (a Shapefile without .prj?); assign its CRS in QGIS (Layer ▸ Set CRS) or save "
                  "it with one, e.g. EPSG:31370")


def check_layer(gdf, label: str, *, allow_polygons: bool = True, polygons_only: bool = False,  # noqa: ANN001, ANN201
                repair: bool = False, notes: list[str] | None = None, no_crs: str = NO_CRS_IN_FILE):
    """Check a layer (read from a file, or a GeoDataFrame given in Python) and return a copy in EPSG:31370.

    The one boundary check of every GIS layer the engine takes (:func:`read_layer`,
    :meth:`Instance.from_frames <optimizer.data.instance.Instance.from_frames>`): features present, a CRS (a layer
    without one is refused with ``no_crs``, never guessed), every geometry present, of an accepted type and valid
    (or repaired when ``repair``); then converted to EPSG:31370 with a note. Rows are renumbered 0..n-1; the
    caller's frame is not modified. Problems name ``label``, the feature (from 1) and the field.
    """
    import geopandas as gpd
    import shapely

    notes = notes if notes is not None else []
    gdf = gdf.reset_index(drop=True)  # a new frame: the caller's stays as it is
    if gdf.empty:
        raise InputError("the layer has no features: add at least one feature, or pick another layer", file=label)
    if gdf.crs is None:
        raise InputError(no_crs, file=label, field="crs")
    geom = gdf.geometry
    missing = geom.isna() | geom.is_empty
    if missing.any():
        raise InputError("feature without geometry: give it a point or a polygon, or remove it", file=label,
                         row=first_index(missing) + 1, field="geometry")
    kinds = geom.geom_type.to_numpy()
    allowed = POLYGON_TYPES if polygons_only else (POINT_TYPES + POLYGON_TYPES if allow_polygons else POINT_TYPES)
    wrong = ~np.isin(kinds, allowed)
    if wrong.any():
        k = first_index(wrong)
        want = "polygons" if polygons_only else "points or polygons" if allow_polygons else "points"
        raise InputError(f"a {kinds[k]} geometry where {want} are expected", file=label, row=k + 1, field="geometry")
    invalid = ~shapely.is_valid(geom.to_numpy())
    if invalid.any():
        k = first_index(invalid)
        reason = shapely.is_valid_reason(geom.iloc[k])
        if not repair:
            msg = (f"invalid geometry ({reason}); repair it (QGIS: Vector geometry ▸ Fix geometries) or let siting "
                   "repair it with --repair-geometry")
            raise InputError(msg, file=label, row=k + 1, field="geometry")
        fixed = shapely.make_valid(geom.to_numpy()[invalid])
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        broken = np.array([g is None or g.is_empty for g in fixed])
        if broken.any():
            k = int(np.flatnonzero(invalid)[np.flatnonzero(broken)[0]])
            raise InputError("invalid geometry that cannot be repaired into a polygon; fix or remove it", file=label,
                             row=k + 1, field="geometry")
        values = geom.to_numpy().copy()
        values[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(values, crs=gdf.crs, index=gdf.index))
        notes.append(f"{label}: repaired {int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
                     f"with make_valid (first: feature {k + 1}, {reason})")
    if not gdf.crs.equals(CRS):
        kind = "geographic" if gdf.crs.is_geographic else "projected"
        notes.append(f"{label}: converted from {gdf.crs.to_string()} ({kind}) to {CRS}")
        try:
            gdf = gdf.to_crs(CRS)
        except Exception as e:  # noqa: BLE001 - pyproj failures
            raise InputError(f"cannot convert the layer to {CRS} ({_one_line(e)})", file=label, field="crs") from e
    return gdf


def region_of(points, regions, label: str, what: str) -> np.ndarray:  # noqa: ANN001 - GeoSeries, GeoDataFrame
    """Name (column ``_region``) of the region polygon each point lies in (on the border counts); a point in none
    is an error naming ``label`` and the feature."""
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=regions.crs)
    hit = gpd.sjoin(pts, regions[["_region", "geometry"]], how="left", predicate="intersects")
    hit = hit[~hit.index.duplicated(keep="first")].sort_index()
    outside = hit["_region"].isna().to_numpy()
    if outside.any():
        msg = f"the {what} lies in no region of the region layer; extend the region layer or remove the feature"
        raise InputError(msg, file=label, row=first_index(outside) + 1, field="geometry")
    return hit["_region"].astype(str).to_numpy()


def polygon_unit_of(points, units, unit_ids: np.ndarray) -> np.ndarray:  # noqa: ANN001 - GeoSeries, GeoDataFrame
    """The id of the polygon of ``units`` each point lies in ('' for none; points among the units are ignored)."""
    import geopandas as gpd

    out = np.full(len(points), "", dtype=object)
    is_polygon = units.geometry.geom_type.isin(POLYGON_TYPES).to_numpy()
    if is_polygon.any():
        polys = gpd.GeoDataFrame({"_unit": unit_ids[is_polygon]}, geometry=units.geometry[is_polygon].to_numpy(),
                                 crs=units.crs)
        pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=units.crs)
        hit = gpd.sjoin(pts, polys, how="left", predicate="intersects")
        hit = hit[~hit.index.duplicated(keep="first")].sort_index()
        inside = hit["_unit"].notna().to_numpy()
        out[inside] = hit["_unit"].to_numpy()[inside]
    return out


def nearest_unit(points, unit_points, unit_ids: np.ndarray, label: str, *, rows: np.ndarray | None = None,  # noqa: ANN001
                 groups: np.ndarray | None = None, unit_groups: np.ndarray | None = None) -> np.ndarray:
    """The id of the nearest unit to each point (cKDTree), within the point's own group when ``groups`` are given.

    ``rows`` are the points' feature positions (from 0) for messages; a group without any unit is an error.
    """
    from scipy.spatial import cKDTree

    rows = np.arange(len(points)) if rows is None else np.asarray(rows)
    pxy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    uxy = np.column_stack([unit_points.x.to_numpy(), unit_points.y.to_numpy()])
    groups = np.zeros(len(pxy), dtype=object) if groups is None else np.asarray(groups, dtype=object)
    unit_groups = np.zeros(len(uxy), dtype=object) if unit_groups is None else np.asarray(unit_groups, dtype=object)
    out = np.full(len(pxy), "", dtype=object)
    for group in pd.unique(groups):
        mine = np.flatnonzero(groups == group)
        members = np.flatnonzero(unit_groups == group)
        if members.size == 0:
            msg = f"the zone lies in region {group!r}, which holds no demand feature; add demand there or drop the zone"
            raise InputError(msg, file=label, row=int(rows[mine[0]]) + 1, field="geometry")
        _, nearest = cKDTree(uxy[members]).query(pxy[mine])
        out[mine] = unit_ids[members[np.asarray(nearest, dtype=int)]]
    return out


def _polygonal(geometry):  # noqa: ANN001, ANN202 - shapely geometry
    """The polygonal part of a repaired geometry (make_valid may add stray lines or points)."""
    import shapely

    if geometry is None:
        return None
    if geometry.geom_type in POLYGON_TYPES:
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in POLYGON_TYPES]
    return shapely.union_all(parts) if parts else None


def first_index(mask) -> int:  # noqa: ANN001
    """Position (from 0) of the first true value of ``mask``: its feature number is this + 1."""
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def field_values(gdf, name: str, label: str, option: str) -> pd.Series:  # noqa: ANN001
    """A field of the layer, or an error listing the fields (with the closest match)."""
    if name not in gdf.columns or name == gdf.geometry.name:
        fields = [str(c) for c in gdf.columns if c != gdf.geometry.name]
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        msg = f"no field {name!r} ({option}); {hint}fields of the layer: {', '.join(fields) or 'none'}"
        raise InputError(msg, file=label, field=name)
    return gdf[name]


def numbers(series: pd.Series, label: str, name: str, what: str, *, blank_ok: bool = False) -> np.ndarray:
    """A numeric field: every value a finite number ≥ 0 (blank allowed when ``blank_ok``; returned as NaN)."""
    text = series.astype("string").str.strip()
    blank = series.isna().to_numpy() | (text == "").fillna(True).to_numpy()
    if blank.any() and not blank_ok:
        raise InputError(f"empty {what}: give every feature a number", file=label, row=first_index(blank) + 1,
                         field=name)
    values = pd.to_numeric(series.where(~blank), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~blank
    if bad.any():
        k = first_index(bad)
        msg = f"{series.iloc[k]!r} is not a number: the {what} must be numeric (a number field, decimal point)"
        raise InputError(msg, file=label, row=k + 1, field=name)
    if np.isinf(values).any():
        raise InputError(f"infinite {what}", file=label, row=first_index(np.isinf(values)) + 1, field=name)
    negative = values < 0
    if negative.any():
        k = first_index(negative)
        raise InputError(f"negative {what} {values[k]:g}: it must be ≥ 0", file=label, row=k + 1, field=name)
    return values


def ids(series: pd.Series | None, n: int, label: str, name: str | None) -> np.ndarray:
    """Unique text ids: the field's values (whole numbers without '.0'), or the feature numbers 1..n."""
    if series is None:
        return np.array([str(i + 1) for i in range(n)], dtype=object)
    text = np.array([as_text(v) for v in series], dtype=object)
    empty = text == ""
    if empty.any():
        raise InputError("empty id: give every feature an id", file=label, row=first_index(empty) + 1, field=name)
    dup = pd.Series(text).duplicated().to_numpy()
    if dup.any():
        k = first_index(dup)
        other = int(np.flatnonzero(text == text[k])[0]) + 1
        msg = f"duplicate id {text[k]!r} (also feature {other}): ids must be unique"
        raise InputError(msg, file=label, row=k + 1, field=name)
    return text


def as_text(value: object) -> str:
    """A field value as text: whole floats without '.0' (NIS codes read as 11001.0), missing as ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def flags(series: pd.Series, label: str, name: str) -> np.ndarray:
    """A yes/no field (boolean, 0/1, true/false, yes/no, ja/nee)."""
    words = np.array([as_text(v).lower() for v in series], dtype=object)
    bad = ~np.isin(words, list(TRUE_WORDS | FALSE_WORDS))
    if bad.any():
        k = first_index(bad)
        raise InputError(f"{series.iloc[k]!r} is not a yes/no value: use true/false or 1/0", file=label, row=k + 1,
                         field=name)
    return np.isin(words, list(TRUE_WORDS))


def labels(series: pd.Series, label: str, name: str, what: str) -> np.ndarray:
    """A text field every feature fills in (names, regions), as text."""
    text = np.array([as_text(v) for v in series], dtype=object)
    empty = text == ""
    if empty.any():
        raise InputError(f"empty {what}: give every feature one", file=label, row=first_index(empty) + 1, field=name)
    return text
