"""GIS layers in, a generated instance out: what ``siting locate`` runs on instead of a hand-written manifest.

A planner has a demand layer (points or polygons with a weight field), a layer of candidate zones (points or
polygons with a free-area field) and, optionally, a layer of regions. :func:`build_instance` reads and checks
them once, at the boundary, and turns them into the two tables of an ordinary instance plus its manifest;
:func:`write_instance` writes those files, so the same run can be repeated with ``siting solve MANIFEST``. Inside
the engine nothing is special about a located instance: it is loaded, compiled, solved, verified and exported by
the same pipeline as every named instance.

How the layers become tables (all coordinates in EPSG:31370, Belgian Lambert 72, metres):

* each layer is read and checked by :mod:`optimizer.data.layer_fields` (features in the layer's order, a problem
  reported as ``FILE:FEATURE:FIELD``, any CRS converted to EPSG:31370 with a note, invalid polygons refused or
  repaired);
* points are used as they are, polygons by their representative point (a point guaranteed inside the polygon);
* each demand feature is one demand unit (the instance's ``nis`` is its id); its weight is inhabitants (turned
  into t/yr by the programme's named per-inhabitant assumption) or, with ``weight_unit="t"``, t/yr itself;
* each candidate zone is tied to one demand unit, whose region, centrumstad flag and uitrustingsgraad it takes: a
  field of the candidate layer naming the unit, else the demand polygon the zone lies in, else the nearest demand
  unit (in the zone's own region when the regions come from a region layer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.instance import PARAMETERS, check_parameter
from optimizer.data.layer_fields import (
    POLYGON_TYPES,
    LayerSource,
    as_text,
    field_values,
    first_index,
    flags,
    ids,
    labels,
    numbers,
    nearest_unit,
    polygon_unit_of,
    read_layer,
    region_of,
)
from optimizer.data.programmes import Programme, load_programme
from optimizer.errors import InputError
from optimizer.settings import M2_PER_HA

M2_PER_KM2 = 1_000_000.0
AREA_UNITS = {"ha": 1.0, "m2": 1.0 / M2_PER_HA}  # factor to hectares
WEIGHT_UNITS = ("inhabitants", "t")

__all__ = ["CandidateSpec", "DemandSpec", "GeneratedInstance", "LayerSource", "LocateRequest", "RegionSpec",
           "build_instance", "write_instance"]


# ---------------------------------------------------------------------------------------------------------------
# What the user asks for
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemandSpec:
    """Which fields of the demand layer mean what (``None``: not given)."""

    source: LayerSource
    weight: str
    weight_unit: str = "inhabitants"
    id: str | None = None
    name: str | None = None
    area: str | None = None  # km²; default: the polygon's own area, 0 for points
    centrumstad: str | None = None  # true/false
    uitrustingsgraad: str | None = None  # a0 .. c2, for the type environments near_urban / mixed_urban


@dataclass(frozen=True)
class CandidateSpec:
    """Which fields of the candidate-zone layer mean what."""

    source: LayerSource
    free_area: str
    free_area_unit: str = "ha"
    id: str | None = None
    name: str | None = None
    zone_type: str | None = None  # default: the programme's first zone type for every zone
    total_area: str | None = None  # same unit as free_area; seaports may leave free area blank
    demand_link: str | None = None  # field holding the id of the demand unit the zone lies in


@dataclass(frozen=True)
class RegionSpec:
    """Regions for 'one facility per region': a field of the demand layer, or a polygon layer."""

    field: str | None = None
    source: LayerSource | None = None
    name: str | None = None  # name field of the region layer (default: feature number)


@dataclass(frozen=True)
class LocateRequest:
    """Everything ``siting locate`` needs to generate an instance."""

    demand: DemandSpec
    candidates: CandidateSpec
    programme: str
    regions: RegionSpec = field(default_factory=RegionSpec)
    name: str = "located"
    parameters: dict[str, str] = field(default_factory=dict)  # PARAMETERS key -> value (as --set)
    assumptions: dict[str, str] = field(default_factory=dict)  # assumption name -> value
    repair_geometry: bool = False
    command: str = ""  # the command line, recorded in the manifest


@dataclass
class GeneratedInstance:
    """A manifest and its two tables, ready to be written; ``columns`` maps each table column back to the layer."""

    name: str
    manifest: str
    demand: pd.DataFrame
    candidates: pd.DataFrame
    sources: dict[str, LayerSource]  # "demand" / "candidates" -> layer
    columns: dict[str, dict[str, str]]  # "demand" / "candidates" -> {table column: layer field or description}
    notes: list[str] = field(default_factory=list)

    def translate(self, error: InputError, folder: Path) -> InputError:
        """An error the instance loader found in a generated table, restated in terms of the user's layer."""
        if error.file is None:
            return error
        path = Path(error.file)
        for role in ("demand", "candidates"):
            if path.name == f"{role}.csv" and path.parent.resolve() == folder.resolve():
                row = None if error.row is None else error.row - 1  # CSV line 2 = feature 1
                where = self.columns[role].get(error.field or "", error.field)
                return InputError(error.message, file=self.sources[role].label, row=row, field=where)
        if path.name == f"{self.name}.toml" and path.parent.resolve() == folder.resolve():
            return InputError(error.message, file="siting locate", row=error.row, field=error.field)
        return error



