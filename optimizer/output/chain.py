"""Chain results: planner tables (open facilities, flows, municipalities) and the chain's part of the manifest.

The tables use the column names of a location instance's result where the meaning is the same, so maps, QGIS
styles, reports and comparisons read every kind alike: an echelon is the facility's ``programme`` (sorting,
mechanical, chemical), ``size`` says whether it is an ``existing`` or a ``new`` plant, ``load_t`` is its inflow;
a collection flow names its municipality (``nis``, ``municipality``) and its ``share`` of that municipality's PMD.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.model.chain import ECHELONS, ChainSolution, stream_names
from optimizer.model.chain_compile import CompiledChain
from optimizer.settings import M2_PER_HA

if TYPE_CHECKING:
    from optimizer.data.instance import Instance

CHECKS = ["supply", "imports", "capacity", "yields per stream", "a chemical plant takes its stream only",
          "echelon order", "existing open", "new counts", "free land", "arc costs from each route's km per mode",
          "routes: allowed modes, mode changes, not shorter than the straight line", "objective"]
SPLIT = ("road_km", "water_km", "rail_km", "transhipments")
FLANDERS = "Vlaanderen"


def chain_tables(cc: CompiledChain, s: ChainSolution, split: np.ndarray | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open facilities (with load, utilisation, new land) and flows (one row per used arc, with km per mode)."""
    p = cc.problem
    used = np.flatnonzero(s.flow_t > 1e-6)
    route = cc.arc_split(used) if split is None else split[used]
    inflow = np.bincount(p.arc_to[used], weights=s.flow_t[used], minlength=p.n_fac)
    collect = used[p.arc_kind[used] == "collect"]
    n_clients = np.bincount(p.arc_to[collect], minlength=p.n_fac)
    fac = cc.facilities.assign(open=s.open_fac, inflow_t=inflow, n_clients=n_clients)
    fac = fac[fac["open"]].drop(columns=["open"]).reset_index(drop=True)
    fac["echelon"] = np.asarray(ECHELONS)[fac["echelon"].to_numpy(int)]
    if "stream" in fac:
        fac["stream"] = np.where(fac["stream"].to_numpy(int) < 0, "", stream_names(p, fac["stream"].to_numpy(int)))
    fac["utilisation"] = fac["inflow_t"] / fac["capacity_t"]
    fac["new_land_ha"] = np.where(fac["existing"], 0.0, fac["area_m2"] / M2_PER_HA)
    fac["programme"] = fac["echelon"]
    fac["size"] = np.where(fac["existing"], "existing", "new")
    fac["region"] = FLANDERS
    fac["load_t"] = fac["inflow_t"]
    src_xy = {"collect": cc.coords["clients"], "import": cc.coords["gateways"], "link": cc.coords["facilities"]}
    src_name = {"collect": cc.clients["name"].to_numpy(), "import": cc.gateways["gateway"].to_numpy(),
                "link": cc.facilities["facility_id"].to_numpy()}
    kinds, frm, to = p.arc_kind[used], p.arc_from[used], p.arc_to[used]
    is_collect = kinds == "collect"
    client_nis = cc.clients["nis"].astype(str).to_numpy()
    supply = p.supply_t
    flows = pd.DataFrame({
        "kind": kinds,
        "stream": stream_names(p, p.arc_streams[used]),
        "from": [src_name[k][i] for k, i in zip(kinds, frm)],
        "to": cc.facilities["facility_id"].to_numpy()[to],
        "tonnes": s.flow_t[used], "km": route[:, :3].sum(axis=1), **{c: route[:, i] for i, c in enumerate(SPLIT)},
        "eur_per_t": p.arc_cost_per_t[used],
        "x": [src_xy[k][i, 0] for k, i in zip(kinds, frm)],
        "y": [src_xy[k][i, 1] for k, i in zip(kinds, frm)],
        "x2": cc.coords["facilities"][to, 0], "y2": cc.coords["facilities"][to, 1],
    })
    flows["cost_eur"] = flows["tonnes"] * flows["eur_per_t"]
    flows["tkm"] = flows["tonnes"] * flows["km"]
    for m in ("road", "water", "rail"):
        flows[f"{m}_tkm"] = flows["tonnes"] * flows[f"{m}_km"]
    flows["transhipped_t"] = flows["tonnes"] * flows["transhipments"]
    water, rail = flows["water_km"] > 0, flows["rail_km"] > 0
    flows["route"] = np.where(water & rail, "water+rail", np.where(water, "water", np.where(rail, "rail", "road")))
    flows["programme"] = np.asarray(ECHELONS)[p.fac_echelon[to]]
    flows["facility_id"] = flows["to"]
    flows["site_id"] = cc.facilities["site_id"].to_numpy()[to]
    flows["nis"] = np.where(is_collect, client_nis[np.where(is_collect, frm, 0)], "")
    flows["municipality"] = np.where(is_collect, flows["from"], "")
    flows["share"] = np.where(is_collect, s.flow_t[used] / np.maximum(supply[np.where(is_collect, frm, 0)], 1e-12),
                              np.nan)
    return fac, flows


