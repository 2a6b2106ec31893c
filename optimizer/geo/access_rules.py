"""Access parameters and multimodal siting rules: the named assumptions and rule sets of ``models/access.toml``.

:class:`AccessParameters` holds the thresholds, knooppuntwaarde weights, mode costs and the local-trip rule of the
network costs; :func:`load_mode_rules` the rule sets (strict, loose) per programme; :func:`effective_rule` a rule
with the run's minimum knooppuntwaarde; :func:`mode_rule_ok` evaluates a rule on access attributes
(:func:`optimizer.geo.access.access_attributes`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.geo.network_tables import CEMT_TO_INT, MODES, parse_cemt
from optimizer.settings import PROJECT_ROOT

ACCESS_TOML = PROJECT_ROOT / "models" / "access.toml"
ASSUMPTIONS_TOML = PROJECT_ROOT / "models" / "assumptions.toml"
_RULE_KEYS = frozenset({"required_modes", "min_modes", "min_knooppuntwaarde", "seaport", "count_modes",
                        "basis", "digest", "note", "min_knooppuntwaarde_basis", "min_knooppuntwaarde_source"})
RAIL_CATEGORIES = ("F1", "F2", "F3", "F4")
MIN_KV_PARAMETER = "min_knooppuntwaarde"  # run parameter; "min_knooppuntwaarde.<programme>" for one programme


@dataclass(frozen=True)
class AccessParameters:
    """Access thresholds, knooppuntwaarde weights and transport costs (named assumptions in ``models/``).

    Attributes
    ----------
    max_access_km
        Per mode (road, water, rail): the largest distance in km at which the mode counts as available.
    water_min_cemt
        Smallest CEMT class of a waterway usable for transport and counted for water access (e.g. ``"IV"``).
    rail_freight_categories
        Infrabel freight categories (F1-F4) that count as a rail freight line.
    weights, half_value_km
        Knooppuntwaarde: per-mode weight and the distance in km at which the mode's score halves.
    access_circuity
        Factor (≥ 1) on straight legs between a point and the road network, and on the local direct trip.
    local_trip_max_km
        Straight distance in km up to which a road trip may also run directly on local roads (straight x
        ``access_circuity``) instead of via the main network; 0 disables the direct trip.
    cost_eur_per_tkm
        Per mode: transport cost in EUR per tonne-kilometre.
    transhipment_eur_per_t
        Cost in EUR per tonne of one change between road and water or rail.
    seaport_min_share
        Share of a zone's area inside a seaport area for the zone to lie "in the seaport".
    k_access
        Nearest road entry nodes tried per point (a numerical setting, not an assumption).
    """

    max_access_km: Mapping[str, float]
    water_min_cemt: str
    rail_freight_categories: tuple[str, ...]
    weights: Mapping[str, float]
    half_value_km: Mapping[str, float]
    access_circuity: float
    local_trip_max_km: float
    cost_eur_per_tkm: Mapping[str, float]
    transhipment_eur_per_t: float
    seaport_min_share: float
    k_access: int = 3

    @property
    def water_min_cemt_rank(self) -> int:
        """``water_min_cemt`` as the CEMT group number 1-7 of the network tables' ``cemt`` column."""
        return CEMT_TO_INT[self.water_min_cemt]

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str] | None = None) -> AccessParameters:
        """Read the ``[assumptions.*]`` tables of ``models/access.toml`` (or ``path``) and ``models/assumptions.toml``.

        Parameters
        ----------
        path
            TOML file with the access assumptions; default ``models/access.toml`` of the project.

        Returns
        -------
        AccessParameters
        """
        path = Path(path) if path is not None else ACCESS_TOML
        tables = {**read_toml(ASSUMPTIONS_TOML).get("assumptions", {}), **read_toml(path).get("assumptions", {})}

        def val(key: str) -> Any:
            if key not in tables or "value" not in tables[key]:
                msg = f"missing assumption '{key}' (a table with value, unit, basis)"
                raise InputError(msg, file=path, field=f"assumptions.{key}")
            if not str(tables[key].get("basis", "")).strip():
                msg = f"assumption '{key}' has no basis text"
                raise InputError(msg, file=path, field=f"assumptions.{key}.basis")
            return tables[key]["value"]

        return cls._from_lookup(val, path)

    @classmethod
    def from_assumptions(cls, values: Mapping[str, Any], file: str | os.PathLike[str] | None = None) -> AccessParameters:
        """Build from resolved assumption values (an instance's, after its ``--set assumption.NAME=…`` overrides).

        Parameters
        ----------
        values
            Assumption name → value (e.g. ``{k: a.value for k, a in instance.assumptions.items()}``).
        file
            Where the values come from, for error messages.
        """

        def val(key: str) -> Any:
            if key not in values:
                raise InputError(f"missing assumption '{key}'", file=file, field=f"assumptions.{key}")
            return values[key]

        return cls._from_lookup(val, file)

    @classmethod
    def _from_lookup(cls, val: Callable[[str], Any], path: str | os.PathLike[str] | None) -> AccessParameters:
        cemt = parse_cemt(val("water_min_cemt"))
        if cemt is None:
            msg = f"unknown CEMT class {val('water_min_cemt')!r}; use one of {list(CEMT_TO_INT)}"
            raise InputError(msg, file=path, field="assumptions.water_min_cemt")
        cats = tuple(c.strip().upper() for c in str(val("rail_freight_categories")).split(",") if c.strip())
        if not cats or any(c not in RAIL_CATEGORIES for c in cats):
            raise InputError(f"rail_freight_categories must list some of {', '.join(RAIL_CATEGORIES)}, got {cats!r}",
                             file=path, field="assumptions.rail_freight_categories")
        params = cls(
            max_access_km={m: float(val(f"{m}_max_access_km")) for m in MODES},
            water_min_cemt=cemt,
            rail_freight_categories=cats,
            weights={m: float(val(f"kv_weight_{m}")) for m in MODES},
            half_value_km={m: float(val(f"kv_half_value_{m}_km")) for m in MODES},
            access_circuity=float(val("access_circuity")),
            local_trip_max_km=float(val("local_trip_max_km")),
            cost_eur_per_tkm={m: float(val(f"cost_{m}_eur_per_tkm")) for m in MODES},
            transhipment_eur_per_t=float(val("transhipment_eur_per_t")),
            seaport_min_share=float(val("seaport_zone_min_share")),
        )
        params.check(path)
        return params

    def check(self, file: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` if a parameter is out of range (circuity < 1, negative cost, ...)."""
        if self.water_min_cemt not in CEMT_TO_INT:
            raise InputError(f"unknown CEMT class {self.water_min_cemt!r}", file=file, field="water_min_cemt")
        if not self.access_circuity >= 1:
            msg = "access_circuity must be ≥ 1 (a road distance never beats the straight line)"
            raise InputError(msg, file=file, field="access_circuity")
        numbers = [*self.max_access_km.values(), *self.half_value_km.values()]
        if any(not v > 0 for v in numbers):
            raise InputError("distances must be > 0 km", file=file, field="max_access_km")
        if not (np.isfinite(self.local_trip_max_km) and self.local_trip_max_km >= 0):
            raise InputError("local_trip_max_km must be a number ≥ 0", file=file, field="local_trip_max_km")
        costs = [*self.cost_eur_per_tkm.values(), self.transhipment_eur_per_t]
        if any(not np.isfinite(v) or v < 0 for v in [*self.weights.values(), *costs]) or sum(self.weights.values()) <= 0:
            raise InputError("weights and costs must be finite and ≥ 0 (weights not all 0)", file=file,
                             field="weights")
        if not 0.0 < self.seaport_min_share <= 1.0:
            raise InputError("seaport_zone_min_share must be in (0, 1]", file=file, field="seaport_zone_min_share")
        if not 1 <= int(self.k_access) <= 60:
            raise InputError("k_access must be between 1 and 60", file=file, field="k_access")

    def cost_key(self) -> dict[str, Any]:
        """The values that shape a pair cost (for cache keys): costs, circuity, CEMT minimum, local trip, k."""
        return {"cost_eur_per_tkm": dict(self.cost_eur_per_tkm), "transhipment_eur_per_t": self.transhipment_eur_per_t,
                "access_circuity": self.access_circuity, "water_min_cemt": self.water_min_cemt,
                "local_trip_max_km": self.local_trip_max_km, "k_access": int(self.k_access)}

    def as_dict(self) -> dict[str, Any]:
        """Plain values (mappings as dicts)."""
        return {k: (dict(v) if isinstance(v, Mapping) else (list(v) if isinstance(v, tuple) else v))
                for k, v in self.__dict__.items()}


def load_mode_rules(path: str | os.PathLike[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Read the multimodal rule sets (``[rules.<set>.<programme>]``) of ``models/access.toml``.

    Parameters
    ----------
    path
        TOML file; default ``models/access.toml``.

    Returns
    -------
    dict
        ``{rule_set: {programme: rule}}``; every rule is checked (see :func:`mode_rule_ok`). Each set has a
        ``default`` rule used for programmes it does not list.
    """
    path = Path(path) if path is not None else ACCESS_TOML
    rules = read_toml(path).get("rules", {})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for set_name, programmes in rules.items():
        out[set_name] = {}
        for prog, rule in programmes.items():
            if not isinstance(rule, dict):
                continue  # descriptive keys of the set (description, basis)
            try:
                check_rule(rule)
            except ValueError as e:
                raise InputError(str(e), file=path, field=f"rules.{set_name}.{prog}") from e
            out[set_name][prog] = rule
        out[set_name].setdefault("default", {})
    return out


def programme_rule(rules: Mapping[str, Mapping[str, dict]], rule_set: str, programme: str) -> dict[str, Any]:
    """Return the rule of ``programme`` in ``rule_set`` (its ``default`` rule if the programme is not listed)."""
    if rule_set not in rules:
        msg = f"unknown rule set {rule_set!r}; known: {sorted(rules)}"
        raise KeyError(msg)
    sets = rules[rule_set]
    return dict(sets.get(programme, sets.get("default", {})))


def min_knooppuntwaarde_override(parameters: Mapping[str, Any], programme: str) -> float | None:
    """The run's minimum knooppuntwaarde for ``programme`` (``--set min_knooppuntwaarde[.<programme>]=…``), or None.

    A per-programme value wins over the value for all programmes; ``"rule"`` (the default) keeps the rule's own
    minimum from ``models/access.toml``.
    """
    for key in (f"{MIN_KV_PARAMETER}.{programme}", MIN_KV_PARAMETER):
        value = parameters.get(key, "rule")
        if value not in (None, "", "rule"):
            return float(value)
    return None


def effective_rule(rules: Mapping[str, Mapping[str, dict]] | None, rule_set: str, code: str, programme: str,
                   parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The access rule a programme's option must meet in this run: the rule set's rule for ``code`` (empty when
    the rule set is ``none``) with the run's minimum knooppuntwaarde, if one is set, in place of the rule's own."""
    rule = programme_rule(rules, rule_set, code) if rules is not None else {}
    kv = min_knooppuntwaarde_override(parameters, programme)
    if kv is not None:
        rule["min_knooppuntwaarde"] = kv
        rule["min_knooppuntwaarde_source"] = "run parameter"
    return rule


def mode_rule_ok(attrs: pd.DataFrame, rule: Mapping[str, Any]) -> np.ndarray:
    """Evaluate a multimodal siting rule on :func:`access_attributes` rows.

    Parameters
    ----------
    attrs
        Output of :func:`access_attributes`.
    rule
        Mapping with any of: ``required_modes`` (list of "road"/"water"/"rail", all must be available),
        ``min_modes`` (int: at least this many of ``count_modes`` available), ``count_modes`` (modes counted
        for ``min_modes``, default all three), ``min_knooppuntwaarde`` (float in [0, 1]), ``seaport`` (bool:
        must lie inside one of the four seaport areas, ``has_seaport`` from geometry). ``basis``/``digest``/``note``
        are documentation.
        An empty rule accepts every point.

    Returns
    -------
    numpy.ndarray of bool
        True where the point satisfies the rule.
    """
    check_rule(rule)
    ok = np.ones(len(attrs), dtype=bool)
    for m in rule.get("required_modes", []):
        ok &= attrs[f"has_{m}"].to_numpy(dtype=bool)
    count_modes = rule.get("count_modes", MODES)
    if rule.get("min_modes", 0):
        n = np.sum([attrs[f"has_{m}"].to_numpy(dtype=int) for m in count_modes], axis=0)
        ok &= n >= int(rule["min_modes"])
    if rule.get("min_knooppuntwaarde", 0.0):
        ok &= attrs["knooppuntwaarde"].to_numpy(dtype=float) >= float(rule["min_knooppuntwaarde"])
    if rule.get("seaport", False):
        ok &= attrs["has_seaport"].to_numpy(dtype=bool)
    return ok


def check_rule(rule: Mapping[str, Any]) -> None:
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        msg = f"unknown rule key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}"
        raise ValueError(msg)
    for key in ("required_modes", "count_modes"):
        bad = set(rule.get(key, [])) - set(MODES)
        if bad:
            raise ValueError(f"{key}: unknown mode(s) {sorted(bad)}; use {list(MODES)}")
    k = rule.get("min_modes", 0)
    if not isinstance(k, int) or not 0 <= k <= len(rule.get("count_modes", MODES)):
        raise ValueError(f"min_modes must be an integer between 0 and the number of counted modes, got {k!r}")
    kv = rule.get("min_knooppuntwaarde", 0.0)
    if not isinstance(kv, (int, float)) or not 0.0 <= kv <= 1.0:
        raise ValueError(f"min_knooppuntwaarde must be in [0, 1], got {kv!r}")
    if not isinstance(rule.get("seaport", False), bool):
        raise ValueError("seaport must be true or false")
