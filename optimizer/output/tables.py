"""Result tables of a location instance: solution indices in, planner-readable tables out.

:func:`result_tables` and :func:`named_extras` (this kind's part of ``summary.json``) are pure (no I/O);
:mod:`optimizer.output.export` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.geo.access import ACCESS_COLUMNS
from optimizer.geo.network_tables import MODES
from optimizer.output.coverage import coverage_flags, model_section, nearest_candidate_km, region_counts
from optimizer.output.equity import allocation_equity, within_distances
from optimizer.output.tension import programme_rules, rule_tensions, utilisation_stats
from optimizer.problem import Solution
from optimizer.settings import M2_PER_HA

if TYPE_CHECKING:
    from optimizer.model.formulation import SitingProblem
    from optimizer.solver.models import ModelSolution

SPLIT_COLUMNS = ["road_km", "water_km", "rail_km", "transhipments"]
MODAL_COLUMNS = ["road_tkm", "water_tkm", "rail_tkm", "transhipped_t", "road_eur", "water_eur", "rail_eur",
                 "transhipment_eur"]
ZONE_COLUMNS = ["site_id", "name", "zone_type", "zone_class", "nis", "municipality", "area_ha", "free_ha",
                "free_basis", "seaport", "knooppuntwaarde", "n_modes"]


@dataclass
class ResultTables:
    """The result layers as plain DataFrames with x/y (and x2/y2 for allocation lines) in EPSG:31370.

    ``zones`` holds the candidate zones with their polygons (column ``geometry``, shapely, EPSG:31370); it is empty
    when the candidates are points only.
    """

    facilities: pd.DataFrame
    allocations: pd.DataFrame
    demand: pd.DataFrame
    candidates: pd.DataFrame
    zones: pd.DataFrame | None = None


def allocation_split(sp: SitingProblem, arc_client: np.ndarray, arc_option: np.ndarray) -> pd.DataFrame:
    """Road, water and rail km, transhipments and route of the chosen chain of each arc (one row per arc).

    From each programme's :class:`~optimizer.model.geography.ArcCosts`: the modal split of the pair's cheapest allowed
    chain on the networks (shortest-path trees, vectorised), the intrazonal term on road. ``route`` is ``local``
    (the direct local-road trip), ``road``, ``water``, ``rail``, ``water+rail``, or ``straight`` (a coverage
    programme's service distance, straight line × circuity).
    """
    out = np.zeros((len(arc_client), 4))
    prog = sp.clients["programme"].to_numpy()[arc_client]
    muni = sp.clients["muni"].to_numpy()[arc_client]
    site = sp.options["site"].to_numpy()[arc_option]
    kind = np.full(len(arc_client), "network", dtype=object)
    for pid, costs in sp.arc_costs.items():
        rows = np.flatnonzero(prog == pid)
        if len(rows):
            out[rows] = costs.split(muni[rows], site[rows])
            kind[rows] = costs.route(muni[rows], site[rows])
    frame = pd.DataFrame(out, columns=SPLIT_COLUMNS)
    water, rail = frame["water_km"].to_numpy() > 0, frame["rail_km"].to_numpy() > 0
    frame["route"] = np.where(kind != "network", kind, np.where(water & rail, "water+rail",
                                                                np.where(water, "water", np.where(rail, "rail", "road"))))
    return frame


def modal_costs(split: pd.DataFrame, tonnes: np.ndarray, sp: SitingProblem) -> pd.DataFrame:
    """t·km per mode, transhipped tonnes and EUR per mode (named assumptions) of allocations with ``tonnes``."""
    a = sp.instance.assumptions
    t = np.asarray(tonnes, dtype=float)
    out = pd.DataFrame({f"{m}_tkm": split[f"{m}_km"].to_numpy() * t for m in MODES})
    out["transhipped_t"] = split["transhipments"].to_numpy() * t
    for m in MODES:
        out[f"{m}_eur"] = out[f"{m}_tkm"] * float(a[f"cost_{m}_eur_per_tkm"].value)
    out["transhipment_eur"] = out["transhipped_t"] * float(a["transhipment_eur_per_t"].value)
    return out


def result_tables(sp: SitingProblem, solution: Solution) -> ResultTables:
    """Planner-readable tables of a solution (pure function)."""
    problem, options, clients, sites = sp.problem, sp.options, sp.clients, sp.sites
    demand = sp.instance.demand
    used = np.flatnonzero(solution.arc_share > 1e-9)
    a_client, a_option, share = problem.arc_client[used], problem.arc_option[used], solution.arc_share[used]
    tonnes = problem.demand[a_client] * share

    load = np.bincount(a_option, weights=tonnes, minlength=problem.n_options)
    n_served = np.bincount(a_option, minlength=problem.n_options)
    open_idx = np.flatnonzero(solution.open_options)
    if "closure" in options:  # the decision to close an existing facility (optimizer.model.existing), no facility
        open_idx = open_idx[~options["closure"].fillna(False).to_numpy(bool)[open_idx]]
    opt = options.iloc[open_idx].reset_index(drop=True)
    site_rows = sites.iloc[opt["site"].to_numpy()].reset_index(drop=True)
    # one definition of capacity and utilisation (optimizer.output.tension): the plot's assumed throughput,
    # whether or not this instance enforces it as a constraint
    cap_per_m2 = {p.id: (sp.instance.assumption(p.capacity_per_m2) if p.capacity_per_m2 else np.nan)
                  for p in sp.instance.programmes}
    capacity = opt["area_m2"].to_numpy(float) * opt["programme"].map(cap_per_m2).to_numpy(float)
    if "existing" in opt:  # an existing facility: its stated capacity, else its plot (no new area) × throughput
        ex = opt["existing"].fillna(False).to_numpy(bool)
        stated = opt["capacity_t"].to_numpy(float)
        derived = opt["plot_m2"].to_numpy(float) * opt["programme"].map(cap_per_m2).to_numpy(float)
        capacity = np.where(ex, np.where(np.isfinite(stated), stated, derived), capacity)
    facilities = pd.DataFrame(
        {
            "facility_id": problem.option_ids[open_idx],
            "programme": opt["programme"],
            "site_id": opt["site_id"],
            "site_name": site_rows["name"],
            "zone_type": site_rows["zone_type"],
            "nis": site_rows["nis"].astype(str),
            "region": opt["region"],
            "size": opt["size"],
            "area_m2": opt["area_m2"],
            "capacity_t": capacity,
            "capacity_enforced": np.isfinite(opt["capacity_t"].to_numpy(float)),
            "load_t": load[open_idx],
            "utilisation": load[open_idx] / capacity,
            "n_clients": n_served[open_idx],
            "x": site_rows["x"],
            "y": site_rows["y"],
        }
    )
    facilities.insert(3, "zone_id", np.where(site_rows.get("has_zone", pd.Series(False, index=site_rows.index)),
                                             site_rows["site_id"], ""))
    facilities["aggregate"] = site_rows["aggregate"].to_numpy(bool) if "aggregate" in site_rows else False
    for col in ACCESS_COLUMNS:
        if col in site_rows:
            facilities[col] = site_rows[col].to_numpy()
    # land take by kind of land (S6, S7): an existing economic zone, temporary reserve land, or greenfield
    facilities["land_kind"] = np.where(opt.get("greenfield", False), "greenfield",
                                       np.where(opt.get("reserve", False), "reserve", "existing_zone"))
    if "existing" in opt:  # existing facilities (optimizer.data.existing): their plot is taken already
        existing = opt["existing"].fillna(False).to_numpy(bool)
        facilities["existing"] = existing
        facilities["existing_id"] = opt["existing_id"].fillna("").to_numpy()
        facilities["plot_m2"] = np.where(existing, opt["plot_m2"].to_numpy(float), opt["area_m2"].to_numpy(float))
        facilities.loc[existing, "land_kind"] = "existing_facility"

    cl = clients.iloc[a_client].reset_index(drop=True)
    fac_site = sites.iloc[options["site"].to_numpy()[a_option]].reset_index(drop=True)
    muni = demand.iloc[cl["muni"].to_numpy()].reset_index(drop=True)
    split = allocation_split(sp, a_client, a_option)
    modal = modal_costs(split, tonnes, sp)
    allocations = pd.DataFrame(
        {
            "programme": cl["programme"],
            "demand_id": (cl["id"] if "id" in cl else cl["nis"]).astype(str),  # = nis for municipal demand
            "nis": cl["nis"].astype(str),
            "municipality": cl["name"],
            "region": cl["region"],
            "facility_id": problem.option_ids[a_option],
            "site_id": fac_site["site_id"],
            "share": share,
            "tonnes": tonnes,
            "km": split[["road_km", "water_km", "rail_km"]].sum(axis=1).to_numpy(),
            **{c: split[c].to_numpy() for c in SPLIT_COLUMNS},
            "route": split["route"].to_numpy(),
            "cost": problem.arc_cost[used] * share,
            "x": muni["x"],
            "y": muni["y"],
            "x2": fac_site["x"],
            "y2": fac_site["y"],
        }
    )
    allocations["tkm"] = allocations["tonnes"] * allocations["km"]
    for col in MODAL_COLUMNS:
        allocations[col] = modal[col].to_numpy()
    per_option = pd.DataFrame({c: np.bincount(a_option, weights=modal[c].to_numpy(), minlength=problem.n_options)
                               for c in MODAL_COLUMNS})
    for col in MODAL_COLUMNS:
        facilities[col] = per_option[col].to_numpy()[open_idx]
    facilities["transport_eur"] = facilities[["road_eur", "water_eur", "rail_eur", "transhipment_eur"]].sum(axis=1)

    main = allocations.sort_values("share", ascending=False).drop_duplicates(["programme", "demand_id"])
    points = "id" in demand and not demand["id"].astype(str).equals(demand["nis"].astype(str))
    dem = demand[(["id"] if points else []) + ["nis", "name", "population", "x", "y"]
                 + [c for c in ("arrondissement", "province", "centrumstad") if c in demand]].copy()
    key = dem["id"].astype(str) if points else dem["nis"].astype(str)
    nearest = nearest_candidate_km(problem) if any(p.is_coverage for p in sp.instance.programmes) else None
    for prog in sp.instance.programmes:
        sel = main[main["programme"] == prog.id].set_index("demand_id")
        dem[f"{prog.id}_facility"] = key.map(sel["facility_id"])
        dem[f"{prog.id}_t"] = key.map(sel["tonnes"])
        dem[f"{prog.id}_km"] = key.map(sel["km"])
        if prog.is_coverage:  # the covered flag per demand unit (clients of a programme follow the demand rows)
            mine = np.flatnonzero(clients["programme"].to_numpy() == prog.id)
            covered, beyond = coverage_flags(nearest[mine], dem[f"{prog.id}_km"].fillna(np.inf).to_numpy(float),
                                             prog.model, prog.service_km)
            dem[f"{prog.id}_covered"] = covered
            dem[f"{prog.id}_beyond_reach"] = beyond

    cand = sites[["site_id", "name", "zone_type", "nis", "x", "y"]
                 + [c for c in ("zone_class", "aggregate", "area_ha", "total_ha", "free_ha") if c in sites]
                 + [c for c in ACCESS_COLUMNS if c in sites] + [c for c in sites if c.startswith("eligible_")]].copy()
    chosen = set(facilities["site_id"])
    cand["chosen"] = cand["site_id"].isin(chosen)
    cand["chosen_programmes"] = cand["site_id"].map(facilities.groupby("site_id")["programme"].agg(",".join)).fillna("")
    taken = facilities.groupby("site_id")["area_m2"].sum()
    cand["land_taken_m2"] = cand["site_id"].map(taken).fillna(0.0)
    zones = None
    if "has_zone" in sites and sites["has_zone"].any():
        rows = sites["has_zone"].to_numpy(bool)
        zones = sites.loc[rows, [c for c in ZONE_COLUMNS if c in sites] + ["geometry"]].reset_index(drop=True)
        zones["facility_x"], zones["facility_y"] = sites.loc[rows, "x"].to_numpy(), sites.loc[rows, "y"].to_numpy()
        for col in ("chosen", "chosen_programmes", "land_taken_m2"):
            zones[col] = cand.loc[rows, col].to_numpy()
    return ResultTables(facilities, allocations, dem, cand, zones)


def named_summary(sp: SitingProblem, solution: Solution, tables: ResultTables, verification: dict, *,
                  solve_options: dict, timings_s: dict[str, float], models: ModelSolution | None = None,
                  extra: dict | None = None) -> dict:
    """The whole ``summary.json`` of a location instance: the envelope of every kind
    (:func:`optimizer.output.summary.envelope`) and this kind's keys (:func:`named_extras`).

    With coverage models (``models`` has a coverage part) ``bound`` is the sum of the parts' bounds only when every
    part minimised the cost, else ``None``; ``gap`` is the largest gap of the parts, each in its own objective.
    """
    from optimizer.model.plan import is_whole
    from optimizer.output.summary import envelope, instance_file
    from optimizer.problem import objective_parts
    from optimizer.settings import CRS

    inst = sp.instance
    parts = objective_parts(sp.problem, solution.open_options, solution.arc_share)
    gap = solution.gap if models is None or is_whole(sp.problem, sp.groups) else models.gap
    summary = envelope(
        kind="named", instance=inst.name, title=inst.title, instance_path=instance_file(inst.path),
        instance_hash=inst.content_hash(),
        parameters=inst.parameters, overrides=inst.overrides,
        assumptions={k: {"value": a.value, "unit": a.unit} for k, a in sorted(inst.assumptions.items())},
        status=solution.status, objective={**{k: parts[k] for k in ("total", "transport", "fixed", "land")},
                                           "unit": sp.problem.cost_unit},
        bound=solution.bound, gap=gap, land_take_ha=float(tables.facilities["area_m2"].sum() / M2_PER_HA),
        facilities=len(tables.facilities),
        size={"clients": sp.problem.n_clients, "options": sp.problem.n_options, "arcs": sp.problem.n_arcs},
        solver=solution.solver, solve_options=solve_options, timings_s=timings_s, verification=verification,
        crs=CRS,
    )
    summary.update(named_extras(sp, tables, models))
    summary.update(extra or {})
    return summary


def named_extras(sp: SitingProblem, tables: ResultTables, models: ModelSolution | None = None) -> dict:
    """A location instance's own keys of ``summary.json`` (on top of the common envelope of
    :func:`optimizer.output.summary.envelope`; ``docs/summary-schema.md``): transport, land per kind, programmes
    with their model (:func:`optimizer.output.coverage.model_section`) and facilities per region, rule tensions,
    the equity figures and the existing facilities."""
    fac = tables.facilities
    utilisation = utilisation_stats(fac)
    sections = model_section(sp, tables, models)
    per_region = region_counts(fac)
    per_programme = {}
    for prog in sp.instance.programmes:
        f = fac[fac["programme"] == prog.id]
        al = tables.allocations[tables.allocations["programme"] == prog.id]
        per_programme[prog.id] = {
            "facilities": int(len(f)),
            "count_per_size": {str(k): int(v) for k, v in f.groupby("size").size().items()},
            "land_take_ha": float(f["area_m2"].sum() / M2_PER_HA),
            "land_take_by_kind_ha": _by_kind_ha(f),
            "tonnes_per_yr": float(al["tonnes"].sum()),
            "tkm_per_yr": float(al["tkm"].sum()),
            "capacity_t_per_yr": float(f["capacity_t"].sum()) if f["capacity_t"].notna().any() else None,
            "utilisation": utilisation.get(prog.id, {"min": None, "median": None, "max": None}),
            "model": sections[prog.id],
            "facilities_per_region": per_region.get(prog.id, {}),
            "modal_split": modal_split(al, _moved_unit({prog.demand_unit})),
        }
    return {
        "transport_tkm_per_yr": float(tables.allocations["tkm"].sum()),
        "transport_eur_per_yr": float(tables.allocations[["road_eur", "water_eur", "rail_eur",
                                                          "transhipment_eur"]].to_numpy().sum())
        if sp.problem.cost_unit.startswith("EUR") else None,
        "modal_split": modal_split(tables.allocations, _moved_unit({p.demand_unit for p in sp.instance.programmes})),
        "geography": geography_summary(sp, tables),
        "land_take_by_kind_ha": _by_kind_ha(fac),
        "programmes": per_programme,
        "rule_tensions": rule_tensions(fac, programme_rules(sp.instance)),
        "equity": siting_equity(sp, tables),
        **({"existing_facilities": existing_summary(sp, tables)} if sp.instance.existing is not None else {}),
    }


def siting_equity(sp: SitingProblem, tables: ResultTables) -> dict:
    """Equity figures per programme (:mod:`optimizer.output.equity`): distance from each demand unit to the facility
    that serves it, weighted by its demand; ``within_km`` the run's distances plus every service distance."""
    progs = sp.instance.programmes
    within = within_distances(sp.instance.parameters, [p.service_km for p in progs if p.is_coverage])
    dem = tables.demand
    key = (dem["id"] if "id" in dem else dem["nis"]).astype(str)
    by_programme = {}
    for prog in progs:
        weight = pd.Series(dem["population"].to_numpy(float) * sp.instance.assumption(prog.demand_per_inhabitant),
                           index=key.to_numpy())
        alloc = tables.allocations[tables.allocations["programme"] == prog.id]
        by_programme[prog.id] = allocation_equity(alloc, weight, within)
    return {"unit": "km", "weight": "demand of each unit (t/yr, or residents)", "within_km": within,
            "by_programme": by_programme}