def chain_demand(cc: CompiledChain, flows: pd.DataFrame, population: np.ndarray) -> pd.DataFrame:
    """The municipalities: PMD collected (t/yr) and the sorting centre that takes most of it (x/y in EPSG:31370)."""
    collect = flows[flows["kind"] == "collect"].sort_values("tonnes", ascending=False)
    main = collect.drop_duplicates("nis").set_index("nis")
    nis = cc.clients["nis"].astype(str)
    return pd.DataFrame({
        "nis": nis.to_numpy(), "name": cc.clients["name"].to_numpy(), "population": np.asarray(population, float),
        "pmd_t": cc.clients["supply_t"].to_numpy(float),
        "sorting_facility": nis.map(main["facility_id"]).fillna("").to_numpy(),
        "sorting_km": nis.map(main["km"]).to_numpy(float),
        "x": cc.clients["x"].to_numpy(float), "y": cc.clients["y"].to_numpy(float),
    })


def chain_objective(sol: ChainSolution, flows: pd.DataFrame) -> dict:
    """The objective split as for every kind: transport (EUR/yr of the flows) and land (new plots' rent)."""
    transport = float(flows["cost_eur"].sum())
    return {"total": float(sol.objective), "transport": transport, "fixed": 0.0,
            "land": float(sol.objective - transport), "unit": "EUR/yr"}


def chain_extras(inst: Instance, cc: CompiledChain, sol: ChainSolution, fac: pd.DataFrame,
                 flows: pd.DataFrame) -> dict:
    """The chain's own keys of ``summary.json`` (on top of the common envelope, ``docs/summary-schema.md``)."""
    p = cc.problem
    land_per_echelon = {e: round(float(fac.loc[fac["echelon"] == e, "new_land_ha"].sum()), 4) for e in ECHELONS
                        if (fac["echelon"] == e).any()}
    programmes = {}
    for e in ECHELONS:
        f = fac[fac["echelon"] == e]
        into = flows[flows["programme"] == e]
        programmes[e] = {
            "facilities": int(len(f)),
            "count_per_size": {k: int(v) for k, v in f.groupby("size").size().items()},
            "land_take_ha": float(f["new_land_ha"].sum()),
            "tonnes_per_yr": float(f["inflow_t"].sum()),
            "tkm_per_yr": float(into["tkm"].sum()),
            "max_utilisation": float(f["utilisation"].max()) if len(f) else None,
        }
    transport = float(flows["cost_eur"].sum())
    return {
        "transport_tkm_per_yr": float(flows["tkm"].sum()),
        "transport_eur_per_yr": transport,
        "land_take_by_kind_ha": None,
        "programmes": programmes,
        "modal_split": _modal_split(flows),
        # the chain's figures under the names its summaries have always used
        "objective_eur_per_yr": float(sol.objective),
        "land_cost_eur_per_yr": float(sol.objective - transport),
        "new_land_take_ha": float(fac["new_land_ha"].sum()),
        "land_take_per_echelon_ha": land_per_echelon,
        "facilities_per_echelon": {e: {"existing": int(((fac["echelon"] == e) & fac["existing"]).sum()),
                                       "new": int(((fac["echelon"] == e) & ~fac["existing"]).sum())} for e in ECHELONS},
        "tonnes": {"pmd_collected": float(p.supply_t.sum()), "imports": float(p.gw_supply_t.sum()),
                   "into_mechanical": float(fac.loc[fac["echelon"] == "mechanical", "inflow_t"].sum()),
                   "into_chemical": float(fac.loc[fac["echelon"] == "chemical", "inflow_t"].sum()),
                   "into_chemical_per_stream": {k: float(flows.loc[(flows["stream"] == k) & flows["to"].isin(
                       fac.loc[fac["echelon"] == "chemical", "facility_id"]), "tonnes"].sum()) for k in p.stream_ids}},
        "chemical_plants": [{"facility_id": r.facility_id, "name": r.name, "stream": r.stream or "any",
                             "existing": bool(r.existing), "inflow_t": float(r.inflow_t),
                             "capacity_t": float(r.capacity_t), "utilisation": float(r.utilisation)}
                            for r in fac[fac["echelon"] == "chemical"].itertuples()],
        "existing_facilities": existing_chain_summary(cc, fac),
        "gateways": [{"gateway": str(g.gateway), "stage": ECHELONS[int(g.stage)], "supply_t": float(g.supply_t)}
                     for g in cc.gateways.itertuples()],
        "ambition": str(inst.parameters["chain_ambition"]),
        "crossborder": bool(inst.parameters["chain_crossborder"]),
        "equity": chain_equity(inst, flows),
    }


