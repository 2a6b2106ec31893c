"""Load and validate a named instance: the only module that reads the user's files.

An instance is a small TOML manifest (``instances/NAME.toml``) naming its data tables, the programmes it places
and its parameters. Everything is checked here, once, at the boundary; inside the engine the data is trusted.
A problem is reported as :class:`~optimizer.errors.InputError` naming the file, the row and the field.

Manifest layout::

    [instance]    name, title, description, source
    [tables]      demand = "flanders/municipalities.csv"      # CSV, or a GIS layer (see TableSpec)
                  candidates = { path = "zones.gpkg", layer = "zones", crs = "EPSG:4326",
                                 columns = { site_id = "ZONE_ID", free_ha = "VRIJ_HA" } }
                  existing = "flanders/existing_facilities.csv"   # optional: docs/existing-facilities.md
    [generator]   instead of [tables]: seeded demand points and parcels (see GENERATOR_KEYS)
    [networks]    road = "osm_odbl/antwerp_streets.gpkg"                    # a mode's network in place of the shipped one
    [programmes]  place = ["materialenbank"]
    [periods]     optional: a multi-period instance (optimizer.data.periods, docs/periods.md)
    [parameters]  see PARAMETERS
    [assumptions] NAME = value                                 # per-instance override of a named assumption
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizer.data.existing import load_existing, read_existing
from optimizer.data.parameters import (  # noqa: F401 - re-exported: the parameters belong to the instance's API
    PARAMETERS,
    Parameter,
    check_parameter,
    coerce_parameter,
    equity_distances,
    parse_overrides,
    resolve_assumptions,
    resolve_parameters,
    unknown_message,
)
from optimizer.data.manifest_tables import manifest_roots, network_files, read_candidates, table_path
from optimizer.data.periods import PeriodSpec, read_periods
from optimizer.data.programmes import ASSUMPTION_FILES, MODELS_DIR, Assumption, Programme, load_programme
from optimizer.data.tables import (
    DEMAND_COLUMNS,
    check_columns,
    read_table,
    validate_candidates,
    validate_demand,
)
from optimizer.data.catalogue import INSTANCES_DIR, list_instances  # noqa: F401 - re-exported for callers
from optimizer.data.tomlfile import peek_toml, read_toml
from optimizer.errors import InputError
from optimizer.settings import PROJECT_ROOT



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
    overrides: dict[str, object] = field(default_factory=dict)
    table_files: dict[str, Path] = field(default_factory=dict)
    generator: dict[str, object] = field(default_factory=dict)
    network_files: dict[str, Path] = field(default_factory=dict)  # mode -> network tables in place of the shipped
    existing: pd.DataFrame | None = None  # existing facilities (optimizer.data.existing), None without a table
    periods: PeriodSpec | None = None  # the timeline of a multi-period instance (optimizer.data.periods)
    data_hash: str = ""  # sha256 of the tables of an instance built in memory (from_frames): it has no files

    @classmethod
    def from_frames(
        cls,
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
        """An instance from GeoDataFrames, validated like a manifest's tables (``docs/api.md``).

        Parameters
        ----------
        demand : geopandas.GeoDataFrame
            Demand units, points or polygons (representative point), any CRS (converted to EPSG:31370; a frame
            without a CRS is refused). Column ``population`` (inhabitants) is required; optional ``nis`` (id;
            default 1..n), ``name``, ``centrumstad``, ``area_km2`` (default: the polygon's area, 0 for points),
            ``uitrustingsgraad`` and the region column(s) the programmes count per (e.g. ``arrondissement``).
        candidates : geopandas.GeoDataFrame
            Candidate sites, points or polygons, any CRS. Column ``free_ha`` is required; optional ``site_id``,
            ``name``, ``zone_type`` (default: the first programme's first zone type), ``total_ha`` and ``nis``
            (default: the demand polygon the site lies in, else the nearest demand unit).
        programmes : list of str
            Programme ids of ``models/`` (``siting programmes``), e.g. ``["materialenbank"]``.
        regions : dict of str to geopandas.GeoDataFrame, optional
            Region column → region polygons (any CRS); each demand unit gets the region it lies in, named by the
            polygons' column of that name, else ``name``, else ``region N``.
        parameters, assumptions : dict, optional
            Run parameters (``siting show``) and named-assumption values, checked as in a manifest.
        name, title, description : str
            How the instance is called in results.

        The frames are not modified.
        """
        from optimizer.data.frames import instance_from_frames

        return instance_from_frames(demand=demand, candidates=candidates, programmes=programmes, regions=regions,
                                    parameters=parameters, assumptions=assumptions, name=name, title=title,
                                    description=description)

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
        from optimizer.data.programmes import ASSUMPTION_FILES, MODELS_DIR

        models = sorted({MODELS_DIR / f for f in ASSUMPTION_FILES} | {MODELS_DIR / f"{p.id}.toml" for p in self.programmes})
        h = hashlib.sha256()
        for p in [self.path, *sorted(self.table_files.values()), *(m for m in models if m.is_file())]:
            if p.is_file():  # an instance built from frames has no manifest: its tables' hash stands for them
                h.update(p.name.encode())
                h.update(p.read_bytes())
        if self.data_hash:
            h.update(self.data_hash.encode())
        h.update(json.dumps(self.parameters, sort_keys=True, default=str).encode())
        h.update(json.dumps({k: a.value for k, a in self.assumptions.items()}, sort_keys=True).encode())
        return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Finding instances
# ---------------------------------------------------------------------------------------------------------------
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
    import difflib

    names = [r["name"] for r in list_instances()]
    close = difflib.get_close_matches(str(name_or_path), names, n=3)
    known = (f"did you mean {', '.join(repr(c) for c in close)}?" if close
             else "known: " + ", ".join(names[:8]) + (", ..." if len(names) > 8 else ""))
    raise InputError(f"no instance named {name_or_path!r}; {known} ({len(names)} named instances: see `siting list`)")


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------
def is_matrix_instance(name_or_path: str | Path) -> bool:
    """A folder, or a TOML file with a ``[problem]`` table (``docs/matrix-format.md``; a manifest has none)."""
    p = Path(name_or_path)
    if not p.exists():
        return False
    if p.is_dir():
        return True
    if p.suffix == ".toml":
        return "problem" in (peek_toml(p) or {})
    return False


def instance_kind(name_or_path: str | Path) -> str:
    """``"matrix"``, ``"periods"``, ``"chain"`` or ``"named"``: which pipeline job loads ``name_or_path`` (read
    cheaply; any problem is left for the full load to report)."""
    if is_matrix_instance(name_or_path):
        return "matrix"
    if is_periods_instance(name_or_path):
        return "periods"
    return "chain" if is_chain_instance(name_or_path) else "named"


def is_chain_instance(name_or_path: str | Path) -> bool:
    """Whether the instance places a multi-echelon chain programme (:class:`optimizer.pipeline.chain.ChainJob`).

    Reads only the manifest's ``[programmes] place`` and the programmes' kinds, so the CLI can dispatch before
    the (validated, full) load; any problem is left for :func:`load_instance` to report.
    """
    try:
        manifest = read_toml(resolve_instance_path(name_or_path))
        place = manifest.get("programmes", {}).get("place", [])
        return any(load_programme(str(pid)).kind == "chain" for pid in place)
    except (InputError, TypeError, AttributeError):
        return False


def is_periods_instance(name_or_path: str | Path) -> bool:
    """Whether the manifest has a ``[periods]`` section (:class:`optimizer.pipeline.periods.PeriodsJob`)."""
    try:
        return "periods" in read_toml(resolve_instance_path(name_or_path))
    except (InputError, TypeError, AttributeError):
        return False


SECTIONS: dict[str, set[str] | None] = {
    "instance": {"name", "title", "description", "source", "data_roots"},
    "tables": {"demand", "candidates", "existing"},
    "generator": None,  # checked key by key in _generator_spec
    "programmes": {"place"},
    "parameters": None,  # checked against PARAMETERS
    "assumptions": None,  # checked against models/
    "periods": None,  # checked key by key by the multi-period compiler
    "networks": {"road", "water", "rail"},  # a mode's network tables in place of the shipped ones (issue 12)
}


def _check_sections(manifest: dict, path: Path) -> None:
    """Every section is known and a table; every key of a fixed section is known (a typo is an error, never
    silently ignored)."""
    import difflib

    for section, value in manifest.items():
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, list(SECTIONS), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else f"; known: {', '.join(f'[{k}]' for k in SECTIONS)}"
            raise InputError(f"unknown section [{section}]{hint}", file=path, field=section)
        if not isinstance(value, dict):
            raise InputError(f"[{section}] must be a table of keys, e.g. [{section}] on its own line", file=path,
                             field=section)
        keys = SECTIONS[section]
        if keys is None:
            continue
        for key in value:
            if key not in keys:
                close = difflib.get_close_matches(key, sorted(keys), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(keys))}"
                raise InputError(f"unknown key {key!r} in [{section}]; {hint}", file=path, field=f"{section}.{key}")


def resolve_models(programmes: list[Programme], parameters: dict[str, object], assumptions: dict[str, Assumption],
                   overrides: Mapping[str, object], path: str | Path) -> list[Programme]:
    """Each located programme with its model and service distance resolved (``--set model=``, ``service_km=``),
    and the equity distances parsed into ``parameters``; messages name where the run chose them."""
    chosen_by = "--set" if {"model", "service_km"} & set(overrides) else path
    parameters["equity_within_km"] = equity_distances(str(parameters["equity_within_km"]),
                                                      "--set" if "equity_within_km" in overrides else path)
    return [p if p.kind == "chain" else p.resolved(assumptions, model=str(parameters["model"]),
                                                   service_km=str(parameters["service_km"]), source=chosen_by)
            for p in programmes]


def load_programmes(place: object, *, file: str | Path = "programmes", where: str = "programmes.place") -> list[Programme]:
    """The programmes named in ``place`` (ids or :class:`Programme` objects), loaded from ``models/``."""
    if not place or not isinstance(place, (list, tuple)):
        raise InputError("name the programmes to place: place = [\"materialenbank\"]", file=file, field=where)
    programmes = []
    for pid in place:
        if isinstance(pid, Programme):
            programmes.append(pid)
            continue
        try:
            programmes.append(load_programme(str(pid)))
        except InputError as e:
            if e.file is None:
                raise InputError(e.message, file=file, field=where) from e
            raise
    return programmes


@dataclass
class InstanceSpec:
    """An instance as its manifest gives it, checked and resolved, before any table is read: the programmes, the
    parameters and assumptions (after ``--set``), and where the tables are.

    :func:`load_instance` reads and validates the tables from it; ``siting show`` describes an instance from it
    and the tables' row counts, without reading them (:func:`optimizer.data.manifest_tables.table_counts`).
    """

    path: Path
    manifest: dict
    roots: list[Path]
    generator: dict[str, object]
    programmes: list[Programme]
    parameters: dict[str, object]
    assumptions: dict[str, Assumption]
    overrides: dict[str, object]

    @property
    def meta(self) -> dict:
        """The manifest's ``[instance]`` section (name, title, description, source)."""
        return self.manifest.get("instance", {})

    @property
    def tables(self) -> dict:
        """The manifest's ``[tables]`` section, as written."""
        return self.manifest.get("tables", {})

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.path.stem))

    def periods(self) -> PeriodSpec | None:
        """The ``[periods]`` timeline, checked (``None`` for a single-period instance)."""
        if "periods" not in self.manifest:
            return None
        periods = read_periods(self.manifest["periods"], self.path, self.assumptions)
        place = self.manifest.get("programmes", {}).get("place", [])
        for pid in periods.demand_factor:
            if pid not in place:
                raise InputError(f"demand_factor names programme {pid!r}, which the instance does not place",
                                 file=self.path, field="periods.demand_factor")
        return periods


