"""Rule tensions: where the study's counts and sizes, not the flows, decide how full the facilities are.

The study sizes and counts facilities by rule (one bank per arrondissement, large where a centrumstad lies, 14
sorting centres) and gives no tonnages (digest A8); the tonnages and throughputs are named assumptions. Where the
two disagree a planner must hear it: a programme whose facilities run **above 100 %** of their assumed capacity, or
mostly **below a floor** (named assumption ``utilisation_floor``), is flagged with the sentence that explains it
and what would carry the flow instead.

One definition of utilisation holds everywhere (facilities layer, ``summary.json``, report, compare)::

    capacity_t  = area_m2 × the programme's assumed throughput (t/m²/yr)   — whether or not it is enforced
    utilisation = load_t / capacity_t

:func:`rule_tensions` is pure (a facilities table and the programmes' rules in, flags out), so a written result can
be re-flagged from its layers alone; :func:`programme_rules` reads those rules from an instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from optimizer.data.instance import Instance

OVER = "over_capacity"
BELOW = "below_floor"
FLOOR_ASSUMPTION = "utilisation_floor"
_TOL = 1e-9
_LISTED = 5  # facilities named in a sentence; the JSON lists all of them


@dataclass(frozen=True)
class ProgrammeRule:
    """What a programme's count and size rules are, in the terms a sentence needs."""

    programme: str
    count_text: str  # "14 in Flanders", "1 per arrondissement", "3–28 in Flanders"
    flanders_wide: bool  # counted for Flanders as a whole (not per region)
    count_open: bool  # the count is a range the solver chooses in
    size_rule: str  # centrumstad, single or free (after the run's size_rule parameter)
    throughput_t_per_m2: float  # the assumed throughput (NaN: the programme has none)
    floor: float  # utilisation below which a facility counts as oversized (named assumption)
    capacity_enforced: bool
    land_cost_eur_per_m2: float
    see_instance: str | None = None  # a named instance that lets the count follow the flow (e.g. s2c)


def programme_rules(instance: Instance) -> dict[str, ProgrammeRule]:
    """The count and size rules of every programme of ``instance`` as the run applies them."""
    params = instance.parameters
    variant = str(params.get("size_variant", "final"))
    floor = float(instance.assumption(FLOOR_ASSUMPTION))
    rules = {}
    for prog in instance.programmes:
        lo, up = prog.count_bounds(variant)
        region = prog.region_for(variant)
        flanders = region == "flanders"
        where = "in Flanders" if flanders else f"per {region.replace('_', ' ')}"
        count = f"{lo:g}" if lo == up else f"{lo:g}–{up:g}"
        open_variant = prog.variants.get("open", {}) if isinstance(prog.variants.get("open"), dict) else {}
        rules[prog.id] = ProgrammeRule(
            programme=prog.id,
            count_text=f"{count} {where}",
            flanders_wide=flanders,
            count_open=lo != up,
            size_rule="free" if params.get("size_rule") == "free" else prog.size_rule,
            throughput_t_per_m2=float(instance.assumption(prog.capacity_per_m2)) if prog.capacity_per_m2 else math.nan,
            floor=floor,
            capacity_enforced=bool(params.get("enforce_capacity", False)),
            land_cost_eur_per_m2=float(params.get("land_cost_eur_per_m2", 0.0)),
            see_instance=open_variant.get("instance") if lo == up or variant != "open" else None,
        )
    return rules


