"""Facility programmes and named assumptions, read from the TOML files in ``models/``.

A programme (materialenbank, sorting centre, cluster, ...) is data: its sizes with their sources in the study,
the spatial unit it is counted per, the size rule, eligible zone types and access rule, and the *names* of the
assumptions that turn inhabitants into tonnes and m² into capacity. Assumptions are figures the study does not
give; each is defined once, with its basis, in ``models/assumptions.toml``, ``models/access.toml`` or
``models/coverage.toml``.

A programme also names the model that places it (``model``, default ``pmedian``: least transport and land cost, the
capacitated facility-location problem when capacities bind) or a coverage model (``lscp``, ``mclp``, ``pcenter``,
``pmedian_max``) with its service distance and covered-demand definition (docs/programmes.md, "Models"). A count or
service distance may name an assumption; :meth:`Programme.resolved` turns such names into numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.settings import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
ASSUMPTION_FILES = ("assumptions.toml", "access.toml", "coverage.toml", "existing.toml", "periods.toml")
SIZE_RULES = ("centrumstad", "single", "free")
ASSIGNMENT_RULES = ("own_region", "any")
# the models a programme can be placed by: today's p-median / CFLP and the coverage family (optimizer.model.coverage)
DEFAULT_MODEL = "pmedian"
COVERAGE_MODELS = ("lscp", "mclp", "pcenter", "pmedian_max")
MODELS = (DEFAULT_MODEL, *COVERAGE_MODELS)
COVER_RULES = ("all", "reachable")
NEEDS_SERVICE = ("lscp", "mclp", "pmedian_max")
NEEDS_COUNT = ("mclp", "pcenter")
TRANSPORT_MODES = ("road", "water", "rail")  # a flow may use road, road-water-road or road-rail-road


@dataclass(frozen=True)
class Assumption:
    """A figure that the study does not give: value, unit, basis and where it is defined."""

    name: str
    value: float | str
    unit: str
    basis: str
    file: str


@dataclass(frozen=True)
class Programme:
    """A facility programme as defined in ``models/<id>.toml``."""

    id: str
    name: str
    source: str
    region: str
    per_region: int | str | None  # a whole number, or an assumption's name until resolved()
    total_count: int | str | None
    assignment: str
    zone_types: tuple[str, ...]
    demand_per_inhabitant: str
    capacity_per_m2: str | None
    size_rule: str
    sizes_m2: dict[str, float]
    size_sources: dict[str, str]
    access_codes: dict[str, str] = field(default_factory=dict)
    variants: dict[str, dict] = field(default_factory=dict)
    expected: dict[str, dict] = field(default_factory=dict)
    file: str = ""
    type_environments: tuple[str, ...] = ()
    size_type_environments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    size_area_assumptions: dict[str, str] = field(default_factory=dict)
    may_use_reserve: bool = False
    sites_in_centrumstad: bool = False
    kind: str = "location"
    transport_modes: tuple[str, ...] = ("road",)
    model: str = DEFAULT_MODEL
    service_km: float | str | None = None  # a number (km) or the name of an assumption
    p: int | str | None = None  # exactly p facilities in total (a number or an assumption name)
    lscp_objective: str = "count"
    cover: str = "all"
    cover_zero_demand: bool = True
    demand_unit: str = "t/yr"
    references: dict[str, str] = field(default_factory=dict)  # key -> assumption name, after resolved()

    @property
    def is_coverage(self) -> bool:
        """Whether a coverage model (not the default p-median / CFLP) places this programme."""
        return self.model != DEFAULT_MODEL

    def resolved(self, assumptions: dict[str, Assumption], *, model: str = "programme",
                 service_km: str = "programme", source: str | Path = "--set") -> Programme:
        """This programme with every assumption name (counts, ``p``, ``service_km``) replaced by its value.

        ``model`` and ``service_km`` are the run parameters of the same names: ``"programme"`` keeps the
        programme's own; anything else replaces it (a model name; a number in km or an assumption name, for the
        coverage models only). ``source`` names where those parameters were set (``--set`` or the manifest) in an
        error. The names
        stay in :attr:`references` so that results can print which assumption set a figure.
        """
        from dataclasses import replace

        where = {"file": self.file}
        refs = dict(self.references)
        chosen_model = self.model if model == "programme" else model
        own = service_km == "programme" or chosen_model == DEFAULT_MODEL  # the p-median has no service distance
        service: float | str | None = self.service_km if own else service_km
        if not own:
            where = {"file": str(source), "field": "service_km"}

        def value(key: str, given: object, *, integer: bool = False) -> float | int | None:
            if given is None or isinstance(given, (int, float)) and not isinstance(given, bool):
                return given  # type: ignore[return-value]
            text = str(given).strip()
            try:
                number = float(text)
            except ValueError:
                if text not in assumptions:
                    raise InputError(f"{key} names unknown assumption {text!r}; give a number or the name of an "
                                     "assumption in models/ (siting show NAME lists them)",
                                     file=where.get("file"), field=where.get("field", f"programme.{key}")) from None
                refs[key] = text
                number = float(assumptions[text].value)
            if integer:
                if number != int(number) or number < 0:
                    raise InputError(f"{key} must be a whole number ≥ 0, got {number:g}", file=self.file,
                                     field=f"programme.{key}")
                return int(number)
            return number

        per_region = value("per_region", self.per_region, integer=True)
        total = value("total_count", self.total_count, integer=True)
        p = value("p", self.p, integer=True)
        km = value("service_km", service)
        if km is not None and not km >= 0:
            raise InputError(f"service_km must be ≥ 0 km, got {km:g}", **where)
        out = replace(self, model=chosen_model, per_region=per_region, total_count=total, p=p, service_km=km,
                      references=refs)
        out.check_model(source=None if model == "programme" else source)
        return out

    def check_model(self, *, source: str | Path | None = None) -> None:
        """A model name we know, with what it needs (a service distance; a count for MCLP and p-center).

        ``source``: where the run chose the model (``--set`` or a manifest), named in the error instead of the
        programme file.
        """
        file, prefix = (str(source), "") if source is not None else (self.file, "programme.")
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}", file=file,
                             field=f"{prefix}model")
        if self.model in NEEDS_SERVICE and self.service_km is None:
            raise InputError(f"programme {self.id!r}: model {self.model} needs a service distance: set service_km "
                             "in the programme (km or an assumption name) or --set service_km=KM", file=file,
                             field=f"{prefix}service_km")
        if self.model in NEEDS_COUNT and self.per_region is None and self.total_count is None and self.p is None:
            raise InputError(f"programme {self.id!r}: model {self.model} needs a number of facilities: p, "
                             "per_region or total_count", file=file, field=f"{prefix}model")

    def region_for(self, variant: str) -> str:
        """Region column a size variant counts per (a variant may use another partition, e.g. the poster's)."""
        if variant != "final" and variant in self.variants:
            return str(self.variants[variant].get("region", self.region))
        return self.region

    def count_bounds(self, variant: str = "final") -> tuple[float, float]:
        """Facilities per region, as (lower, upper): the study's fixed count, or a variant's open range.

        A coverage programme without a count (LSCP: the model decides how many) gives ``(0, inf)``.
        """
        count = self.per_region if self.per_region is not None else self.total_count
        spec = self.variants.get(variant, {}) if variant != "final" else {}
        if count is None and not {"count_min", "count_max"} & set(spec):
            return 0.0, float("inf")
        return float(spec.get("count_min", count)), float(spec.get("count_max", count))

    def types_for(self, size: str) -> tuple[str, ...]:
        """Type environments (digest §3) a size may use; empty: every type."""
        return self.size_type_environments.get(size, self.type_environments)

    def knows_variant(self, variant: str) -> bool:
        """Whether this programme defines ``variant`` (``final`` always)."""
        return variant == "final" or variant in self.variants

    def sizes_for(self, variant: str, *, strict: bool = False) -> dict[str, float]:
        """Plot sizes in m² for a size variant (``final`` is the study's final text).

        A variant this programme does not define keeps the final sizes: in an integrated instance (S4) the poster
        variant changes banks and clusters, while the sorting centre has one size in both versions (digest §1.8).
        ``strict`` raises instead; :func:`optimizer.data.instance.load_instance` does so when no programme knows it.
        """
        if variant == "final" or (variant not in self.variants and not strict):
            return dict(self.sizes_m2)
        if variant not in self.variants:
            known = ", ".join(["final", *self.variants])
            msg = f"programme {self.id!r} has no size variant {variant!r}; known: {known}"
            raise InputError(msg, file=self.file, field="variants")
        sizes = dict(self.sizes_m2)
        sizes.update({k: float(v) for k, v in self.variants.get(variant, {}).get("sizes", {}).items()})
        return sizes


def load_assumptions(models_dir: Path = MODELS_DIR) -> dict[str, Assumption]:
    """All named assumptions of ``models/``; a name defined twice is an error."""
    found: dict[str, Assumption] = {}
    for fname in ASSUMPTION_FILES:
        path = models_dir / fname
        if not path.exists():
            continue
        for name, spec in read_toml(path).get("assumptions", {}).items():
            if name in found:
                msg = f"assumption {name!r} is also defined in {found[name].file}; define it in one place"
                raise InputError(msg, file=path, field=f"assumptions.{name}")
            if "value" not in spec or "basis" not in spec:
                raise InputError("an assumption needs 'value' and 'basis'", file=path, field=f"assumptions.{name}")
            found[name] = Assumption(name, spec["value"], spec.get("unit", ""), spec["basis"].strip(), str(path))
    return found


def load_programme(programme_id: str, models_dir: Path = MODELS_DIR) -> Programme:
    """Read ``models/<programme_id>.toml`` and check it."""
    path = models_dir / f"{programme_id}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in models_dir.glob("*.toml") if p.name not in ASSUMPTION_FILES))
        msg = f"unknown programme {programme_id!r}; known programmes: {known}"
        raise InputError(msg, field="programme")
    data = read_toml(path)
    spec = data.get("programme", {})

    def need(key: str) -> object:
        if key not in spec:
            raise InputError(f"missing key '{key}'", file=path, field=f"programme.{key}")
        return spec[key]

    sizes = data.get("sizes", {})
    if not sizes:
        raise InputError("a programme needs at least one [sizes.NAME] table", file=path, field="sizes")
    sizes_m2 = {}
    for name, s in sizes.items():
        area = s.get("area_m2")
        if area is None and isinstance(s.get("area_assumption"), str):
            sizes_m2[name] = float("nan")  # resolved from the named assumption at compile time
            continue
        if not isinstance(area, (int, float)) or area <= 0:
            raise InputError("area_m2 must be a positive number", file=path, field=f"sizes.{name}.area_m2")
        sizes_m2[name] = float(area)
    size_rule = str(need("size_rule"))
    if size_rule not in SIZE_RULES:
        raise InputError(f"size_rule must be one of {SIZE_RULES}", file=path, field="programme.size_rule")
    if size_rule == "centrumstad" and not {"large", "small"} <= set(sizes_m2):
        raise InputError("size_rule 'centrumstad' needs sizes 'large' and 'small'", file=path, field="sizes")
    modes = spec.get("transport_modes", ["road"])
    if not isinstance(modes, list) or not set(map(str, modes)) <= set(TRANSPORT_MODES) or "road" not in modes:
        msg = f"transport_modes lists the modes a flow may use, road included, among {list(TRANSPORT_MODES)}"
        raise InputError(msg, file=path, field="programme.transport_modes")
    assignment = str(spec.get("assignment", "own_region"))
    if assignment not in ASSIGNMENT_RULES:
        raise InputError(f"assignment must be one of {ASSIGNMENT_RULES}", file=path, field="programme.assignment")
    return Programme(
        id=str(need("id")),
        name=str(need("name")),
        source=str(spec.get("source", "")),
        region=str(need("region")),
        per_region=spec.get("per_region"),
        total_count=spec.get("total_count"),
        assignment=assignment,
        zone_types=tuple(spec.get("zone_types", ["economic_zone"])),
        demand_per_inhabitant=str(need("demand_per_inhabitant")),
        capacity_per_m2=spec.get("capacity_per_m2"),
        size_rule=size_rule,
        sizes_m2=sizes_m2,
        size_sources={k: str(v.get("source", "")) for k, v in sizes.items()},
        access_codes={k: str(v.get("access_code", f"{spec.get('id', '')}_{k}")) for k, v in sizes.items()},
        variants=data.get("variants", {}),
        expected=data.get("expected", {}),
        file=str(path),
        type_environments=tuple(spec.get("type_environments", [])),
        size_type_environments={k: tuple(v["type_environments"]) for k, v in sizes.items() if "type_environments" in v},
        size_area_assumptions={k: str(v["area_assumption"]) for k, v in sizes.items() if "area_assumption" in v},
        may_use_reserve=bool(spec.get("may_use_reserve", False)),
        sites_in_centrumstad=bool(spec.get("sites_in_centrumstad", False)),
        kind=str(spec.get("kind", "location")),
        **_model_keys(spec, path),
        transport_modes=tuple(m for m in TRANSPORT_MODES if m in set(map(str, modes))),
    )


def _model_keys(spec: dict, path: Path) -> dict[str, object]:
    """The model keys of a programme file, checked (the values that name assumptions are resolved on load)."""
    model = str(spec.get("model", DEFAULT_MODEL))
    if model not in MODELS:
        raise InputError(f"model must be one of {', '.join(MODELS)}", file=path, field="programme.model")
    out: dict[str, object] = {"model": model}
    for key in ("service_km", "p"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            raise InputError(f"{key} must be a number or the name of an assumption", file=path, field=f"programme.{key}")
        out[key] = value
    for key in ("per_region", "total_count"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))):
            raise InputError(f"{key} must be a whole number or the name of an assumption", file=path,
                             field=f"programme.{key}")
    choices = {"lscp_objective": ("count", "cost"), "cover": COVER_RULES}
    for key, allowed in choices.items():
        value = str(spec.get(key, allowed[0]))
        if value not in allowed:
            raise InputError(f"{key} must be one of {', '.join(allowed)}", file=path, field=f"programme.{key}")
        out[key] = value
    zero = spec.get("cover_zero_demand", True)
    if not isinstance(zero, bool):
        raise InputError("cover_zero_demand must be true or false", file=path, field="programme.cover_zero_demand")
    out["cover_zero_demand"] = zero
    out["demand_unit"] = str(spec.get("demand_unit", "t/yr"))
    return out


