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
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizer.data.existing import load_existing
from optimizer.data.periods import PeriodSpec, read_periods
from optimizer.data.programmes import (
    ASSUMPTION_FILES,
    MODELS,
    MODELS_DIR,
    Assumption,
    Programme,
    load_assumptions,
    load_programme,
)
from optimizer.data.manifest_tables import manifest_roots, network_files, read_candidates, table_path
from optimizer.data.tables import (
    DEMAND_COLUMNS,
    check_columns,
    read_table,
    validate_candidates,
    validate_demand,
)
from optimizer.data.tomlfile import peek_toml, read_toml
from optimizer.errors import InputError
from optimizer.settings import EQUITY_WITHIN_KM, PROJECT_ROOT

INSTANCES_DIR = PROJECT_ROOT / "instances"


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
    "min_knooppuntwaarde": Parameter(str, "rule", "minimum knooppuntwaarde (node value, 0-1) of every programme's "
                                     "sites: 'rule' keeps the access rule's own (models/access.toml); "
                                     "min_knooppuntwaarde.<programme> sets one programme's"),
    "time_limit_s": Parameter(float, 300.0, "solver time limit in seconds", minimum=0.0),
    "mip_gap": Parameter(float, 1e-6, "relative MIP gap at which the solver may stop", minimum=0.0),
    "threads": Parameter(int, 0, "solver threads (0: solver default)", minimum=0),
    "sparsify": Parameter(str, "auto", "k-nearest arcs with an optimality certificate: auto (above "
                          "settings.SPARSIFY_MIN_PAIRS client x option pairs), on or off", ("auto", "on", "off")),
    "sparsify_k": Parameter(int, 16, "nearest options per client in the first sparsified round", minimum=1),
    "greenfield": Parameter(str, "forbid", "greenfield candidates (S7): forbid (reuse first, the base case), allow "
                            "(on a par with existing zones: the rule lifted) or penalty (allowed at assumption "
                            "greenfield_penalty_eur_per_m2)", ("forbid", "allow", "penalty")),
    "chain_ambition": Parameter(str, "flanders", "plastics chain ambition level (S5): flanders (LOW), belgium "
                                "(MID, + Belgian bales) or europe (HIGH, + European imports by water)",
                                ("flanders", "belgium", "europe")),
    "chain_crossborder": Parameter(bool, False, "plastics chain: add the cross-border gateways NL/DE/FR (S8)"),
    "model": Parameter(str, "programme", "model of every programme: programme (each its own, models/*.toml), pmedian "
                       "(least transport + land cost), lscp, mclp, pcenter or pmedian_max (docs/programmes.md)",
                       ("programme", *MODELS)),
    "service_km": Parameter(str, "programme", "service distance of the coverage models: programme (each its own), "
                            "a number of km, or the name of an assumption"),
    "equity_within_km": Parameter(str, ",".join(f"{km:g}" for km in EQUITY_WITHIN_KM),
                                  "distances (km, comma-separated) for the equity figures' 'share of demand "
                                  "within'; each coverage programme's service distance is added"),
    "chain_zones_per_municipality": Parameter(int, 1, "plastics chain: new-facility candidates per municipality and "
                                              "echelon, the eligible zones with the most free land (0: every "
                                              "eligible zone; a larger, slower MIP)", minimum=0),
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
    network_files: dict[str, Path] = field(default_factory=dict)  # mode -> network tables in place of the shipped
    existing: pd.DataFrame | None = None  # existing facilities (optimizer.data.existing), None without a table
    periods: PeriodSpec | None = None  # the timeline of a multi-period instance (optimizer.data.periods)

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
        manifest = peek_toml(path)
        meta = manifest.get("instance", {}) if manifest is not None else {
            "title": "(unreadable manifest: run `siting validate`)"}
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
    import difflib

    names = [r["name"] for r in list_instances()]
    close = difflib.get_close_matches(str(name_or_path), names, n=3)
    known = (f"did you mean {', '.join(repr(c) for c in close)}?" if close
             else "known: " + ", ".join(names[:8]) + (", ..." if len(names) > 8 else ""))
    raise InputError(f"no instance named {name_or_path!r}; {known} ({len(names)} named instances: see `siting list`)")


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


