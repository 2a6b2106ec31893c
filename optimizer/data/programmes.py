"""Facility programmes and named assumptions, read from the TOML files in ``models/``.

A programme (materialenbank, sorting centre, cluster, ...) is data: its sizes with their sources in the study,
the spatial unit it is counted per, the size rule, eligible zone types and access rule, and the *names* of the
assumptions that turn inhabitants into tonnes and m² into capacity. Assumptions are figures the study does not
give; each is defined once, with its basis, in ``models/assumptions.toml`` or ``models/access.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.settings import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
ASSUMPTION_FILES = ("assumptions.toml", "access.toml")
SIZE_RULES = ("centrumstad", "single", "free")
ASSIGNMENT_RULES = ("own_region", "any")


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
    per_region: int | None
    total_count: int | None
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

    def region_for(self, variant: str) -> str:
        """Region column a size variant counts per (a variant may use another partition, e.g. the poster's)."""
        if variant != "final" and variant in self.variants:
            return str(self.variants[variant].get("region", self.region))
        return self.region

    def count_bounds(self, variant: str = "final") -> tuple[float, float]:
        """Facilities per region, as (lower, upper): the study's fixed count, or a variant's open range."""
        count = self.per_region if self.per_region is not None else self.total_count
        spec = self.variants.get(variant, {}) if variant != "final" else {}
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
        known = ", ".join(sorted(p.stem for p in models_dir.glob("*.toml") if p.stem not in ("assumptions", "access")))
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
    )


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
            "per_region": p.per_region, "count": p.count_bounds("final")[0], "size_rule": p.size_rule,
            "sizes_m2": {k: (v if v == v else None) for k, v in p.sizes_m2.items()},  # NaN: set by an assumption
            "size_variants": ["final", *p.variants], "zone_types": list(p.zone_types),
            "source": p.source,
        })
    return rows
