"""Load and validate a named instance: the only module that reads the user's files.

An instance is a small TOML manifest (``instances/NAME.toml``) naming its data tables, the programmes it places
and its parameters. Everything is checked here, once, at the boundary; inside the engine the data is trusted.
A problem is reported as :class:`~optimizer.errors.InputError` naming the file, the row and the field.

Manifest layout::

    [instance]    name, title, description, source
    [tables]      demand = "flanders/municipalities.csv"      # CSV, or a GIS layer (see TableSpec)
                  candidates = { path = "zones.gpkg", layer = "zones", crs = "EPSG:4326",
                                 columns = { site_id = "ZONE_ID", free_ha = "VRIJ_HA" } }
    [generator]   instead of [tables]: seeded demand points and parcels (see GENERATOR_KEYS)
    [programmes]  place = ["materialenbank"]
    [parameters]  see PARAMETERS
    [assumptions] NAME = value                                 # per-instance override of a named assumption
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.programmes import Assumption, Programme, load_assumptions, load_programme
from optimizer.settings import CRS, PROJECT_ROOT

INSTANCES_DIR = PROJECT_ROOT / "instances"
GIS_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb"}
# Lambert 72 extent of Flanders with a margin (m): catches degrees given as metres and points abroad.
FLANDERS_BOUNDS_M = (15_000.0, 140_000.0, 265_000.0, 250_000.0)


@dataclass(frozen=True)
class Parameter:
    """A run parameter: its type, allowed values and default."""

    kind: type
    default: object
    doc: str
    choices: tuple | None = None
    minimum: float | None = None


PARAMETERS: dict[str, Parameter] = {
    "size_variant": Parameter(str, "final", "programme size variant: final (study text) or poster (workshop)"),
    "size_rule": Parameter(str, "programme", "programme: the study's rule; free: the solver picks the size",
                           ("programme", "free")),
    "assignment": Parameter(str, "programme", "programme's rule, own_region, or any (any bank)",
                            ("programme", "own_region", "any")),
    "objective": Parameter(str, "eur", "transport term in EUR (eur) or in t·km (tkm)", ("eur", "tkm")),
    "land_cost_eur_per_m2": Parameter(float, 0.0, "weight of land take in the objective (EUR per m2 per year)",
                                      minimum=0.0),
    "single_source": Parameter(bool, True, "each municipality sends all its flow to one facility"),
    "enforce_capacity": Parameter(bool, True, "capacity (t/yr) of each facility is a hard constraint"),
    "access_rules": Parameter(str, "strict", "multimodal rule set of models/access.toml (S9): strict, loose or none",
                              ("strict", "loose", "none")),
    "time_limit_s": Parameter(float, 300.0, "solver time limit in seconds", minimum=0.0),
    "mip_gap": Parameter(float, 1e-6, "relative MIP gap at which the solver may stop", minimum=0.0),
    "threads": Parameter(int, 0, "solver threads (0: solver default)", minimum=0),
    "sparsify": Parameter(str, "auto", "k-nearest arcs with an optimality certificate: auto (above "
                          "settings.SPARSIFY_MIN_PAIRS client x option pairs), on or off", ("auto", "on", "off")),
    "sparsify_k": Parameter(int, 16, "nearest options per client in the first sparsified round", minimum=1),
    "greenfield": Parameter(str, "forbid", "greenfield candidates (S7): forbid (reuse first, the base case) or "
                            "penalty (allowed at assumption greenfield_penalty_eur_per_m2)", ("forbid", "penalty")),
    "chain_ambition": Parameter(str, "flanders", "plastics chain ambition level (S5): flanders (LOW), belgium "
                                "(MID, + Belgian bales) or europe (HIGH, + European imports by water)",
                                ("flanders", "belgium", "europe")),
    "chain_crossborder": Parameter(bool, False, "plastics chain: add the cross-border gateways NL/DE/FR (S8)"),
}


@dataclass
class Instance:
    """A validated instance: tables as DataFrames, programmes, resolved parameters and assumptions."""

    name: str
    path: Path
    title: str
    description: str
    source: str
    demand: pd.DataFrame
    candidates: pd.DataFrame
    programmes: list[Programme]
    parameters: dict[str, object]
    assumptions: dict[str, Assumption]
    overrides: dict[str, str] = field(default_factory=dict)
    table_files: dict[str, Path] = field(default_factory=dict)
    generator: dict[str, object] = field(default_factory=dict)

    @property
    def municipalities(self) -> pd.DataFrame:
        """One demand row per municipality code ``nis`` (the demand table itself when it is per municipality).

        Municipality attributes (region columns, ``centrumstad``) are the same on every demand point of a
        municipality, so the first row stands for it: use this for site → municipality look-ups.
        """
        return self.demand.drop_duplicates("nis")

    def assumption(self, name: str) -> float:
        """Numeric value of a named assumption (after instance and --set overrides)."""
        if name not in self.assumptions:
            raise InputError(f"unknown assumption {name!r}", file=self.path, field="assumptions")
        return float(self.assumptions[name].value)

    def content_hash(self) -> str:
        """sha256 over the manifest, its tables, the models/ files it uses and the resolved parameters.

        Only the instance's own programmes and the assumption files count, so editing one programme does not
        invalidate cached results (sweeps) of instances that do not place it.
        """
        from optimizer.programmes import ASSUMPTION_FILES, MODELS_DIR

        models = sorted({MODELS_DIR / f for f in ASSUMPTION_FILES} | {MODELS_DIR / f"{p.id}.toml" for p in self.programmes})
        h = hashlib.sha256()
        for p in [self.path, *sorted(self.table_files.values()), *(m for m in models if m.is_file())]:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        h.update(json.dumps(self.parameters, sort_keys=True, default=str).encode())
        h.update(json.dumps({k: a.value for k, a in self.assumptions.items()}, sort_keys=True).encode())
        return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Finding instances
# ---------------------------------------------------------------------------------------------------------------
def list_instances(directory: Path = INSTANCES_DIR) -> list[dict[str, str]]:
    """Name, title and file of every named instance (``instances/*.toml``)."""
    rows = []
    for path in sorted(directory.glob("*.toml")):
        try:
            with path.open("rb") as fh:
                meta = tomllib.load(fh).get("instance", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            meta = {"title": "(unreadable manifest: run `siting validate`)"}
        rows.append({"name": path.stem, "title": meta.get("title", ""), "path": str(path)})
    return rows


def resolve_instance_path(name_or_path: str | Path) -> Path:
    """A named instance (``materialenbanken``) or a path to a manifest."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise InputError("file not found: check the path, or use an instance name from `siting list`", file=p)
        return p.resolve()
    candidate = INSTANCES_DIR / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(r["name"] for r in list_instances())
    raise InputError(f"no instance named {name_or_path!r}; known instances: {known} (see `siting list`)")


# ---------------------------------------------------------------------------------------------------------------
# Parameters and --set
# ---------------------------------------------------------------------------------------------------------------
def _coerce(value: object, spec: Parameter, where: str, file: str | Path) -> object:
    try:
        if spec.kind is bool:
            if isinstance(value, bool):
                out: object = value
            elif str(value).strip().lower() in ("true", "1", "yes", "on"):
                out = True
            elif str(value).strip().lower() in ("false", "0", "no", "off"):
                out = False
            else:
                raise ValueError(value)
        elif spec.kind is int:
            out = int(str(value))
        elif spec.kind is float:
            out = float(value)
            if not math.isfinite(out):
                raise ValueError(value)
        else:
            out = str(value)
    except (TypeError, ValueError) as e:
        msg = f"expected a {spec.kind.__name__}, got {value!r}"
        raise InputError(msg, file=file, field=where) from e
    if spec.choices and out not in spec.choices:
        raise InputError(f"must be one of {', '.join(spec.choices)}; got {out!r}", file=file, field=where)
    if spec.minimum is not None and out < spec.minimum:  # type: ignore[operator]
        raise InputError(f"must be ≥ {spec.minimum:g}; got {out!r}", file=file, field=where)
    return out


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` from ``--set`` into a dict (values stay strings until validated)."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--set takes key=value, got {pair!r}", file="--set", field=pair)
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _resolve_parameters(manifest: dict, path: Path, overrides: dict[str, str]) -> dict[str, object]:
    given = manifest.get("parameters", {})
    params = {k: p.default for k, p in PARAMETERS.items()}
    for key, value in given.items():
        if key not in PARAMETERS:
            raise InputError(_unknown(key, PARAMETERS), file=path, field=f"parameters.{key}")
        params[key] = _coerce(value, PARAMETERS[key], f"parameters.{key}", path)
    for key, value in overrides.items():
        if key.startswith("assumption."):
            continue
        if key not in PARAMETERS:
            raise InputError(_unknown(key, PARAMETERS), file="--set", field=key)
        params[key] = _coerce(value, PARAMETERS[key], key, "--set")
    return params


def _unknown(key: str, known: dict) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return f"unknown parameter {key!r}{hint}"


def _resolve_assumptions(manifest: dict, path: Path, overrides: dict[str, str]) -> dict[str, Assumption]:
    assumptions = load_assumptions()
    changes = [(k, v, path, f"assumptions.{k}") for k, v in manifest.get("assumptions", {}).items()]
    changes += [(k.removeprefix("assumption."), v, "--set", k) for k, v in overrides.items() if k.startswith("assumption.")]
    for name, value, file, where in changes:
        if name not in assumptions:
            raise InputError(_unknown(name, assumptions).replace("parameter", "assumption"), file=file, field=where)
        old = assumptions[name]
        if isinstance(old.value, str):
            new_value: float | str = str(value)
        else:
            new_value = _coerce(value, Parameter(float, 0.0, ""), where, file)  # type: ignore[assignment]
        assumptions[name] = Assumption(name, new_value, old.unit, old.basis + f" [overridden in {file}]", old.file)
    return assumptions


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------
DEMAND_COLUMNS = {"nis": "id", "name": "text", "population": "count", "x": "coord", "y": "coord"}
# demand points (a table with its own ``id``): ``nis`` names the municipality the point lies in, shared by many
POINT_DEMAND_COLUMNS = {"id": "id", "nis": "ref", "name": "text", "population": "count", "x": "coord", "y": "coord"}
CANDIDATE_COLUMNS = {"site_id": "id", "name": "text", "zone_type": "text", "nis": "ref", "x": "coord", "y": "coord",
                     "free_ha": "area_or_blank"}


def _read_table(spec: str | dict, base: Path, manifest_path: Path, role: str) -> tuple[pd.DataFrame, Path]:
    """Read a CSV table or a GIS layer (reprojected to EPSG:31370, representative points as x/y)."""
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict) or "path" not in spec:
        raise InputError("a table is a path or a table with 'path'", file=manifest_path, field=f"tables.{role}")
    path = (base / spec["path"]).resolve()
    if not path.exists():
        msg = f"{role} table not found: {path}; check the path (relative to the manifest's folder)"
        raise InputError(msg, file=manifest_path, field=f"tables.{role}")
    columns = spec.get("columns", {})
    if not isinstance(columns, dict):
        raise InputError("'columns' maps our names to yours", file=manifest_path, field=f"tables.{role}.columns")
    if path.suffix.lower() in GIS_SUFFIXES:
        frame = _read_gis(path, spec, manifest_path, role)
    else:
        try:
            frame = pd.read_csv(path, encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not UTF-8 text ({e.reason}); save the file as UTF-8", file=path) from e
        except pd.errors.EmptyDataError as e:
            raise InputError("the file is empty: save the table with a header line and data rows", file=path) from e
        except pd.errors.ParserError as e:
            msg = f"not a readable CSV table ({str(e).strip()}); check the separators (comma) and quoting"
            raise InputError(msg, file=path) from e
    missing = [theirs for ours, theirs in columns.items() if theirs not in frame.columns]
    if missing:
        msg = f"column mapping names column {missing[0]!r}, which is not in the table (columns: {', '.join(map(str, frame.columns))})"
        raise InputError(msg, file=manifest_path, field=f"tables.{role}.columns")
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    return frame, path


def _read_gis(path: Path, spec: dict, manifest_path: Path, role: str) -> pd.DataFrame:
    import geopandas as gpd

    _check_gis_layer(path, spec)
    try:
        gdf = gpd.read_file(path, layer=spec.get("layer"))
    except Exception as e:  # noqa: BLE001 - any reader failure is an input problem
        raise InputError(f"cannot read GIS layer: {e}; check that the file is a valid GIS file", file=path) from e
    if gdf.crs is None:
        if "crs" not in spec:
            raise InputError("the layer has no CRS; add crs = \"EPSG:xxxx\" to the table in the manifest",
                             file=path, field="crs")
        try:
            gdf = gdf.set_crs(spec["crs"])
        except Exception as e:  # noqa: BLE001 - pyproj CRSError and friends
            msg = f"unknown CRS {spec['crs']!r}; give an EPSG code such as \"EPSG:31370\" or \"EPSG:4326\""
            raise InputError(msg, file=manifest_path, field=f"tables.{role}.crs") from e
    gdf = gdf.to_crs(CRS)
    empty = gdf.geometry.is_empty | gdf.geometry.isna()
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0]) + 1
        raise InputError("feature without geometry: give it a point or polygon, or remove it",
                         file=path, row=row, field="geometry")
    _check_geometry_types(gdf.geometry, path)
    points = gdf.geometry.representative_point()
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    frame["x"], frame["y"] = points.x.to_numpy(), points.y.to_numpy()
    return frame


POINT_LIKE = {"Point", "MultiPoint", "Polygon", "MultiPolygon"}


def _check_gis_layer(path: Path, spec: dict) -> None:
    """The layer named in the manifest exists (a clear message instead of the driver's)."""
    import pyogrio

    if spec.get("layer") is None:
        return
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 - unreadable files are reported by the reader itself
        return
    if str(spec["layer"]) not in layers:
        msg = f"no layer {spec['layer']!r} in the file; set layer = one of {', '.join(layers)}"
        raise InputError(msg, file=path, field="layer")


def _check_geometry_types(geometry: pd.Series, path: Path) -> None:
    """Sites and municipalities are points; polygons are fine (representative points), lines are not."""
    kinds = geometry.geom_type.to_numpy()
    bad = np.flatnonzero(~np.isin(kinds, list(POINT_LIKE)))
    if bad.size:
        msg = (f"a {kinds[bad[0]]} geometry where points or polygons are expected; "
               "give each feature as a point or a polygon (its representative point is used)")
        raise InputError(msg, file=path, row=int(bad[0]) + 1, field="geometry")


def _first_row(path: Path) -> int:
    """Row number of the first record: CSV line 2 (after the header), GIS feature 1."""
    return 1 if path.suffix.lower() in GIS_SUFFIXES else 2


def _check_columns(frame: pd.DataFrame, schema: dict[str, str], path: Path) -> pd.DataFrame:
    """Check presence, type and range of the columns in ``schema``; return the frame with clean dtypes."""
    import difflib

    if frame.empty:
        raise InputError("the table has no rows: add at least one data row", file=path)
    for col, kind in schema.items():
        if col not in frame.columns:
            close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=1)
            hint = (f"found {close[0]!r}: rename it or map it under columns in the manifest" if close
                    else "add it, or map your column to it under columns in the manifest")
            raise InputError(f"missing column {col!r} ({hint})", file=path, field=col)
        series = frame[col]
        blank = series.isna() | (series.astype(str).str.strip().isin(["", "nan", "NaN"]))
        if kind in ("text", "id", "ref"):
            _fail_first(blank, path, col, f"empty value: give every row a {col}")
            if kind == "id":
                text = series.astype(str)
                dup = text.duplicated()
                if dup.any():
                    first = int(np.flatnonzero(dup.to_numpy())[0])
                    other = int(np.flatnonzero((text == text.iloc[first]).to_numpy())[0]) + _first_row(path)
                    _fail_first(dup, path, col, f"duplicate id {text.iloc[first]!r} (also in row {other}): "
                                                "ids must be unique — remove or renumber the row")
            if kind == "text":
                frame[col] = series.astype(str)
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        blank_ok = kind == "area_or_blank"
        _fail_first(blank & ~pd.Series(blank_ok, index=series.index), path, col,
                    f"missing value: fill in {col} as a number")
        not_number = numeric.isna() & ~blank
        if not_number.any():
            value = series[not_number].iloc[0]
            _fail_first(not_number, path, col, f"{value!r} is not a number: give {col} as a plain number "
                                               "(decimal point, no units)")
        values = numeric.to_numpy(dtype=float)
        _fail_first(pd.Series(np.isinf(values)), path, col, f"infinite value: give {col} as a finite number")
        if kind in ("count", "area_or_blank"):
            neg = values < 0
            if neg.any():
                _fail_first(pd.Series(neg), path, col,
                            f"negative value {values[neg][0]:g}: {col} must be ≥ 0 — correct it")
        frame[col] = numeric
    return frame


def _fail_first(mask: pd.Series, path: Path, col: str, what: str) -> None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    if hits.size:
        row = int(hits[0]) + _first_row(path)  # CSV: line 2 is the first data row; GIS: feature 1
        raise InputError(f"{what}", file=path, row=row, field=col)


def _check_coordinates(frame: pd.DataFrame, path: Path) -> None:
    x, y = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    first = _first_row(path)
    degrees = (np.abs(x) <= 180) | (np.abs(y) <= 90)
    if degrees.any():
        k = int(np.flatnonzero(degrees)[0])
        msg = ("coordinates look like degrees (WGS84); x/y must be Lambert 72 metres (EPSG:31370) — reproject them"
               + (", or declare crs = \"EPSG:4326\" for the layer" if first == 1 else ""))
        raise InputError(msg, file=path, row=k + first, field="x" if abs(x[k]) <= 180 else "y")
    xmin, ymin, xmax, ymax = FLANDERS_BOUNDS_M
    out_x, out_y = (x < xmin) | (x > xmax), (y < ymin) | (y > ymax)
    outside = out_x | out_y
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = f"point ({x[k]:.0f}, {y[k]:.0f}) lies outside Flanders in EPSG:31370; check the CRS and the value"
        raise InputError(msg, file=path, row=k + first, field="x" if out_x[k] else "y")


def _validate_demand(frame: pd.DataFrame, path: Path, programmes: list[Programme]) -> pd.DataFrame:
    points = "id" in frame.columns
    frame = _check_columns(frame, POINT_DEMAND_COLUMNS if points else DEMAND_COLUMNS, path)
    for prog in programmes:
        if prog.region != "flanders" and prog.region not in frame.columns:
            raise InputError(f"programme {prog.id!r} counts per {prog.region!r}: the column is missing; add it "
                             "or map your column to it under columns in the manifest", file=path, field=prog.region)
        if prog.region in frame.columns:
            empty = frame[prog.region].isna() | (frame[prog.region].astype(str).str.strip() == "")
            _fail_first(empty, path, prog.region, f"empty region: give every municipality its {prog.region}")
    if "centrumstad" not in frame.columns:
        frame["centrumstad"] = False
    frame["centrumstad"] = frame["centrumstad"].astype(str).str.lower().isin(["true", "1", "yes"])
    if "area_km2" not in frame.columns:
        frame["area_km2"] = 0.0
    frame["nis"] = frame["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    frame["id"] = frame["id"].astype(str) if points else frame["nis"]
    if points:  # a municipality's attributes must agree over its points (they are looked up per municipality)
        for col in [c for c in ("centrumstad", *{p.region for p in programmes}) if c in frame.columns]:
            split = frame.groupby("nis")[col].transform("nunique") > 1
            if split.any():
                _fail_first(split, path, col, f"municipality {frame.loc[split, 'nis'].iloc[0]} has different {col} "
                                              "values on its points; give one value per nis")
    _check_coordinates(frame, path)
    return frame.reset_index(drop=True)


def _validate_candidates(frame: pd.DataFrame, path: Path, demand: pd.DataFrame, assumptions: dict) -> pd.DataFrame:
    frame = _check_columns(frame, CANDIDATE_COLUMNS, path)
    frame["nis"] = frame["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    unknown = ~frame["nis"].isin(demand["nis"])
    if unknown.any():
        code = frame.loc[unknown, "nis"].iloc[0]
        _fail_first(unknown, path, "nis", f"municipality code {code!r} is not in the demand table; "
                                          "use the NIS code of a municipality in the demand table")
    if "total_ha" not in frame.columns:
        frame["total_ha"] = np.nan
    blank = frame["free_ha"].isna()
    ports = blank & (frame["zone_type"] == "seaport")
    share = float(assumptions["seaport_free_share"].value)
    frame.loc[ports, "free_ha"] = pd.to_numeric(frame.loc[ports, "total_ha"], errors="coerce") * share
    frame["free_from_assumption"] = ports
    _fail_first(ports & frame["free_ha"].isna(), path, "total_ha",
                "seaport without free_ha needs its total area: fill in total_ha in hectares (free land is then "
                "total_ha × the named assumption seaport_free_share), or give free_ha")
    _fail_first(frame["free_ha"].isna(), path, "free_ha",
                "free area missing: fill in free_ha in hectares (only seaports may leave it blank)")
    _check_coordinates(frame, path)
    return frame.reset_index(drop=True)


def _read_manifest(path: Path) -> dict:
    """Parse the manifest; a non-UTF-8 file gets advice on how to save it."""
    from optimizer.programmes import _read_toml

    try:
        return _read_toml(path)
    except InputError as e:
        if e.message.startswith("not UTF-8"):
            raise InputError(f"{e.message}: save the manifest as UTF-8", file=path) from e
        raise


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------
def is_chain_instance(name_or_path: str | Path) -> bool:
    """Whether the instance places a multi-echelon chain programme (solved by :mod:`optimizer.chain`).

    Reads only the manifest's ``[programmes] place`` and the programmes' kinds, so the CLI can dispatch before
    the (validated, full) load; any problem is left for :func:`load_instance` to report.
    """
    try:
        manifest = _read_manifest(resolve_instance_path(name_or_path))
        place = manifest.get("programmes", {}).get("place", [])
        return any(load_programme(str(pid)).kind == "chain" for pid in place)
    except (InputError, TypeError, AttributeError):
        return False


def load_instance(name_or_path: str | Path, overrides: dict[str, str] | None = None) -> Instance:
    """Load, validate and resolve an instance; raise :class:`InputError` on the first problem found."""
    overrides = overrides or {}
    path = resolve_instance_path(name_or_path)
    manifest = _read_manifest(path)
    unknown_sections = set(manifest) - {"instance", "tables", "generator", "programmes", "parameters", "assumptions"}
    if unknown_sections:
        key = sorted(unknown_sections)[0]
        raise InputError(f"unknown section [{key}]", file=path, field=key)
    meta = manifest.get("instance", {})
    tables = manifest.get("tables", {})
    generator = _generator_spec(manifest, path)
    for role in ("demand", "candidates"):
        if role not in tables and not generator:
            raise InputError(f"the manifest must name a {role} table (or a [generator])", file=path,
                             field=f"tables.{role}")
    place = manifest.get("programmes", {}).get("place", [])
    if not place or not isinstance(place, list):
        raise InputError("name the programmes to place: place = [\"materialenbank\"]", file=path, field="programmes.place")
    programmes = []
    for pid in place:
        try:
            programmes.append(load_programme(str(pid)))
        except InputError as e:
            if e.file is None:
                raise InputError(e.message, file=path, field="programmes.place") from e
            raise
    parameters = _resolve_parameters(manifest, path, overrides)
    assumptions = _resolve_assumptions(manifest, path, overrides)
    variant = str(parameters["size_variant"])
    located = [p for p in programmes if p.kind != "chain"]  # a chain checks its own variants (optimizer/chain.py)
    if located and not any(p.knows_variant(variant) for p in located):
        located[0].sizes_for(variant, strict=True)  # raises: no programme of the instance defines the variant
    for prog in programmes:
        for ref in (prog.demand_per_inhabitant, prog.capacity_per_m2):
            if ref and ref not in assumptions:
                raise InputError(f"programme refers to unknown assumption {ref!r}", file=prog.file, field="programme")

    if generator:
        demand_raw, cand_raw, demand_path, cand_path, table_files = _generate_tables(generator, path)
    else:
        demand_raw, demand_path = _read_table(tables["demand"], path.parent, path, "demand")
        cand_raw, cand_path = _read_table(tables["candidates"], path.parent, path, "candidates")
        table_files = {"demand": demand_path, "candidates": cand_path}
    demand = _validate_demand(demand_raw, demand_path, programmes)
    candidates = _validate_candidates(cand_raw, cand_path, demand, assumptions)
    return Instance(
        name=str(meta.get("name", path.stem)),
        path=path,
        title=str(meta.get("title", "")),
        description=str(meta.get("description", "")),
        source=str(meta.get("source", "")),
        demand=demand,
        candidates=candidates,
        programmes=programmes,
        parameters=parameters,
        assumptions=assumptions,
        overrides=dict(overrides),
        table_files=table_files,
        generator=generator,
    )


# ---------------------------------------------------------------------------------------------------------------
# Generated (fine-grained) tables
# ---------------------------------------------------------------------------------------------------------------
GENERATOR_KEYS: dict[str, Parameter] = {
    "kind": Parameter(str, "fine", "generator: fine (optimizer.generate.fine_tables)", ("fine",)),
    "demand_points": Parameter(int, 0, "demand points, spread by municipal population (at least one each)",
                               minimum=285),
    "candidate_parcels": Parameter(int, 0, "candidate parcels, spread by business-park hectares", minimum=1),
    "seed": Parameter(int, 0, "seed of numpy's default generator: same seed, same tables", minimum=0),
    "municipalities": Parameter(str, "flanders/municipalities.csv", "base municipality table (relative path)"),
    "candidates": Parameter(str, "flanders/candidates.csv", "base economic-zone table (relative path)"),
}


def _generator_spec(manifest: dict, path: Path) -> dict[str, object]:
    """The validated ``[generator]`` section (empty when the manifest names tables instead)."""
    given = manifest.get("generator")
    if given is None:
        return {}
    if "tables" in manifest:
        raise InputError("give either [tables] or [generator], not both", file=path, field="generator")
    spec: dict[str, object] = {}
    for key, value in given.items():
        if key not in GENERATOR_KEYS:
            raise InputError(_unknown(key, GENERATOR_KEYS).replace("parameter", "generator key"), file=path,
                             field=f"generator.{key}")
        spec[key] = _coerce(value, GENERATOR_KEYS[key], f"generator.{key}", path)
    for key in ("demand_points", "candidate_parcels", "seed"):
        if key not in spec:
            raise InputError(f"the generator needs {key} ({GENERATOR_KEYS[key].doc})", file=path,
                             field=f"generator.{key}")
    return {k: spec.get(k, p.default) for k, p in GENERATOR_KEYS.items()}


def _generate_tables(spec: dict, path: Path) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path, dict[str, Path]]:
    """Demand points and parcels drawn from the base tables with the manifest's seed (deterministic)."""
    from optimizer import generate

    frames: dict = {}
    for role in ("municipalities", "candidates"):
        frames[role], frames[f"{role}_path"] = _read_table(str(spec[role]), path.parent, path, f"generator.{role}")
    munis = _check_columns(frames["municipalities"].copy(), {**DEMAND_COLUMNS, "area_km2": "count"},
                           frames["municipalities_path"])
    munis["nis"] = munis["nis"].astype(str)
    sites = frames["candidates"].copy()
    sites["nis"] = sites["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    for col in ("zone_type", "total_ha", "free_ha"):
        if col not in sites.columns:
            raise InputError(f"missing column {col!r}: the generator spreads parcels by business-park hectares",
                             file=frames["candidates_path"], field=col)
    demand, candidates = generate.fine_tables(int(spec["demand_points"]), int(spec["candidate_parcels"]),
                                              seed=int(spec["seed"]), municipalities=munis, sites=sites)
    files = {"generator.municipalities": frames["municipalities_path"],
             "generator.candidates": frames["candidates_path"], "generator.code": Path(generate.__file__)}
    return demand, candidates, path, path, files