def read_spec(name_or_path: str | Path, overrides: Mapping[str, object] | None = None) -> InstanceSpec:
    """Read and check an instance's manifest, its programmes, parameters and assumptions; no table is read.

    Parameters are as for :func:`load_instance`; raises :class:`InputError` on the first problem found.
    """
    overrides = dict(overrides or {})
    path = resolve_instance_path(name_or_path)
    manifest = read_toml(path)
    _check_sections(manifest, path)
    meta = manifest.get("instance", {})
    tables = manifest.get("tables", {})
    roots = manifest_roots(meta, path)
    generator = _generator_spec(manifest, path)
    for role in ("demand", "candidates"):
        if role not in tables and not generator:
            raise InputError(f"the manifest must name a {role} table (or a [generator])", file=path,
                             field=f"tables.{role}")
    place = manifest.get("programmes", {}).get("place", [])
    programmes = load_programmes(place, file=path)
    parameters = resolve_parameters(manifest.get("parameters", {}), path, overrides, tuple(p.id for p in programmes))
    assumptions = resolve_assumptions(manifest.get("assumptions", {}), path, overrides)
    variant = str(parameters["size_variant"])
    located = [p for p in programmes if p.kind != "chain"]  # a chain checks its own variants (model/chain_compile.py)
    if located and not any(p.knows_variant(variant) for p in located):
        known = sorted({"final", *(v for p in located for v in p.variants)})
        given_in = ("--set", "size_variant") if "size_variant" in overrides else (path, "parameters.size_variant")
        raise InputError(f"no programme of this instance ({', '.join(p.id for p in located)}) has a size variant "
                         f"{variant!r}; known: {', '.join(known)}", file=given_in[0], field=given_in[1])
    for prog in programmes:
        for ref in (prog.demand_per_inhabitant, prog.capacity_per_m2):
            if ref and ref not in assumptions:
                raise InputError(f"programme refers to unknown assumption {ref!r}", file=prog.file, field="programme")
    programmes = resolve_models(programmes, parameters, assumptions, overrides, path)
    return InstanceSpec(path=path, manifest=manifest, roots=roots, generator=generator, programmes=programmes,
                        parameters=parameters, assumptions=assumptions, overrides=overrides)