def existing_summary(sp: SitingProblem, tables: ResultTables) -> list[dict]:
    """Each existing facility of a placed programme: open or closed, its load and capacity, and the named
    assumptions behind its figures (an inferred plot size is an assumption, never a silent number)."""
    from optimizer.model.existing import existing_rows

    rows = existing_rows(sp.instance, {p.id for p in sp.instance.programmes})
    fac = tables.facilities
    by_id = fac.set_index("existing_id") if "existing_id" in fac else pd.DataFrame()
    out = []
    for r in rows.itertuples():
        open_ = r.facility_id in by_id.index
        f = by_id.loc[r.facility_id] if open_ else None
        out.append({"facility_id": r.facility_id, "name": r.name, "programme": r.programme, "status": r.status,
                    "open": bool(open_), "plot_m2": float(r.area_m2), "counts_toward_rule": bool(r.counts_toward_rule),
                    "load_t": float(f["load_t"]) if open_ else 0.0,
                    "capacity_t": float(f["capacity_t"]) if open_ and pd.notna(f["capacity_t"]) else None,
                    "assumptions": list(r.assumptions_used), "source": r.source})
    return out


def _moved_unit(demand_units: set[str]) -> str:
    """What the allocations move: tonnes (t·km, priced per mode), residents' trips (resident·km: S3c coverage), or
    both in one run (``mixed``: their km do not add up to one price)."""
    if demand_units == {"residents"}:
        return "resident·km"
    return "mixed" if "residents" in demand_units else "t·km"