# ---------------------------------------------------------------------------------------------------------------
# Layers -> tables
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _DemandLayer:
    """The demand layer read once: the table, where its columns came from, and what the candidates link to."""

    table: pd.DataFrame
    columns: dict[str, str]
    layer: object  # GeoDataFrame, EPSG:31370
    points: object  # GeoSeries of representative points
    is_polygon: np.ndarray
    regions: object | None  # the region layer (GeoDataFrame with ``_region``), when the regions come from one


def build_instance(request: LocateRequest, notes: list[str] | None = None) -> GeneratedInstance:
    """Read and check the layers of ``request`` and turn them into an instance (nothing is written).

    ``notes`` receives a line per conversion or default taken (also when a later check fails). Raises
    :class:`~optimizer.errors.InputError` naming the layer, the feature and the field of the first problem.
    """
    notes = [] if notes is None else notes
    programme, region_column = _check_request(request)  # before any layer is read
    demand = _demand_table(request, programme, region_column, notes)
    candidates, columns_c = _candidate_table(request, programme, demand, region_column, notes)
    assumptions = dict(request.assumptions)
    if request.demand.weight_unit == "t":  # the weight is the flow itself: one 'inhabitant' is one tonne per year
        assumptions[programme.demand_per_inhabitant] = "1.0"
    manifest = _manifest(request, programme, assumptions, demand.columns, columns_c, notes)
    return GeneratedInstance(request.name, manifest, demand.table, candidates,
                             {"demand": request.demand.source, "candidates": request.candidates.source},
                             {"demand": demand.columns, "candidates": columns_c}, notes)


def _check_request(request: LocateRequest) -> tuple[Programme, str]:
    """The programme, the parameters, the units and the choice of regions; returns the programme and the region
    column it counts per."""
    programme = load_programme(request.programme)
    if programme.kind == "chain":
        msg = f"{request.programme!r} is a multi-echelon chain programme: run it with `siting chain`, not from layers"
        raise InputError(msg, file="--programme", field=request.programme)
    variant = str(request.parameters.get("size_variant", PARAMETERS["size_variant"].default))
    if variant != "final":
        programme.sizes_for(variant, strict=True)  # an unknown variant is refused before any layer is read
    region_column = programme.region_for(variant)
    for key, value in request.parameters.items():
        check_parameter(key, value)
    spec_d, spec_c, spec_r = request.demand, request.candidates, request.regions
    if spec_d.weight_unit not in WEIGHT_UNITS:
        raise InputError(f"must be one of {', '.join(WEIGHT_UNITS)}", file="--weight-unit", field=spec_d.weight_unit)
    if spec_c.free_area_unit not in AREA_UNITS:
        raise InputError(f"must be one of {', '.join(AREA_UNITS)}", file="--free-area-unit",
                         field=spec_c.free_area_unit)
    if spec_r.field and spec_r.source:
        raise InputError("give --regions or --region-field, not both", file="--regions", field="--region-field")
    if region_column == "flanders" and (spec_r.field or spec_r.source):
        count = programme.count_bounds(variant)[0]
        msg = (f"programme {programme.id!r} places {count:g} facilities over the whole study area, not per region; "
               "drop --regions / --region-field")
        raise InputError(msg, file="--programme", field=programme.id)
    if region_column != "flanders" and not (spec_r.field or spec_r.source):
        msg = (f"programme {programme.id!r} places {programme.per_region} per {region_column}: give the regions as "
               "a polygon layer (--regions FILE) or as a field of the demand layer (--region-field FIELD)")
        raise InputError(msg, file="--programme", field=programme.id)
    return programme, region_column