def load_instance(name_or_path: str | Path, overrides: Mapping[str, object] | None = None) -> Instance:
    """Load, validate and resolve an instance; raise :class:`InputError` on the first problem found.

    Parameters
    ----------
    name_or_path
        A named instance (``siting list``) or the path of a manifest.
    overrides
        ``--set`` values: a parameter (``{"size_variant": "poster"}``) or ``assumption.NAME``; strings or values.
    """
    spec = read_spec(name_or_path, overrides)
    path, manifest, meta, tables, roots = spec.path, spec.manifest, spec.meta, spec.tables, spec.roots
    generator, programmes, assumptions = spec.generator, spec.programmes, spec.assumptions

    if generator:
        demand_raw, cand_raw, demand_path, cand_path, table_files = _generate_tables(generator, path, roots,
                                                                                     assumptions)  # fmt: skip
    else:
        demand_raw, demand_path = read_table(tables["demand"], path.parent, path, "demand", roots)
        table_files = {"demand": demand_path}
    demand = validate_demand(demand_raw, demand_path, programmes)
    if generator:
        candidates = validate_candidates(cand_raw, cand_path, demand, assumptions)
    else:
        candidates, cand_files = read_candidates(tables["candidates"], path, demand, assumptions, roots)
        table_files.update(cand_files)
    networks = network_files(manifest.get("networks", {}), path, roots)
    table_files.update({f"networks.{mode}": p for mode, p in networks.items()})
    existing = None
    if "existing" in tables:
        existing_path = table_path(tables["existing"], path, "existing", roots)
        existing, extra = load_existing(existing_path, candidates, demand, assumptions, _defined_programmes())
        if len(extra):
            candidates = pd.concat([candidates, extra], ignore_index=True)
        table_files = {**table_files, "existing": existing_path}
    periods = spec.periods()
    return Instance(
        name=spec.name,
        path=path,
        title=str(meta.get("title", "")),
        description=str(meta.get("description", "")),
        source=str(meta.get("source", "")),
        demand=demand,
        candidates=candidates,
        programmes=programmes,
        parameters=spec.parameters,
        assumptions=assumptions,
        overrides=dict(spec.overrides),
        table_files=table_files,
        generator=generator,
        network_files=networks,
        existing=existing,
        periods=periods,
    )


