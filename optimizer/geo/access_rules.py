"""Access parameters and multimodal siting rules: the named assumptions and rule sets of ``models/access.toml``.

:class:`AccessParameters` holds the thresholds, knooppuntwaarde weights and mode costs; :func:`load_mode_rules`
the rule sets (strict, loose) per programme; :func:`mode_rule_ok` evaluates a rule on access attributes
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
from optimizer.geo.network_tables import CEMT_RANK, MODES, parse_cemt
from optimizer.settings import PROJECT_ROOT

ACCESS_TOML = PROJECT_ROOT / "models" / "access.toml"
_RULE_KEYS = frozenset({"required_modes", "min_modes", "min_knooppuntwaarde", "seaport", "count_modes",
                        "basis", "digest", "note"})


@dataclass(frozen=True)
class AccessParameters:
    """Access thresholds, knooppuntwaarde weights and mode costs (all named assumptions in ``access.toml``).

    Attributes
    ----------
    max_access_km
        Per mode (road, water, rail): the largest distance in km at which the mode counts as available.
    seaport_max_km
        Largest distance in km to a seaport node for ``has_seaport``.
    water_min_cemt
        Smallest CEMT class of a waterway stretch that counts for ``water_km`` and water transport.
    weights, half_value_km
        Knooppuntwaarde: per-mode weight and the distance in km at which the mode's score halves.
    access_circuity
        Factor (≥ 1) on straight-line access legs (point to network node) to approximate a road detour.
    link_detour
        Per mode: factor (≥ 1) on the straight-line length of *schematic* links.
    transfer_max_km
        Largest straight distance in km between nodes of two modes joined by a transfer edge.
    cost_eur_per_tkm
        Per mode: transport cost in EUR per tonne-kilometre.
    transhipment_eur_per_t
        Cost in EUR per tonne of one change of mode.
    """

    max_access_km: Mapping[str, float]
    seaport_max_km: float
    water_min_cemt: str
    weights: Mapping[str, float]
    half_value_km: Mapping[str, float]
    access_circuity: float
    link_detour: Mapping[str, float]
    transfer_max_km: float
    cost_eur_per_tkm: Mapping[str, float]
    transhipment_eur_per_t: float

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str] | None = None) -> AccessParameters:
        """Read the ``[assumptions.*]`` tables of ``models/access.toml`` (or ``path``).

        Parameters
        ----------
        path
            TOML file; default ``models/access.toml`` of the project.

        Returns
        -------
        AccessParameters
        """
        path = Path(path) if path is not None else ACCESS_TOML
        data = read_toml(path)
        a = data.get("assumptions", {})

        def val(key: str) -> Any:
            if key not in a or "value" not in a[key]:
                msg = f"missing assumption '{key}' (a table with value, unit, basis)"
                raise InputError(msg, file=path, field=f"assumptions.{key}")
            if not str(a[key].get("basis", "")).strip():
                msg = f"assumption '{key}' has no basis text"
                raise InputError(msg, file=path, field=f"assumptions.{key}.basis")
            return a[key]["value"]

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
        params = cls(
            max_access_km={m: float(val(f"{m}_max_access_km")) for m in MODES},
            seaport_max_km=float(val("seaport_max_km")),
            water_min_cemt=parse_cemt(val("water_min_cemt")) or "",
            weights={m: float(val(f"kv_weight_{m}")) for m in MODES},
            half_value_km={m: float(val(f"kv_half_value_{m}_km")) for m in MODES},
            access_circuity=float(val("access_circuity")),
            link_detour={m: float(val(f"link_detour_{m}")) for m in MODES},
            transfer_max_km=float(val("transfer_max_km")),
            cost_eur_per_tkm={m: float(val(f"cost_{m}_eur_per_tkm")) for m in MODES},
            transhipment_eur_per_t=float(val("transhipment_eur_per_t")),
        )
        params.check(path)
        return params

    def check(self, file: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` if a parameter is out of range (circuity < 1, negative cost, ...)."""
        if self.water_min_cemt not in CEMT_RANK:
            raise InputError(f"unknown CEMT class {self.water_min_cemt!r}", file=file, field="water_min_cemt")
        if self.access_circuity < 1 or any(v < 1 for v in self.link_detour.values()):
            msg = "circuity and detour factors must be ≥ 1 (network distance must not beat the straight line)"
            raise InputError(msg, file=file, field="access_circuity")
        numbers = [*self.max_access_km.values(), *self.half_value_km.values(), self.seaport_max_km,
                   self.transfer_max_km]
        if any(not v > 0 for v in numbers):
            raise InputError("distances must be > 0 km", file=file, field="max_access_km")
        if any(v < 0 for v in [*self.weights.values(), *self.cost_eur_per_tkm.values(),
                               self.transhipment_eur_per_t]) or sum(self.weights.values()) <= 0:
            raise InputError("weights and costs must be ≥ 0 (weights not all 0)", file=file, field="weights")

    def as_dict(self) -> dict[str, Any]:
        """Plain values (mappings as dicts), for cache keys."""
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.__dict__.items()}


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
        must be within ``seaport_max_km`` of a seaport). ``basis``/``digest``/``note`` are documentation.
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