def modal_split(alloc: pd.DataFrame, unit: str = "t·km") -> dict:
    """Distance × demand and EUR per mode, their shares, transhipped tonnes and demand per route, of allocations.

    ``unit`` is what the demand × km is (:func:`_moved_unit`): only tonnes have a price per mode and are transhipped,
    so ``eur``, ``eur_share`` and ``transhipped_t`` are ``None`` for residents' trips or a mixed run.
    """
    tkm = {m: float(alloc[f"{m}_tkm"].sum()) for m in MODES}
    total_tkm = sum(tkm.values())
    out = {
        "unit": unit,
        "tkm": tkm,
        "tkm_share": {m: (v / total_tkm if total_tkm > 0 else 0.0) for m, v in tkm.items()},
        "eur": None, "eur_share": None, "transhipped_t": None,
        "tonnes_by_route": {str(k): float(v) for k, v in alloc.groupby("route")["tonnes"].sum().items()},
    }  # fmt: skip
    if unit == "t·km":
        eur = {m: float(alloc[f"{m}_eur"].sum()) for m in MODES}
        eur["transhipment"] = float(alloc["transhipment_eur"].sum())
        total_eur = sum(eur.values())
        out.update(eur=eur, eur_share={m: (v / total_eur if total_eur > 0 else 0.0) for m, v in eur.items()},
                   transhipped_t=float(alloc["transhipped_t"].sum()))
    return out


