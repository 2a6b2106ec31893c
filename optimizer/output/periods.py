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

from optimizer.output.chain import chain_summary, chain_tables
from optimizer.output.export import _lines, _points, network_layer, write_result
from optimizer.output.tables import ResultTables, result_tables, summary_dict, versions

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
    combined = ResultTables(tagged["facilities"], tagged["allocations"], tagged["demand"], cand)
    mp = ps.mp
    one_off = {i: (float(o), float(c)) for i, o, c in zip(mp.option_ids, mp.open_cost, mp.close_cost)}
    initial = set(mp.option_ids[np.asarray(mp.initially_open, bool)])
    return per, combined, transitions_table(labels, [t.facilities for t in per], initial, one_off)


def _one_off(transitions: pd.DataFrame, label: str) -> tuple[float, float]:
    at = transitions[transitions["period"] == label]
    return (float(at.loc[at["event"] == "opened", "one_off_eur"].sum()),
            float(at.loc[at["event"] == "closed", "one_off_eur"].sum()))


def siting_periods_summary(ps: PeriodSiting, sol: MultiPeriodSolution, per: list[ResultTables],
                           transitions: pd.DataFrame, verification: dict, extra: dict) -> dict:
    """The run manifest of a multi-period solve: totals over the horizon and a section per period."""
    spec = ps.base.instance.periods
    periods = []
    for t, (sp_t, sol_t, tab) in enumerate(zip(ps.periods, sol.solutions, per)):
        s_t = summary_dict(sp_t, sol_t, tab, verification, {})
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
    last = summary_dict(ps.periods[-1], sol.solutions[-1], per[-1], verification, extra)
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


def write_siting_periods(out_dir: Path, combined: ResultTables, per: list[ResultTables], transitions: pd.DataFrame,
                         summary: dict, labels: tuple[str, ...], crs: str | None = None,
                         networks: dict | None = None) -> Path:
    """GeoPackage (combined layers with ``period``, a layer per period, transitions, the ``networks`` layer given,
    else the shipped networks), CSVs and summary.json."""
    extra = {}
    for label, tab in zip(labels, per):
        extra[f"facilities_{layer_label(label)}"] = _points(tab.facilities.assign(period=label))
        extra[f"allocations_{layer_label(label)}"] = _lines(tab.allocations.assign(period=label))
    extra["transitions"] = _points(transitions)
    return write_result(out_dir, combined, summary, extra_layers={**extra, **(networks or network_layer())}, crs=crs)


# ---------------------------------------------------------------------------------------------------------------
# The plastics chain over periods
# ---------------------------------------------------------------------------------------------------------------
def chain_periods_summary(pc: PeriodChain, sol: MultiPeriodSolution, verification: dict,
                          ) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary, facilities and flows (with ``period``) and transitions of a multi-period chain."""
    inst, spec = pc.instance, pc.instance.periods
    facs, flows, periods = [], [], []
    for t, (cc, s) in enumerate(zip(pc.periods, sol.solutions)):
        fac, fl = chain_tables(cc, s)
        s_t = chain_summary(inst, cc, s, fac, fl)
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
    from optimizer.atomic import result_marker

    summary = {
        **result_marker(),  # what makes the folder a siting result (replace, verify)
        "instance": inst.name, "title": inst.title, "kind": "chain_periods", "status": sol.status,
        "optimal": sol.status == "optimal", "gap": sol.gap if math.isfinite(sol.gap) else None,
        "bound": sol.bound if math.isfinite(sol.bound) else None,
        "objective": {"total": sol.objective, "unit": "EUR over the horizon",
                      "yearly_costs_over_periods": float(sum(p["years"] * p["yearly_cost_eur"] for p in periods)),
                      "opening": float(sum(p["opening_cost_eur"] for p in periods)),
                      "closing": float(sum(p["closing_cost_eur"] for p in periods))},
        "periods": periods,
        "period_assumptions": list(spec.assumptions_used),
        "ambition": str(inst.parameters["chain_ambition"]), "crossborder": bool(inst.parameters["chain_crossborder"]),
        "parameters": inst.parameters,
        "assumptions": {k: {"value": a.value, "unit": a.unit} for k, a in sorted(inst.assumptions.items())},
        "verification": verification,
        "timings_s": {k: round(v, 4) for k, v in sol.timings_s.items()},
        "solver": "highspy (multi-period MIP)", "instance_hash": inst.content_hash(), "versions": versions(),
        "new_land_take_ha_by_period": {p["period"]: p["new_land_take_ha"] for p in periods},
    }
    return summary, pd.concat(facs, ignore_index=True), pd.concat(flows, ignore_index=True), trans


def write_chain_periods(out_dir: Path, fac: pd.DataFrame, flows: pd.DataFrame, trans: pd.DataFrame, summary: dict,
                        labels: tuple[str, ...]) -> Path:
    """GeoPackage (EPSG:31370): facilities and flows with ``period``, one layer of each per period, transitions."""
    import json

    import geopandas as gpd
    import shapely

    from optimizer.atomic import atomic_directory
    from optimizer.output.export import json_default
    from optimizer.settings import CRS

    def lines(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        geoms = shapely.linestrings(np.stack([frame[["x", "y"]].to_numpy(), frame[["x2", "y2"]].to_numpy()], axis=1))
        return gpd.GeoDataFrame(frame, geometry=geoms, crs=CRS)

    def points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=CRS)

    layers = {"facilities": points(fac), "flows": lines(flows), "transitions": points(trans)}
    for label in labels:
        layers[f"facilities_{layer_label(label)}"] = points(fac[fac["period"] == label])
        layers[f"flows_{layer_label(label)}"] = lines(flows[flows["period"] == label])
    with atomic_directory(Path(out_dir)) as tmp:
        for name, gdf in layers.items():
            gdf.to_file(tmp / "result.gpkg", layer=name, driver="GPKG")
        fac.to_csv(tmp / "facilities.csv", index=False)
        flows.to_csv(tmp / "flows.csv", index=False)
        trans.to_csv(tmp / "transitions.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=json_default) + "\n")
    return Path(out_dir)