def chain_equity(inst: Instance, flows: pd.DataFrame) -> dict:
    """Equity of the collection: distance from each municipality to the sorting centre(s) its PMD goes to, weighted by
    the tonnes (:func:`optimizer.output.equity.equity_figures`); the links between echelons are not demand."""
    from optimizer.output.equity import equity_figures, within_distances

    within = within_distances(inst.parameters)
    collect = flows[flows["kind"] == "collect"]
    return {"unit": "km", "weight": "t/yr of PMD collected", "within_km": within,
            "by_programme": {"sorting": equity_figures(collect["km"].to_numpy(float),
                                                       collect["tonnes"].to_numpy(float), within)}}


def _existing_assumptions(cc: CompiledChain) -> set[str]:
    ex = cc.existing
    return set() if ex is None or ex.empty else {a for used in ex["assumptions_used"] for a in used}


def existing_chain_summary(cc: CompiledChain, fac: pd.DataFrame) -> list[dict]:
    """The chain's existing facilities as the table gives them, with their load: the named assumptions behind an
    inferred figure (Kallo's plot, Willebroek's sorting share) are listed with each."""
    ex = cc.existing
    if ex is None or ex.empty:
        return []
    load = fac.set_index("existing_id")["inflow_t"] if "existing_id" in fac else pd.Series(dtype=float)
    cap = fac.set_index("existing_id")["capacity_t"] if "existing_id" in fac else pd.Series(dtype=float)
    return [{"facility_id": r.facility_id, "name": r.name, "echelon": r.echelon, "status": r.status,
             "plot_m2": float(r.area_m2), "capacity_t": float(cap.get(r.facility_id, np.nan)),
             "inflow_t": float(load.get(r.facility_id, 0.0)), "assumptions": list(r.assumptions_used),
             "source": r.source} for r in ex.itertuples()]


def _modal_split(flows: pd.DataFrame) -> dict:
    """t·km per mode and their shares, transhipped tonnes, tonnes per route and per arc kind."""
    tkm = {m: float(flows[f"{m}_tkm"].sum()) for m in ("road", "water", "rail")}
    total = sum(tkm.values())
    return {"tkm": tkm, "tkm_share": {m: (v / total if total > 0 else 0.0) for m, v in tkm.items()},
            "transhipped_t": float(flows["transhipped_t"].sum()),
            "tonnes_by_route": {str(k): float(v) for k, v in flows.groupby("route")["tonnes"].sum().items()},
            "tkm_by_kind_and_mode": {str(kind): {m: float(g[f"{m}_tkm"].sum()) for m in ("road", "water", "rail")}
                                     for kind, g in flows.groupby("kind")}}


def chain_gap(objective: float, bound: float) -> float | None:
    """The relative gap of a chain solution (``None`` without a proven bound: no gap to claim)."""
    from optimizer.problem import relative_gap

    gap = relative_gap(objective, bound)
    return gap if math.isfinite(gap) else None
