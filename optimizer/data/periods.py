"""The ``[periods]`` section of a manifest: a multi-period instance's timeline, read and validated once.

Every figure of a timeline is a named assumption (``models/periods.toml``); the manifest only says which ones the
instance uses, by name, so ``siting show`` lists them, ``summary.json`` records them and ``--set assumption.X=...``
changes them. Keys (all optional; the defaults are the generic assumptions)::

    [periods]
    starts = "period_start_years"            # first year of each period, "2025,2028,2031"
    end = "period_end_year"                  # last year of the last period
    opening_cost_per_m2 = "opening_cost_eur_per_m2"   # one-off, when a new facility opens
    closing_cost_per_m2 = "closing_cost_eur_per_m2"   # one-off, when a new facility closes
    reserve_window = ["reserve_open_from_year", "reserve_open_until_year"]   # S6: reserve land only in [t0, t1]
    coexistence = ["coexistence_until_year", "coexistence_free_land_share"]  # less free land until then
    demand_factor = { materialenbank = "bank_demand_factor_by_period" }      # per programme, one value per period
    sorted_share_factor = "chain_sorted_share_factor_by_period"              # plastics chain
    import_factor = "chain_import_factor_by_period"                          # plastics chain

A key left out has no effect (no reserve window: reserve land is open throughout; no coexistence: all free land).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.data.programmes import Assumption
from optimizer.errors import InputError

DEFAULTS = {"starts": "period_start_years", "end": "period_end_year",
            "opening_cost_per_m2": "opening_cost_eur_per_m2", "closing_cost_per_m2": "closing_cost_eur_per_m2"}
KEYS = (*DEFAULTS, "reserve_window", "coexistence", "demand_factor", "sorted_share_factor", "import_factor")


@dataclass(frozen=True)
class PeriodSpec:
    """A resolved timeline: periods, their lengths and every per-period figure of the instance."""

    labels: tuple[str, ...]
    start: np.ndarray  # first year of each period
    years: np.ndarray  # length of each period in years (the weight of its yearly costs)
    opening_cost_per_m2: float
    closing_cost_per_m2: float
    reserve_window: tuple[int, int] | None = None
    coexistence_until: int | None = None
    coexistence_free_land_share: float = 1.0
    demand_factor: dict[str, np.ndarray] = field(default_factory=dict)
    sorted_share_factor: np.ndarray | None = None
    import_factor: np.ndarray | None = None
    assumptions_used: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.labels)

    def reserve_open(self) -> np.ndarray:
        """Whether reserve land may be used in each period (its first year lies in the window)."""
        if self.reserve_window is None:
            return np.ones(self.n, dtype=bool)
        t0, t1 = self.reserve_window
        return (self.start >= t0) & (self.start <= t1)

    def free_land_share(self) -> np.ndarray:
        """Share of a zone's free land the programmes may use in each period (coexistence, L12697-12699)."""
        if self.coexistence_until is None:
            return np.ones(self.n)
        return np.where(self.start <= self.coexistence_until, self.coexistence_free_land_share, 1.0)

    def factor(self, programme: str) -> np.ndarray:
        """Demand factor of a programme per period (1 where the instance gives none)."""
        return self.demand_factor.get(programme, np.ones(self.n))


def read_periods(section: object, path: Path, assumptions: dict[str, Assumption]) -> PeriodSpec:
    """Validate a manifest's ``[periods]`` section against the named assumptions (see the module docstring)."""
    if not isinstance(section, dict):
        raise InputError("[periods] is a table of assumption names", file=path, field="periods")
    unknown = set(section) - set(KEYS)
    if unknown:
        key = sorted(unknown)[0]
        raise InputError(f"unknown key {key!r}; known: {', '.join(KEYS)}", file=path, field=f"periods.{key}")
    used: list[str] = []

    def value(key: str, name: object) -> object:
        if not isinstance(name, str) or name not in assumptions:
            raise InputError(f"{name!r} is not a named assumption (models/periods.toml)", file=path,
                             field=f"periods.{key}")
        used.append(name)
        return assumptions[name].value

    def number(key: str, name: object) -> float:
        v = value(key, name)
        try:
            out = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            out = math.nan
        if not math.isfinite(out):
            raise InputError(f"assumption {name!r} must be a number, is {v!r}", file=path, field=f"periods.{key}")
        return out

    def numbers(key: str, name: object, n: int | None) -> np.ndarray:
        v = value(key, name)
        try:
            out = np.array([float(s) for s in str(v).split(",")])
        except ValueError:
            out = np.array([math.nan])
        if not np.all(np.isfinite(out)) or (n is not None and len(out) != n):
            want = f"{n} numbers (one per period)" if n is not None else "numbers"
            raise InputError(f"assumption {name!r} must be {want}, comma separated; is {v!r}", file=path,
                             field=f"periods.{key}")
        return out

    keys = {**DEFAULTS, **section}
    start = numbers("starts", keys["starts"], None)
    end = number("end", keys["end"])
    if np.any(np.diff(start) <= 0) or np.any(start != np.round(start)) or end < start[-1]:
        raise InputError(f"period start years must be whole, increasing years before the end year {end:g}; "
                         f"got {list(start)}", file=path, field="periods.starts")
    n = len(start)
    years = np.diff(np.append(start, end + 1))
    labels = tuple(f"{int(a)}-{int(b)}" for a, b in zip(start, start + years - 1))
    spec: dict[str, object] = {}
    for key in ("opening_cost_per_m2", "closing_cost_per_m2"):
        spec[key] = number(key, keys[key])
        if spec[key] < 0:  # type: ignore[operator]
            raise InputError("a cost must be ≥ 0", file=path, field=f"periods.{key}")
    for key in ("reserve_window", "coexistence"):
        if key in section:
            pair = section[key]
            if not isinstance(pair, list) or len(pair) != 2:
                raise InputError("give two assumption names in a list", file=path, field=f"periods.{key}")
            spec[key] = (number(key, pair[0]), number(key, pair[1]))
    if "coexistence" in spec:
        until, share = spec.pop("coexistence")  # type: ignore[misc]
        if not 0 <= share <= 1:
            raise InputError("the coexistence free-land share must lie in [0, 1]", file=path, field="periods.coexistence")
        spec["coexistence_until"], spec["coexistence_free_land_share"] = int(until), float(share)
    if "reserve_window" in spec:
        t0, t1 = spec["reserve_window"]  # type: ignore[misc]
        spec["reserve_window"] = (int(t0), int(t1))
    factors = section.get("demand_factor", {})
    if not isinstance(factors, dict):
        raise InputError("demand_factor maps programme ids to assumption names", file=path,
                         field="periods.demand_factor")
    spec["demand_factor"] = {str(p): numbers("demand_factor", a, n) for p, a in factors.items()}
    for key in ("sorted_share_factor", "import_factor"):
        if key in section:
            spec[key] = numbers(key, section[key], n)
    for key, arr in [*((f"demand_factor.{p}", a) for p, a in spec["demand_factor"].items()),  # type: ignore[union-attr]
                     *((k, spec[k]) for k in ("sorted_share_factor", "import_factor") if k in spec)]:
        if np.any(np.asarray(arr) < 0):
            raise InputError("factors must be ≥ 0", file=path, field=f"periods.{key}")
    return PeriodSpec(labels=labels, start=start.astype(int), years=years.astype(float),
                      assumptions_used=tuple(dict.fromkeys(used)), **spec)  # type: ignore[arg-type]