def geography_summary(sp: SitingProblem, tables: ResultTables) -> dict:
    """Where the sites and costs come from: candidate zones, networks, the local-trip rule, each programme's modes."""
    sites = sp.sites
    geo = sp.geography
    out = {
        "candidates": int(len(sites)),
        "zones": int(sites["has_zone"].sum()) if "has_zone" in sites else 0,
        "aggregate_candidates": int(sites["aggregate"].sum()) if "aggregate" in sites else 0,
        "seaport_sites": int(sites["has_seaport"].sum()) if "has_seaport" in sites else 0,
        "transport_modes": {p.id: list(p.transport_modes) for p in sp.instance.programmes},
        "access_rules": {k: {kk: vv for kk, vv in r.items() if kk not in ("basis", "digest", "note")}
                         for k, r in sp.rules.items()},
    }
    if geo is not None:
        out["networks"] = list(geo.tables.sources)
        out["network_fingerprint"] = geo.tables.fingerprint
        out["local_trip_max_km"] = geo.params.local_trip_max_km
    return out


def _by_kind_ha(fac: pd.DataFrame) -> dict[str, float]:
    """Hectares taken on existing economic zones, temporary reserve land and greenfield (S6, S7)."""
    kinds = fac["land_kind"] if "land_kind" in fac else pd.Series("existing_zone", index=fac.index)
    per = fac["area_m2"].groupby(kinds).sum() / M2_PER_HA
    return {k: float(per.get(k, 0.0)) for k in ("existing_zone", "reserve", "greenfield")}