def _demand_table(request: LocateRequest, programme: Programme, region_column: str, notes: list[str]) -> _DemandLayer:
    """The demand table (``nis``, name, population, x, y, area_km2, centrumstad, region ...) from the demand layer
    and, when the regions come from a polygon layer, the region each demand feature lies in."""
    spec_d, spec_r = request.demand, request.regions
    gd = read_layer(spec_d.source, repair=request.repair_geometry, notes=notes)
    ld = spec_d.source.label
    d_ids = ids(field_values(gd, spec_d.id, ld, "--demand-id") if spec_d.id else None, len(gd), ld, spec_d.id)
    weight = numbers(field_values(gd, spec_d.weight, ld, "--weight"), ld, spec_d.weight, "weight")
    d_points = gd.geometry.representative_point()
    is_poly_d = gd.geometry.geom_type.isin(POLYGON_TYPES).to_numpy()
    if spec_d.area:
        area_km2 = numbers(field_values(gd, spec_d.area, ld, "--demand-area"), ld, spec_d.area, "area (km²)")
    else:
        area_km2 = np.where(is_poly_d, gd.geometry.area.to_numpy() / M2_PER_KM2, 0.0)
        if not is_poly_d.all():
            notes.append(f"{ld}: point features have no area (no --demand-area): their intrazonal distance is 0")
    demand = pd.DataFrame({
        "nis": d_ids,
        "name": (labels(field_values(gd, spec_d.name, ld, "--demand-name"), ld, spec_d.name, "name")
                 if spec_d.name else d_ids),
        "population": weight,
        "x": d_points.x.to_numpy(),
        "y": d_points.y.to_numpy(),
        "area_km2": area_km2,
    })
    columns_d = {"nis": spec_d.id or "feature number", "name": spec_d.name or spec_d.id or "feature number",
                 "population": spec_d.weight, "x": "geometry", "y": "geometry",
                 "area_km2": spec_d.area or "polygon area"}
    if spec_d.centrumstad:
        demand["centrumstad"] = flags(field_values(gd, spec_d.centrumstad, ld, "--demand-centrumstad"), ld,
                                      spec_d.centrumstad)
        columns_d["centrumstad"] = spec_d.centrumstad
    else:
        demand["centrumstad"] = False
        if programme.size_rule == "centrumstad" and request.parameters.get("size_rule", "programme") == "programme":
            notes.append(f"no --demand-centrumstad: no region holds a centrumstad, so programme {programme.id!r} "
                         "gets its small size everywhere (its size rule); give the field, or --size-rule free")
    if spec_d.uitrustingsgraad:
        demand["uitrustingsgraad"] = [as_text(v) for v in field_values(gd, spec_d.uitrustingsgraad, ld,
                                                                       "--demand-uitrustingsgraad")]
        columns_d["uitrustingsgraad"] = spec_d.uitrustingsgraad

    region_layer = None
    if spec_r.field:
        demand[region_column] = labels(field_values(gd, spec_r.field, ld, "--region-field"), ld, spec_r.field,
                                       "region")
        columns_d[region_column] = spec_r.field
    elif spec_r.source:
        region_layer = read_layer(spec_r.source, polygons_only=True, repair=request.repair_geometry, notes=notes)
        lr = spec_r.source.label
        region_names = (labels(field_values(region_layer, spec_r.name, lr, "--regions-name"), lr, spec_r.name,
                               "region name") if spec_r.name
                        else np.array([f"region {i + 1}" for i in range(len(region_layer))], dtype=object))
        region_layer = region_layer.assign(_region=region_names)
        demand[region_column] = region_of(d_points, region_layer, ld, "demand feature")
        columns_d[region_column] = f"region of {spec_r.source.describe()}"
    return _DemandLayer(demand, columns_d, gd, d_points, is_poly_d, region_layer)


