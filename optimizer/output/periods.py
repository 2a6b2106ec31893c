"""Multi-period results: tables with a ``period`` field, one layer per period, transitions, the summary, the export.

The GeoPackage of a multi-period solve holds the usual layers with every period's rows and a ``period`` field
(``facilities``, ``allocations``, ``demand``; ``candidates`` with the periods each site is used in), one layer per
period (``facilities_2025_2027``, ``allocations_2025_2027``, ...) and ``transitions`` (each opening and closing,
with its one-off cost). ``summary.json`` has a ``periods`` list (per period: yearly cost, land take, facilities,
what opened and closed) beside the totals over the horizon.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.output.chain import chain_extras, chain_tables
from optimizer.output.export import line_layer, network_layer, point_layer, polygon_layer
from optimizer.output.summary import FORMAT, FORMAT_VERSION, instance_file, versions
from optimizer.output.tables import ResultTables, named_summary, result_tables

if TYPE_CHECKING:
    from optimizer.model.periods import MultiPeriodSolution
    from optimizer.model.periods_compile import PeriodChain, PeriodSiting

PER_PERIOD_KEYS = ("objective", "land_take_ha", "land_take_by_kind_ha", "programmes", "transport_tkm_per_yr",
                   "transport_eur_per_yr", "existing_facilities")


def layer_label(label: str) -> str:
    """A period label as part of a layer name (``2025-2027`` → ``2025_2027``)."""
    return label.replace("-", "_")


def transitions_table(labels: tuple[str, ...], facilities: list[pd.DataFrame], initial: set[str],
                      one_off: dict[str, tuple[float, float]], kind: str = "programme") -> pd.DataFrame:
    """Every opening and closing: facility, period, event, one-off cost (EUR), with the facility's point.
    ``kind`` is the column that says what the facility is (``programme``; ``echelon`` for the chain)."""
    rows, before, where = [], set(initial), {}
    for label, fac in zip(labels, facilities):
        where.update({f: (x, y, p) for f, x, y, p in zip(fac["facility_id"], fac["x"], fac["y"], fac[kind])})
        now = set(fac["facility_id"])
        for event, ids in (("opened", now - before), ("closed", before - now)):
            for f in sorted(ids):
                x, y, prog = where.get(f, (np.nan, np.nan, ""))
                cost = one_off.get(f, (0.0, 0.0))[0 if event == "opened" else 1]
                rows.append({"facility_id": f, "programme": prog, "period": label, "event": event, "one_off_eur": cost,
                             "x": x, "y": y})
        before = now
    return pd.DataFrame(rows, columns=["facility_id", "programme", "period", "event", "one_off_eur", "x", "y"])


def siting_period_tables(ps: PeriodSiting, sol: MultiPeriodSolution) -> tuple[list[ResultTables], ResultTables,
                                                                                pd.DataFrame]:
    """Per-period tables, the combined tables (a ``period`` field on every row) and the transitions."""
    labels = ps.mp.labels
    per = [result_tables(sp_t, sol_t) for sp_t, sol_t in zip(ps.periods, sol.solutions)]
    tagged = {name: pd.concat([getattr(t, name).assign(period=label) for t, label in zip(per, labels)],
                              ignore_index=True) for name in ("facilities", "allocations", "demand")}
    cand = per[-1].candidates.drop(columns=["chosen", "chosen_programmes", "land_taken_m2"])
    used = tagged["facilities"].groupby("site_id")["period"].agg(lambda p: ",".join(dict.fromkeys(p)))
    cand["chosen"] = cand["site_id"].isin(used.index)
    cand["chosen_periods"] = cand["site_id"].map(used).fillna("")
    zones = per[-1].zones
    if zones is not None:  # the zones any period uses are chosen; the layer lists in which periods
        zones = zones.drop(columns=["chosen", "chosen_programmes", "land_taken_m2"], errors="ignore")
        zones["chosen"] = zones["site_id"].isin(used.index)
        zones["chosen_periods"] = zones["site_id"].map(used).fillna("")
    combined = ResultTables(tagged["facilities"], tagged["allocations"], tagged["demand"], cand, zones)
    mp = ps.mp
    one_off = {i: (float(o), float(c)) for i, o, c in zip(mp.option_ids, mp.open_cost, mp.close_cost)}
    initial = set(mp.option_ids[np.asarray(mp.initially_open, bool)])
    return per, combined, transitions_table(labels, [t.facilities for t in per], initial, one_off)


def _one_off(transitions: pd.DataFrame, label: str) -> tuple[float, float]:
    at = transitions[transitions["period"] == label]
    return (float(at.loc[at["event"] == "opened", "one_off_eur"].sum()),
            float(at.loc[at["event"] == "closed", "one_off_eur"].sum()))


def siting_periods_summary(ps: PeriodSiting, sol: MultiPeriodSolution, per: list[ResultTables],
                           transitions: pd.DataFrame, verification: dict, solve_options: dict) -> dict:
    """The run manifest of a multi-period solve: totals over the horizon and a section per period (the envelope of
    every result, ``docs/summary-schema.md``, with ``kind`` ``periods``)."""
    spec = ps.base.instance.periods
    periods = []
    for t, (sp_t, sol_t, tab) in enumerate(zip(ps.periods, sol.solutions, per)):
        s_t = named_summary(sp_t, sol_t, tab, verification, solve_options=solve_options, timings_s={})
        opened, closed = _one_off(transitions, spec.labels[t])
        at = transitions[transitions["period"] == spec.labels[t]]
        periods.append({"period": spec.labels[t], "start": int(spec.start[t]), "years": float(spec.years[t]),
                        "reserve_land_open": bool(spec.reserve_open()[t]),
                        "free_land_share": float(spec.free_land_share()[t]),
                        **{k: s_t[k] for k in PER_PERIOD_KEYS if k in s_t},
                        "facilities": int(len(tab.facilities)),
                        "opened": at.loc[at["event"] == "opened", "facility_id"].tolist(),
                        "closed": at.loc[at["event"] == "closed", "facility_id"].tolist(),
                        "opening_cost_eur": opened, "closing_cost_eur": closed})
    last = named_summary(ps.periods[-1], sol.solutions[-1], per[-1], verification, solve_options=solve_options,
                         timings_s={})
    weighted = float(sum(p["years"] * p["objective"]["total"] for p in periods))
    last.update({
        "kind": "periods",
        "status": sol.status, "optimal": sol.status == "optimal",
        "objective": {"total": sol.objective, "yearly_costs_over_periods": weighted,
                      "opening": float(sum(p["opening_cost_eur"] for p in periods)),
                      "closing": float(sum(p["closing_cost_eur"] for p in periods)),
                      "transport": float(sum(p["years"] * p["objective"]["transport"] for p in periods)),
                      "land": float(sum(p["years"] * p["objective"]["land"] for p in periods)),
                      "fixed": float(sum(p["years"] * p["objective"]["fixed"] for p in periods)),
                      "unit": "EUR over the horizon" if ps.base.problem.cost_unit.startswith("EUR") else "t·km"},
        "bound": sol.bound if math.isfinite(sol.bound) else None,
        "gap": sol.gap if math.isfinite(sol.gap) else None,
        "periods": periods,
        "programmes_period": spec.labels[-1],
        "period_assumptions": list(spec.assumptions_used),
        "size": {"periods": spec.n, "options": ps.mp.n_options,
                 "arcs": int(sum(p.n_arcs for p in ps.mp.periods))},
        "timings_s": {k: round(v, 4) for k, v in sol.timings_s.items()},
        "solver": "highspy (multi-period MIP)",
    })
    return last


def siting_periods_outputs(combined: ResultTables, per: list[ResultTables], transitions: pd.DataFrame,
                           labels: tuple[str, ...], networks: dict | None = None) -> tuple[dict, dict]:
    """``(layers, csv)``: the combined layers with ``period``, a layer per period, transitions, the candidate zones
    and the networks (``networks``: the layer of the instance's networks, else the shipped ones); the CSV tables of
    every period's rows."""
    layers = {"facilities": point_layer(combined.facilities), "allocations": line_layer(combined.allocations),
              "demand": point_layer(combined.demand), "candidates": point_layer(combined.candidates)}
    if getattr(combined, "zones", None) is not None and len(combined.zones):
        layers["zones"] = polygon_layer(combined.zones)
    for label, tab in zip(labels, per):
        layers[f"facilities_{layer_label(label)}"] = point_layer(tab.facilities.assign(period=label))
        layers[f"allocations_{layer_label(label)}"] = line_layer(tab.allocations.assign(period=label))
    layers["transitions"] = point_layer(transitions)
    csv = {"allocations.csv": combined.allocations, "facilities.csv": combined.facilities,
           "demand.csv": combined.demand}
    return {**layers, **(networks or network_layer())}, csv


# ---------------------------------------------------------------------------------------------------------------
# The plastics chain over periods
# ---------------------------------------------------------------------------------------------------------------
def chain_periods_summary(pc: PeriodChain, sol: MultiPeriodSolution, verification: dict, solve_options: dict,
                          ) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary, facilities and flows (with ``period``) and transitions of a multi-period chain."""
    inst, spec = pc.instance, pc.instance.periods
    facs, flows, periods = [], [], []
    for t, (cc, s) in enumerate(zip(pc.periods, sol.solutions)):
        fac, fl = chain_tables(cc, s)
        s_t = chain_extras(inst, cc, s, fac, fl)
        facs.append(fac.assign(period=spec.labels[t]))
        flows.append(fl.assign(period=spec.labels[t]))
        periods.append({"period": spec.labels[t], "start": int(spec.start[t]), "years": float(spec.years[t]),
                        **{k: s_t[k] for k in ("transport_eur_per_yr", "land_cost_eur_per_yr", "new_land_take_ha",
                                               "facilities_per_echelon", "tonnes", "chemical_plants")},
                        "yearly_cost_eur": float(s.objective)})
    mp = pc.mp
    one_off = {i: (float(o), float(c)) for i, o, c in zip(mp.option_ids, mp.open_cost, mp.close_cost)}
    initial = set(mp.option_ids[np.asarray(mp.initially_open, bool)])
    trans = transitions_table(spec.labels, facs, initial, one_off, kind="echelon")
    for p in periods:
        opened, closed = _one_off(trans, p["period"])
        at = trans[trans["period"] == p["period"]]
        p.update({"opened": at.loc[at["event"] == "opened", "facility_id"].tolist(),
                  "closed": at.loc[at["event"] == "closed", "facility_id"].tolist(),
                  "opening_cost_eur": opened, "closing_cost_eur": closed})
    summary = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "instance": inst.name, "title": inst.title, "instance_path": instance_file(inst.path), "kind": "chain_periods",
        "status": sol.status,
        "optimal": sol.status == "optimal", "gap": sol.gap if math.isfinite(sol.gap) else None,
        "bound": sol.bound if math.isfinite(sol.bound) else None,
        "objective": {"total": sol.objective, "unit": "EUR over the horizon",
                      "yearly_costs_over_periods": float(sum(p["years"] * p["yearly_cost_eur"] for p in periods)),
                      "opening": float(sum(p["opening_cost_eur"] for p in periods)),
                      "closing": float(sum(p["closing_cost_eur"] for p in periods))},
        "periods": periods,
        "period_assumptions": list(spec.assumptions_used),
        "ambition": str(inst.parameters["chain_ambition"]), "crossborder": bool(inst.parameters["chain_crossborder"]),
        "parameters": inst.parameters, "overrides": inst.overrides,
        "assumptions": {k: {"value": a.value, "unit": a.unit} for k, a in sorted(inst.assumptions.items())},
        "land_take_ha": float(sum(p["new_land_take_ha"] for p in periods)),
        "facilities": int(len(facs[-1])) if facs else 0,
        "size": {"periods": spec.n, "options": pc.mp.n_options, "arcs": int(sum(q.n_arcs for q in pc.mp.periods))},
        "solve_options": solve_options, "crs": "EPSG:31370",
        "verification": verification,
        "timings_s": {k: round(v, 4) for k, v in sol.timings_s.items()},
        "solver": "highspy (multi-period MIP)", "instance_hash": inst.content_hash(), "versions": versions(),
        "new_land_take_ha_by_period": {p["period"]: p["new_land_take_ha"] for p in periods},
    }
    return summary, pd.concat(facs, ignore_index=True), pd.concat(flows, ignore_index=True), trans


def chain_periods_outputs(fac: pd.DataFrame, flows: pd.DataFrame, trans: pd.DataFrame,
                          labels: tuple[str, ...]) -> tuple[dict, dict]:
    """``(layers, csv)``: facilities and flows with ``period``, one layer of each per period, transitions."""
    layers = {"facilities": point_layer(fac), "flows": line_layer(flows), "transitions": point_layer(trans)}
    for label in labels:
        layers[f"facilities_{layer_label(label)}"] = point_layer(fac[fac["period"] == label])
        layers[f"flows_{layer_label(label)}"] = line_layer(flows[flows["period"] == label])
    return layers, {"facilities.csv": fac, "flows.csv": flows, "transitions.csv": trans}
