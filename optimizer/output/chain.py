"""Chain results: planner tables (open facilities, flows), the summary manifest, and the atomic export."""

from __future__ import annotations

import math
from pathlib import Path
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


def chain_tables(cc: CompiledChain, s: ChainSolution, split: np.ndarray | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open facilities (with load, utilisation, new land) and flows (one row per used arc, with km per mode)."""
    p = cc.problem
    used = np.flatnonzero(s.flow_t > 1e-6)
    route = cc.arc_split(used) if split is None else split[used]
    inflow = np.bincount(p.arc_to[used], weights=s.flow_t[used], minlength=p.n_fac)
    fac = cc.facilities.assign(open=s.open_fac, inflow_t=inflow)
    fac = fac[fac["open"]].drop(columns=["open"]).reset_index(drop=True)
    fac["echelon"] = np.asarray(ECHELONS)[fac["echelon"].to_numpy(int)]
    if "stream" in fac:
        fac["stream"] = np.where(fac["stream"].to_numpy(int) < 0, "", stream_names(p, fac["stream"].to_numpy(int)))
    fac["utilisation"] = fac["inflow_t"] / fac["capacity_t"]
    fac["new_land_ha"] = np.where(fac["existing"], 0.0, fac["area_m2"] / M2_PER_HA)
    src_xy = {"collect": cc.coords["clients"], "import": cc.coords["gateways"], "link": cc.coords["facilities"]}
    src_name = {"collect": cc.clients["name"].to_numpy(), "import": cc.gateways["gateway"].to_numpy(),
                "link": cc.facilities["facility_id"].to_numpy()}
    flows = pd.DataFrame({
        "kind": p.arc_kind[used],
        "stream": stream_names(p, p.arc_streams[used]),
        "from": [src_name[k][i] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "to": cc.facilities["facility_id"].to_numpy()[p.arc_to[used]],
        "tonnes": s.flow_t[used], "km": route[:, :3].sum(axis=1), **{c: route[:, i] for i, c in enumerate(SPLIT)},
        "eur_per_t": p.arc_cost_per_t[used],
        "x": [src_xy[k][i, 0] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "y": [src_xy[k][i, 1] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "x2": cc.coords["facilities"][p.arc_to[used], 0], "y2": cc.coords["facilities"][p.arc_to[used], 1],
    })
    flows["cost_eur"] = flows["tonnes"] * flows["eur_per_t"]
    flows["tkm"] = flows["tonnes"] * flows["km"]
    for m in ("road", "water", "rail"):
        flows[f"{m}_tkm"] = flows["tonnes"] * flows[f"{m}_km"]
    flows["transhipped_t"] = flows["tonnes"] * flows["transhipments"]
    water, rail = flows["water_km"] > 0, flows["rail_km"] > 0
    flows["route"] = np.where(water & rail, "water+rail", np.where(water, "water", np.where(rail, "rail", "road")))
    return fac, flows


def chain_summary(inst: Instance, cc: CompiledChain, sol: ChainSolution, fac: pd.DataFrame,
                  flows: pd.DataFrame) -> dict:
    """The run manifest of a verified chain solution (the schema ``siting chain --json`` prints)."""
    from optimizer.atomic import result_marker
    from optimizer.output.tables import versions

    p = cc.problem
    return {
        **result_marker(), "kind": "chain",
        "instance": inst.name, "title": inst.title, "instance_path": str(inst.path), "status": sol.status,
        "gap": (max(0.0, (sol.objective - sol.bound) / max(abs(sol.objective), 1e-9)) if math.isfinite(sol.bound)
                else None),  # no proven bound: no gap to claim
        "objective_eur_per_yr": sol.objective,
        "transport_eur_per_yr": float(flows["cost_eur"].sum()),
        "transport_tkm_per_yr": float(flows["tkm"].sum()),
        "modal_split": _modal_split(flows),
        "land_cost_eur_per_yr": float(sol.objective - flows["cost_eur"].sum()),
        "new_land_take_ha": float(fac["new_land_ha"].sum()),
        "land_take_per_echelon_ha": fac.groupby("echelon")["new_land_ha"].sum().round(4).to_dict(),
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
        "ambition": str(inst.parameters["chain_ambition"]),
        "crossborder": bool(inst.parameters["chain_crossborder"]),
        "parameters": inst.parameters,
        "overrides": dict(inst.overrides),
        "assumptions": {k: a.value for k, a in inst.assumptions.items()
                        if k.startswith(("chain_", "pmd_", "sorting_", "cost_", "transhipment"))
                        or k in _existing_assumptions(cc)},
        "verification": {"passed": True, "checks": list(CHECKS)},
        "timings_s": sol.timings_s,
        # the run manifest, as for every solve: what was solved, with which inputs and software, how well
        "bound": sol.bound if math.isfinite(sol.bound) else None,
        "solver": "highs",
        "instance_hash": inst.content_hash(),
        "versions": versions(),
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


def write_chain(out_dir: Path, fac: pd.DataFrame, flows: pd.DataFrame, summary: dict) -> Path:
    """GeoPackage (EPSG:31370: facilities, flows), CSVs and summary.json, written atomically."""
    import geopandas as gpd
    import shapely

    from optimizer.atomic import atomic_directory
    from optimizer.output.export import strict_dumps
    from optimizer.settings import CRS

    with atomic_directory(Path(out_dir)) as tmp:
        gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac["x"], fac["y"]), crs=CRS).to_file(
            tmp / "result.gpkg", layer="facilities", driver="GPKG")
        lines = shapely.linestrings(np.stack([flows[["x", "y"]].to_numpy(), flows[["x2", "y2"]].to_numpy()], axis=1))
        gpd.GeoDataFrame(flows, geometry=lines, crs=CRS).to_file(tmp / "result.gpkg", layer="flows", driver="GPKG")
        fac.to_csv(tmp / "facilities.csv", index=False)
        flows.to_csv(tmp / "flows.csv", index=False)
        (tmp / "summary.json").write_text(strict_dumps(summary) + "\n", encoding="utf-8")
    return out_dir