def _candidate_table(request: LocateRequest, programme: Programme, demand: _DemandLayer, region_column: str,
                     notes: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The candidate table (site_id, name, zone_type, nis, x, y, total_ha, free_ha) from the candidate layer, each
    zone tied to its demand unit; returns it with where each column came from."""
    spec_c = request.candidates
    gc = read_layer(spec_c.source, repair=request.repair_geometry, notes=notes)
    lc = spec_c.source.label
    n_c = len(gc)
    c_points = gc.geometry.representative_point()
    to_ha = AREA_UNITS[spec_c.free_area_unit]
    zone_types = (np.array([as_text(v) for v in field_values(gc, spec_c.zone_type, lc, "--zone-type")], dtype=object)
                  if spec_c.zone_type else np.full(n_c, programme.zone_types[0], dtype=object))
    total = (numbers(field_values(gc, spec_c.total_area, lc, "--total-area"), lc, spec_c.total_area, "total area",
                     blank_ok=True) * to_ha if spec_c.total_area else np.full(n_c, np.nan))
    # a seaport may leave its free area blank: the loader then takes total area × seaport_free_share (assumption)
    free = numbers(field_values(gc, spec_c.free_area, lc, "--free-area"), lc, spec_c.free_area, "free area",
                   blank_ok=True) * to_ha
    blank = np.isnan(free) & ~((zone_types == "seaport") & ~np.isnan(total))
    if blank.any():
        msg = "empty free area: give every zone its free area" + (
            " (only a seaport with a total area may leave it blank)" if spec_c.total_area else "")
        raise InputError(msg, file=lc, row=first_index(blank) + 1, field=spec_c.free_area)
    c_ids = ids(field_values(gc, spec_c.id, lc, "--candidate-id") if spec_c.id else None, n_c, lc, spec_c.id)
    candidates = pd.DataFrame({
        "site_id": c_ids,
        "name": (labels(field_values(gc, spec_c.name, lc, "--candidate-name"), lc, spec_c.name, "name")
                 if spec_c.name else c_ids),
        "zone_type": zone_types,
        "nis": _link(gc, c_points, spec_c, demand, region_column),
        "x": c_points.x.to_numpy(),
        "y": c_points.y.to_numpy(),
        "total_ha": total,
        "free_ha": free,
    })
    columns_c = {"site_id": spec_c.id or "feature number", "name": spec_c.name or spec_c.id or "feature number",
                 "zone_type": spec_c.zone_type or f"all {programme.zone_types[0]}", "x": "geometry", "y": "geometry",
                 "free_ha": spec_c.free_area, "total_ha": spec_c.total_area or "total_ha",
                 "nis": spec_c.demand_link or "geometry"}
    if not spec_c.zone_type:
        notes.append(f"no --zone-type: every candidate zone counts as {programme.zone_types[0]!r} "
                     f"(programme {programme.id!r} may use {', '.join(programme.zone_types)})")
    return candidates, columns_c


def _link(gc, c_points, spec: CandidateSpec, demand: _DemandLayer, region_column: str) -> np.ndarray:  # noqa: ANN001
    """The demand unit each candidate zone belongs to (its region, centrumstad flag and uitrustingsgraad): the
    ``--candidate-demand`` field, else the demand polygon the zone lies in, else the nearest demand unit (in the
    zone's own region when the regions come from a region layer)."""
    lc = spec.source.label
    table, gd, region_layer = demand.table, demand.layer, demand.regions
    unit_ids = table["nis"].to_numpy()
    if spec.demand_link:
        link = np.array([as_text(v) for v in field_values(gc, spec.demand_link, lc, "--candidate-demand")],
                        dtype=object)
        unknown = ~np.isin(link, unit_ids)
        if unknown.any():
            k = first_index(unknown)
            msg = (f"{link[k]!r} is not the id of a demand feature (--demand-id); give the id of the demand unit the "
                   "zone lies in")
            raise InputError(msg, file=lc, row=k + 1, field=spec.demand_link)
        return link
    zone_region = region_of(c_points, region_layer, lc, "candidate zone") if region_layer is not None else None
    unit_region = table[region_column].to_numpy() if region_layer is not None else None
    out = polygon_unit_of(c_points, gd, unit_ids)  # the demand polygon the zone's point lies in
    if zone_region is not None:  # a polygon of another region does not count
        of_unit = pd.Series(unit_region, index=unit_ids)
        out[(out != "") & (of_unit.reindex(out.astype(str)).to_numpy() != zone_region)] = ""
    todo = out == ""
    if todo.any():  # the nearest demand unit (in the zone's own region when regions come from a layer)
        out[todo] = nearest_unit(c_points[todo], demand.points, unit_ids, lc, rows=np.flatnonzero(todo),
                                 groups=None if zone_region is None else zone_region[todo], unit_groups=unit_region)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------------------------
def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _manifest(request: LocateRequest, programme: Programme, assumptions: dict[str, str], columns_d: dict,
              columns_c: dict, notes: list[str]) -> str:
    """The generated manifest: tables, programme, the parameters given and where every column came from."""
    spec_d, spec_c, spec_r = request.demand, request.candidates, request.regions
    regions = (f"region field {spec_r.field!r} of the demand layer" if spec_r.field
               else f"region layer {spec_r.source.label}" if spec_r.source else "none (one count for the whole area)")
    description = "\n".join([
        f"Generated by `siting locate` from GIS layers (programme {programme.id}).",
        f"demand: {spec_d.source.label}; weight field {spec_d.weight!r} ({spec_d.weight_unit}); "
        + ", ".join(f"{k} <- {v}" for k, v in columns_d.items() if k not in ("x", "y")),
        f"candidates: {spec_c.source.label}; free area field {spec_c.free_area!r} ({spec_c.free_area_unit}); "
        + ", ".join(f"{k} <- {v}" for k, v in columns_c.items() if k not in ("x", "y")),
        f"regions: {regions}",
        "points as given, polygons by their representative point, all in EPSG:31370",
        *notes,
    ])
    lines = [
        "# Generated by `siting locate` from GIS layers: repeat the run with",
        f"#   siting solve {request.name}.toml --out ANOTHER_FOLDER",
        "# (the tables next to this file are the layers as the engine read them, in EPSG:31370)",
        "",
        "[instance]",
        f"name = {_toml_value(request.name)}",
        f"title = {_toml_value(f'{programme.name} — located from layers')}",
        f"description = {_toml_value(description)}",
        f"source = {_toml_value(request.command or 'siting locate')}",
        "",
        "[tables]",
        'demand = "demand.csv"',
        'candidates = "candidates.csv"',
        "",
        "[programmes]",
        f"place = [{_toml_value(programme.id)}]",
    ]
    if request.parameters:
        lines += ["", "[parameters]"]
        for key, value in request.parameters.items():
            lines.append(f"{key} = {_toml_value(check_parameter(key, value))}")
    if assumptions:
        lines += ["", "[assumptions]"]
        for key, value in assumptions.items():
            try:
                number: object = float(value)
            except ValueError:
                number = value
            lines.append(f"{key} = {_toml_value(number)}")
    return "\n".join(lines) + "\n"


def write_instance(generated: GeneratedInstance, folder: Path) -> Path:
    """Write the manifest (``NAME.toml``) and ``demand.csv`` / ``candidates.csv`` into ``folder``; return the
    manifest's path. Coordinates are written with full precision (EPSG:31370 metres)."""
    folder.mkdir(parents=True, exist_ok=True)
    generated.demand.to_csv(folder / "demand.csv", index=False)
    generated.candidates.to_csv(folder / "candidates.csv", index=False)
    manifest = folder / f"{generated.name}.toml"
    manifest.write_text(generated.manifest, encoding="utf-8")
    return manifest