def _defined_programmes() -> set[str]:
    """Every programme ``models/`` defines (an existing facility may belong to one the instance does not place)."""
    return {p.stem for p in MODELS_DIR.glob("*.toml") if p.name not in ASSUMPTION_FILES}


def existing_rows(spec: InstanceSpec) -> list[dict]:
    """The existing facilities of ``spec``'s table with their figures checked (``assumptions_used`` among them),
    not yet placed on their sites, which needs the candidate table (:func:`optimizer.data.existing.read_existing`);
    ``[]`` without a table. ``siting show`` lists them."""
    if "existing" not in spec.tables:
        return []
    path = table_path(spec.tables["existing"], spec.path, "existing", spec.roots)
    return [row for row, _ in read_existing(path, spec.assumptions, _defined_programmes())]


GENERATOR_KEYS: dict[str, Parameter] = {
    "kind": Parameter(str, "fine", "generator: fine (optimizer.data.generate.fine_tables)", ("fine",)),
    "demand_points": Parameter(int, 0, "demand points, spread by municipal population (at least one each)",
                               minimum=285),
    "candidate_parcels": Parameter(int, 0, "candidate parcels, spread by business-park hectares", minimum=1),
    "seed": Parameter(int, 0, "seed of numpy's default generator: same seed, same tables", minimum=0),
    "municipalities": Parameter(str, "flanders/municipalities.csv", "base municipality table (relative path)"),
    "candidates": Parameter(str, "flanders/candidates.csv", "base economic-zone table (relative path)"),
    "demand_units": Parameter(str, "municipalities", "where demand points are drawn: municipalities (by population, "
                              "in equivalent-area disks) or neighbourhoods (the neighbourhoods table)",
                              ("municipalities", "neighbourhoods")),
    "neighbourhoods": Parameter(str, "flanders/neighbourhoods.csv", "neighbourhood table (relative path) for "
                                "demand_units = neighbourhoods"),
    "parcel_sizes": Parameter(str, "equal", "how a municipality's business-park land is split into parcels: equal "
                              "shares, or lognormal (assumption parcel_size_lognormal_sigma, free land on whole "
                              "parcels)", ("equal", "lognormal")),
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
            raise InputError(unknown_message(key, GENERATOR_KEYS).replace("parameter", "generator key"), file=path,
                             field=f"generator.{key}")
        spec[key] = coerce_parameter(value, GENERATOR_KEYS[key], f"generator.{key}", path)
    for key in ("demand_points", "candidate_parcels", "seed"):
        if key not in spec:
            raise InputError(f"the generator needs {key} ({GENERATOR_KEYS[key].doc})", file=path,
                             field=f"generator.{key}")
    return {k: spec.get(k, p.default) for k, p in GENERATOR_KEYS.items()}


def _generate_tables(spec: dict, path: Path, roots: list[Path], assumptions: dict
                     ) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path, dict[str, Path]]:
    """Demand points and parcels drawn from the base tables with the manifest's seed (deterministic)."""
    from optimizer.data import generate

    frames: dict = {}
    for role in ("municipalities", "candidates"):
        frames[role], frames[f"{role}_path"] = read_table(str(spec[role]), path.parent, path, f"generator.{role}",
                                                          roots)
    munis = check_columns(frames["municipalities"].copy(), {**DEMAND_COLUMNS, "area_km2": "count"},
                           frames["municipalities_path"])
    munis["nis"] = munis["nis"].astype(str)
    sites = frames["candidates"].copy()
    sites["nis"] = sites["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    for col in ("zone_type", "total_ha", "free_ha"):
        if col not in sites.columns:
            raise InputError(f"missing column {col!r}: the generator spreads parcels by business-park hectares",
                             file=frames["candidates_path"], field=col)
    files = {"generator.municipalities": frames["municipalities_path"],
             "generator.candidates": frames["candidates_path"], "generator.code": Path(generate.__file__)}
    hoods = None
    if spec["demand_units"] == "neighbourhoods":
        hoods, files["generator.neighbourhoods"] = read_table(str(spec["neighbourhoods"]), path.parent, path,
                                                              "generator.neighbourhoods", roots)  # fmt: skip
        hoods = check_columns(hoods.copy(), {"nis2025": "text", "population": "count", "area_km2": "count",
                                             "x": "coord", "y": "coord"}, files["generator.neighbourhoods"])
        hoods["nis2025"] = hoods["nis2025"].astype(str)
    sigma = (float(assumptions["parcel_size_lognormal_sigma"].value) if spec["parcel_sizes"] == "lognormal"
             else None)
    try:
        demand, candidates = generate.fine_tables(int(spec["demand_points"]), int(spec["candidate_parcels"]),
                                                  seed=int(spec["seed"]), municipalities=munis, sites=sites,
                                                  neighbourhoods=hoods, parcel_sigma=sigma)  # fmt: skip
    except ValueError as e:  # a neighbourhood outside the base municipalities, too few points for the units
        raise InputError(str(e), file=path, field="generator") from None
    return demand, candidates, path, path, files