def equity_distances(text: str, file: str | Path) -> str:
    """The ``equity_within_km`` parameter checked and normalised: distances in km, comma-separated, each > 0."""
    try:
        values = sorted({float(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise InputError(f"equity_within_km takes distances in km separated by commas, e.g. 2,5,10; got {text!r}",
                         file=file, field="equity_within_km") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(f"equity_within_km needs at least one distance > 0 km; got {text!r}", file=file,
                         field="equity_within_km")
    return ",".join(f"{v:g}" for v in values)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` from ``--set`` into a dict (values stay strings until validated)."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--set takes key=value, got {pair!r}", file="--set", field=pair)
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


MIN_KV = "min_knooppuntwaarde"


def _resolve_parameters(manifest: dict, path: Path, overrides: dict[str, str],
                        programme_ids: tuple[str, ...] = ()) -> dict[str, object]:
    given = manifest.get("parameters", {})
    params = {k: p.default for k, p in PARAMETERS.items()}
    for key, value in given.items():
        if key == MIN_KV or key.startswith(MIN_KV + "."):
            params[key] = _min_knooppuntwaarde(key, value, path, f"parameters.{key}", programme_ids)
            continue
        if key not in PARAMETERS:
            raise InputError(unknown_message(key, PARAMETERS), file=path, field=f"parameters.{key}")
        params[key] = _coerce(value, PARAMETERS[key], f"parameters.{key}", path)
    for key, value in overrides.items():
        if not key.startswith("assumption."):
            params[key] = check_parameter(key, value, programme_ids=programme_ids)
    return params


def check_parameter(key: str, value: object, file: str | Path = "--set", programme_ids: tuple[str, ...] | None = None
                    ) -> object:
    """One parameter given from outside a manifest (``--set key=value``, ``siting locate``'s options): a known name,
    a value of its type and range; returns the typed value or raises :class:`~optimizer.errors.InputError`.

    ``min_knooppuntwaarde.<programme>`` names one of ``programme_ids`` (not checked when they are not given)."""
    if key == MIN_KV or key.startswith(MIN_KV + "."):
        return _min_knooppuntwaarde(key, value, file, key, programme_ids)
    if key not in PARAMETERS:
        raise InputError(unknown_message(key, PARAMETERS), file=file, field=key)
    return _coerce(value, PARAMETERS[key], key, file)


def _min_knooppuntwaarde(key: str, value: object, file: str | Path, where: str,
                         programme_ids: tuple[str, ...] | None) -> object:
    """``min_knooppuntwaarde`` (all programmes) or ``min_knooppuntwaarde.<programme>``: 'rule' or a number in [0, 1]."""
    programme = key.partition(".")[2]
    if programme and programme_ids is not None and programme not in programme_ids:
        msg = f"{key}: the instance places no programme {programme!r}; its programmes: {', '.join(programme_ids)}"
        raise InputError(msg, file=file, field=where)
    if str(value).strip().lower() == "rule":
        return "rule"
    number = _coerce(value, Parameter(float, 0.0, ""), where, file)
    if not 0.0 <= float(number) <= 1.0:  # type: ignore[arg-type]
        raise InputError(f"a knooppuntwaarde lies in [0, 1]; got {number!r} (or give 'rule')", file=file, field=where)
    return float(number)  # type: ignore[arg-type]


def unknown_message(key: str, known: dict) -> str:
    """"unknown parameter 'KEY'" with the closest known name (or the list of known names) as a hint."""
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    names = sorted(known)
    listed = ", ".join(names[:8]) + (f", ... ({len(names)} in all; `siting show NAME` lists them)" if len(names) > 8
                                     else "")
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {listed}"
    return f"unknown parameter {key!r}{hint}"


def _resolve_assumptions(manifest: dict, path: Path, overrides: dict[str, str]) -> dict[str, Assumption]:
    assumptions = load_assumptions()
    changes = [(k, v, path, f"assumptions.{k}") for k, v in manifest.get("assumptions", {}).items()]
    changes += [(k.removeprefix("assumption."), v, "--set", k) for k, v in overrides.items() if k.startswith("assumption.")]
    for name, value, file, where in changes:
        if name not in assumptions:
            raise InputError(unknown_message(name, assumptions).replace("parameter", "assumption"), file=file, field=where)
        old = assumptions[name]
        if isinstance(old.value, str):
            new_value: float | str = str(value)
        else:
            new_value = _coerce(value, Parameter(float, 0.0, ""), where, file)  # type: ignore[assignment]
        assumptions[name] = Assumption(name, new_value, old.unit, old.basis + f" [overridden in {file}]", old.file)
    return assumptions


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------
def is_chain_instance(name_or_path: str | Path) -> bool:
    """Whether the instance places a multi-echelon chain programme (solved by :func:`optimizer.pipeline.run_chain`).

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
    """Whether the manifest has a ``[periods]`` section (solved by :func:`optimizer.pipeline.run_periods`)."""
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


def load_instance(name_or_path: str | Path, overrides: dict[str, str] | None = None) -> Instance:
    """Load, validate and resolve an instance; raise :class:`InputError` on the first problem found."""
    overrides = overrides or {}
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
    parameters = _resolve_parameters(manifest, path, overrides, tuple(p.id for p in programmes))
    assumptions = _resolve_assumptions(manifest, path, overrides)
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
    chosen_by = "--set" if {"model", "service_km"} & set(overrides) else path
    programmes = [p if p.kind == "chain" else p.resolved(assumptions, model=str(parameters["model"]),
                                                         service_km=str(parameters["service_km"]), source=chosen_by)
                  for p in programmes]
    parameters["equity_within_km"] = equity_distances(str(parameters["equity_within_km"]),
                                                      "--set" if "equity_within_km" in overrides else path)

    if generator:
        demand_raw, cand_raw, demand_path, cand_path, table_files = _generate_tables(generator, path, roots)
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
        existing_path = table_path(tables["existing"], path, "existing")
        known = {p.stem for p in MODELS_DIR.glob("*.toml") if p.name not in ASSUMPTION_FILES}
        existing, extra = load_existing(existing_path, candidates, demand, assumptions, known)
        if len(extra):
            candidates = pd.concat([candidates, extra], ignore_index=True)
        table_files = {**table_files, "existing": existing_path}
    periods = read_periods(manifest["periods"], path, assumptions) if "periods" in manifest else None
    if periods is not None:
        for pid in periods.demand_factor:
            if pid not in place:
                raise InputError(f"demand_factor names programme {pid!r}, which the instance does not place",
                                 file=path, field="periods.demand_factor")
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
        network_files=networks,
        existing=existing,
        periods=periods,
    )


GENERATOR_KEYS: dict[str, Parameter] = {
    "kind": Parameter(str, "fine", "generator: fine (optimizer.data.generate.fine_tables)", ("fine",)),
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
            raise InputError(unknown_message(key, GENERATOR_KEYS).replace("parameter", "generator key"), file=path,
                             field=f"generator.{key}")
        spec[key] = _coerce(value, GENERATOR_KEYS[key], f"generator.{key}", path)
    for key in ("demand_points", "candidate_parcels", "seed"):
        if key not in spec:
            raise InputError(f"the generator needs {key} ({GENERATOR_KEYS[key].doc})", file=path,
                             field=f"generator.{key}")
    return {k: spec.get(k, p.default) for k, p in GENERATOR_KEYS.items()}


def _generate_tables(spec: dict, path: Path, roots: list[Path]
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
    demand, candidates = generate.fine_tables(int(spec["demand_points"]), int(spec["candidate_parcels"]),
                                              seed=int(spec["seed"]), municipalities=munis, sites=sites)
    files = {"generator.municipalities": frames["municipalities_path"],
             "generator.candidates": frames["candidates_path"], "generator.code": Path(generate.__file__)}
    return demand, candidates, path, path, files