def utilisation_stats(facilities: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Minimum, median and maximum utilisation per programme (None where no capacity is assumed)."""
    out: dict[str, dict[str, float | None]] = {}
    for pid, f in facilities.groupby("programme", sort=False):
        u = pd.to_numeric(f["utilisation"], errors="coerce").dropna()
        out[str(pid)] = ({"min": float(u.min()), "median": float(u.median()), "max": float(u.max())} if len(u)
                         else {"min": None, "median": None, "max": None})
    return out


def rule_tensions(facilities: pd.DataFrame, rules: dict[str, ProgrammeRule]) -> list[dict]:
    """Flag every programme whose facilities run above 100 % of capacity or mostly below the floor.

    Parameters
    ----------
    facilities
        The facilities layer: ``programme``, ``facility_id``, ``site_id``, ``site_name``, ``region``, ``size``,
        ``area_m2``, ``load_t`` (t/yr), ``capacity_t`` (t/yr) and ``utilisation`` (load / capacity).
    rules
        :func:`programme_rules` of the instance (a programme without an entry is not flagged).

    Returns
    -------
    list of dict
        One entry per flag, JSON-ready: ``programme``, ``rule`` (``over_capacity``: at least one facility above
        100 %; ``below_floor``: the median facility below the floor), ``floor``, ``min``/``median``/``max``
        utilisation of the programme, ``n_facilities``, ``facilities`` concerned (id, site, region, size,
        utilisation), the figures the sentence derives (``load_t``, ``capacity_t``, ``area_m2``,
        ``area_needed_m2``, ``count_needed``) and ``sentence``.
    """
    flags: list[dict] = []
    for pid, f in facilities.groupby("programme", sort=False):
        rule = rules.get(str(pid))
        u = pd.to_numeric(f["utilisation"], errors="coerce")
        if rule is None or u.isna().all():
            continue
        f = f.assign(utilisation=u).dropna(subset=["utilisation"])
        stats = {"min": float(f["utilisation"].min()), "median": float(f["utilisation"].median()),
                 "max": float(f["utilisation"].max())}
        load, cap, area = (float(f[c].sum()) for c in ("load_t", "capacity_t", "area_m2"))
        need_m2 = load / rule.throughput_t_per_m2 if rule.throughput_t_per_m2 > 0 else math.nan
        base = {"programme": str(pid), "floor": rule.floor, **stats, "n_facilities": int(len(f)),
                "load_t": load, "capacity_t": cap, "area_m2": area, "area_needed_m2": need_m2}
        over = f[f["utilisation"] > 1 + _TOL].sort_values("utilisation", ascending=False)
        if len(over):
            extra_m2 = float(((over["load_t"] - over["capacity_t"]) / rule.throughput_t_per_m2).sum())
            flags.append({**base, "rule": OVER, "facilities": _concerned(over), "extra_area_m2": extra_m2,
                          "sentence": _over_sentence(str(pid), f, over, rule, extra_m2)})
        if stats["median"] < rule.floor:
            below = f[f["utilisation"] < rule.floor].sort_values("utilisation")
            per_facility = float(f["capacity_t"].median())
            count_needed = max(1, math.ceil(load / per_facility - _TOL)) if per_facility > 0 else None
            flags.append({**base, "rule": BELOW, "facilities": _concerned(below), "count_needed": count_needed,
                          "sentence": _below_sentence(str(pid), f, below, rule, stats, count_needed,
                                                      per_facility, need_m2)})
    return flags


def _concerned(f: pd.DataFrame) -> list[dict]:
    cols = [c for c in ("facility_id", "site_id", "site_name", "region", "size") if c in f]
    return [{**{c: str(r[c]) for c in cols}, "utilisation": float(r["utilisation"])} for _, r in f.iterrows()]


def _pct(u: float) -> str:
    return f"{100 * u:.0f} %"


def _label(r: pd.Series, rule: ProgrammeRule) -> str:
    where = r.get("site_name", r.get("site_id", "")) if rule.flanders_wide else r.get("region", "")
    return f"{str(where).replace(' (aggregate)', '')} {_pct(float(r['utilisation']))}"


def _listing(f: pd.DataFrame, rule: ProgrammeRule) -> str:
    names = [_label(r, rule) for _, r in f.head(_LISTED).iterrows()]
    return ", ".join(names) + (f", … (+{len(f) - _LISTED})" if len(f) > _LISTED else "")


def _size_cause(rule: ProgrammeRule) -> str:
    return {"centrumstad": "the study's size rule (large where a centrumstad lies)",
            "single": "the programme's single plot size",
            "free": "the size chosen without capacity"}.get(rule.size_rule, f"the size rule {rule.size_rule!r}")


def _over_sentence(pid: str, f: pd.DataFrame, over: pd.DataFrame, rule: ProgrammeRule, extra_m2: float) -> str:
    fix = ("" if rule.size_rule == "single" else
           "; `--set size_rule=free --set enforce_capacity=true` lets the flow choose the size")
    return (f"{len(over)} of {len(f)} {pid} facilities run above their assumed capacity ({_listing(over, rule)}): "
            f"their plot follows {_size_cause(rule)}, not the flow; at {rule.throughput_t_per_m2:g} t/m²/yr they "
            f"would need {extra_m2:,.0f} m² more{fix}")


def _below_sentence(pid: str, f: pd.DataFrame, below: pd.DataFrame, rule: ProgrammeRule, stats: dict,
                    count_needed: int | None, per_facility: float, need_m2: float) -> str:
    head = (f"{len(f)} {pid} facilities at {100 * stats['min']:.0f}–{_pct(stats['max'])} of their assumed capacity "
            f"(median {_pct(stats['median'])}; {len(below)} below the {_pct(rule.floor)} floor): ")
    load = float(f["load_t"].sum())
    if rule.flanders_wide and count_needed is not None:
        cause = (f"the count ({rule.count_text}) is set by the rule, not by the flow — {count_needed} would carry the "
                 f"{load:,.0f} t/yr at {per_facility:,.0f} t/yr each")
        if rule.count_open and rule.land_cost_eur_per_m2 == 0:
            cause += ("; land is free in this run (land_cost_eur_per_m2 = 0), so every extra facility only saves "
                      "transport")
        if rule.see_instance:
            cause += f" — see `{rule.see_instance}` (the count follows from transport vs land take)"
        return head + cause
    area = float(f["area_m2"].sum())
    return head + (f"{rule.count_text} at {_size_cause(rule)} takes {area:,.0f} m² where the {load:,.0f} t/yr need "
                   f"{need_m2:,.0f} m² at {rule.throughput_t_per_m2:g} t/m²/yr: the plots follow the rule, not the "
                   "flow")


def tension_lines(flags: list[dict]) -> list[str]:
    """One line per flag for the terminal and reports: ``programme (rule): sentence``."""
    label = {OVER: "over capacity", BELOW: "below the utilisation floor"}
    return [f"{f['programme']} ({label.get(f['rule'], f['rule'])}): {f['sentence']}" for f in flags]


def flags_from_summary(summary: dict, facilities: pd.DataFrame | None = None) -> list[dict]:
    """The flags recorded in ``summary.json``; for older results, recomputed from the facilities layer.

    A result written before flags existed carries ``utilisation`` (or ``utilisation_nominal``) in its layer; the
    recomputation uses the recorded floor assumption and a minimal rule (no count text), so its sentences are
    shorter but the flags are the same.
    """
    if "rule_tensions" in summary:
        return list(summary["rule_tensions"] or [])
    if facilities is None or not len(facilities):
        return []
    fac = pd.DataFrame(facilities.drop(columns="geometry", errors="ignore"))
    if ("utilisation" not in fac or fac["utilisation"].isna().all()) and "utilisation_nominal" in fac:
        fac["utilisation"] = fac["utilisation_nominal"]
    if "capacity_t" not in fac or fac["capacity_t"].isna().all():
        fac["capacity_t"] = fac["load_t"] / fac["utilisation"].replace(0, np.nan)
    floor = float((summary.get("assumptions") or {}).get(FLOOR_ASSUMPTION, {}).get("value", 0.5))
    rules = {}
    for pid, f in fac.groupby("programme"):
        through = float((f["capacity_t"] / f["area_m2"]).median())
        one_region = f["region"].nunique() == 1 and len(f) > 1
        rules[str(pid)] = ProgrammeRule(str(pid), f"{len(f)}" + (" in one region" if one_region else " per region"),
                                        one_region, False, "centrumstad", through, floor, False, 0.0)
    return rule_tensions(fac, rules)
