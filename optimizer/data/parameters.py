"""Run parameters: their types, defaults and allowed values (:data:`PARAMETERS`), and how a manifest's
``[parameters]`` / ``[assumptions]`` and ``--set`` overrides are checked and applied (one line naming the file and
the key on any problem). :mod:`optimizer.data.instance` resolves them when it loads an instance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from optimizer.data.programmes import MODELS, Assumption, load_assumptions
from optimizer.errors import InputError
from optimizer.settings import EQUITY_WITHIN_KM


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
MIN_KV = "min_knooppuntwaarde"  # also per programme: min_knooppuntwaarde.<programme> (docs/geography.md §4)


def coerce_parameter(value: object, spec: Parameter, where: str, file: str | Path) -> object:
    """``value`` as the parameter's type, checked against its choices and minimum (:class:`InputError` if not)."""
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


def resolve_parameters(given: dict, path: Path, overrides: Mapping[str, object],
                       programme_ids: tuple[str, ...] | None = None) -> dict[str, object]:
    """Every parameter: its default, else the manifest's value (``given``), else ``--set`` (``overrides``); checked.
    ``min_knooppuntwaarde.<programme>`` must name one of ``programme_ids`` (when given)."""
    params = {k: p.default for k, p in PARAMETERS.items()}
    for key, value in given.items():
        if key == MIN_KV or key.startswith(MIN_KV + "."):
            params[key] = _min_knooppuntwaarde(key, value, path, f"parameters.{key}", programme_ids)
            continue
        if key not in PARAMETERS:
            raise InputError(unknown_message(key, PARAMETERS), file=path, field=f"parameters.{key}")
        params[key] = coerce_parameter(value, PARAMETERS[key], f"parameters.{key}", path)
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
    return coerce_parameter(value, PARAMETERS[key], key, file)


def _min_knooppuntwaarde(key: str, value: object, file: str | Path, where: str,
                         programme_ids: tuple[str, ...] | None) -> object:
    """``min_knooppuntwaarde`` (all programmes) or ``min_knooppuntwaarde.<programme>``: 'rule' or a number in [0, 1]."""
    programme = key.partition(".")[2]
    if programme and programme_ids is not None and programme not in programme_ids:
        msg = f"{key}: the instance places no programme {programme!r}; its programmes: {', '.join(programme_ids)}"
        raise InputError(msg, file=file, field=where)
    if str(value).strip().lower() == "rule":
        return "rule"
    number = coerce_parameter(value, Parameter(float, 0.0, ""), where, file)
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


def resolve_assumptions(given: dict, path: Path, overrides: Mapping[str, object]) -> dict[str, Assumption]:
    """Every named assumption of ``models/``, with the manifest's (``given``) and ``--set`` values applied."""
    assumptions = load_assumptions()
    changes = [(k, v, path, f"assumptions.{k}") for k, v in given.items()]
    changes += [(k.removeprefix("assumption."), v, "--set", k) for k, v in overrides.items() if k.startswith("assumption.")]
    for name, value, file, where in changes:
        if name not in assumptions:
            raise InputError(unknown_message(name, assumptions).replace("parameter", "assumption"), file=file, field=where)
        old = assumptions[name]
        if isinstance(old.value, str):
            new_value: float | str = str(value)
        else:
            new_value = coerce_parameter(value, Parameter(float, 0.0, ""), where, file)  # type: ignore[assignment]
        assumptions[name] = Assumption(name, new_value, old.unit, old.basis + f" [overridden in {file}]", old.file)
    return assumptions