def _count_or_none(programme: Programme) -> float | str | None:
    """The count of a programme for the catalogue: a number, an assumption's name, or ``None`` (the model decides)."""
    count = programme.per_region if programme.per_region is not None else programme.total_count
    if count is None or isinstance(count, str):
        return count
    return programme.count_bounds("final")[0]


def programme_catalogue(models_dir: Path = MODELS_DIR) -> list[dict]:
    """Every programme of ``models/`` with what a caller needs to offer it (id, name, region, sizes, variants).

    What ``siting programmes --json`` prints and the QGIS plugin offers; a size set by a named assumption (no
    ``area_m2`` in the programme file) is ``None``, not NaN, so the list is valid JSON.
    """
    rows = []
    for path in sorted(models_dir.glob("*.toml")):
        if path.name in ASSUMPTION_FILES:
            continue
        p = load_programme(path.stem, models_dir)
        rows.append({
            "id": p.id, "name": p.name, "kind": p.kind, "locate": p.kind != "chain", "region": p.region,
            "per_region": p.per_region, "count": _count_or_none(p), "size_rule": p.size_rule, "model": p.model,
            "sizes_m2": {k: (v if v == v else None) for k, v in p.sizes_m2.items()},  # NaN: set by an assumption
            "size_variants": ["final", *p.variants], "zone_types": list(p.zone_types),
            "source": p.source,
        })
    return rows
