"""The coverage rules of a programme, re-derived from the instance tables for ``verify_siting``.

For a programme placed by a coverage model the domain verifier recomputes, from the coordinates of the demand
units and the open facilities (not from the model's arcs), the distance from every demand unit to every open
facility it may use (its own region when the programme serves inside regions), and checks:

* allocation: LSCP, MCLP and uncapacitated p-center send every unit to its nearest usable open facility, and a
  unit without one is not allocated; a p-median with a service distance allocates within it;
* the written ``<programme>_covered`` flag: an open facility within the service distance (p-center: served);
* the written ``<programme>_beyond_reach`` flag: no eligible candidate (zone type, centrumstad rule, type
  environment, access rule, free land) within the service distance;
* LSCP: every unit that must be covered (with demand, unless ``cover_zero_demand``; not beyond reach under
  ``cover = "reachable"``) is covered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.geo.access_rules import mode_rule_ok, programme_rule
from optimizer.settings import M2_PER_HA

TOL_KM = 1e-6


def road_km_from_xy(units: pd.DataFrame, sites: pd.DataFrame, circuity: float, f_intra: float) -> np.ndarray:
    """Modelled km from every unit (``x``, ``y``, ``area_km2``) to every site (``x``, ``y``): units × sites."""
    ux, uy = units["x"].to_numpy(float), units["y"].to_numpy(float)
    sx, sy = sites["x"].to_numpy(float), sites["y"].to_numpy(float)
    d = np.hypot(ux[:, None] - sx[None, :], uy[:, None] - sy[None, :]) / 1000.0
    r = f_intra * np.sqrt(np.maximum(units["area_km2"].to_numpy(float), 0.0) / np.pi)
    return circuity * np.sqrt(d * d + (r * r)[:, None])


def check_coverage_rules(inst, prog, fac: pd.DataFrame, alloc: pd.DataFrame, demand: pd.DataFrame,  # noqa: ANN001
                         regions: pd.Series, muni_regions: pd.Series, cands: pd.DataFrame, written: pd.DataFrame,
                         checks: list[str], violations: list[str], *, types: pd.DataFrame | None = None,
                         rules: dict | None = None) -> None:
    """Append the checks and violations of one coverage programme (see the module docstring).

    ``demand`` is indexed by demand unit, ``cands`` by site id, ``regions`` maps units (``muni_regions``
    municipalities) to the programme's regions; ``written`` is the result's demand table.
    """
    params = inst.parameters
    circuity = float(inst.assumption("access_circuity"))
    f_intra = float(inst.assumption("intrazonal_distance_factor"))
    service = np.inf if prog.service_km is None else float(prog.service_km)
    own = (prog.assignment if params["assignment"] == "programme" else params["assignment"]) == "own_region"
    unit_region = regions.reindex(demand.index).astype(str).to_numpy()

    def usable(site_region: np.ndarray) -> np.ndarray:
        if not own:
            return np.ones((len(demand), len(site_region)), bool)
        return unit_region[:, None] == np.asarray(site_region, str)[None, :]

    # distance to the nearest usable open facility, from coordinates
    sites = cands.loc[fac["site_id"]]
    km = np.where(usable(muni_regions.loc[fac["nis"].astype(str)].to_numpy()),
                  road_km_from_xy(demand, sites, circuity, f_intra), np.inf)
    nearest = km.min(axis=1, initial=np.inf)
    unit = (alloc["demand_id"] if "demand_id" in alloc else alloc["nis"]).astype(str)
    got = alloc.groupby(unit)["km"].max().reindex(demand.index).to_numpy(float)  # NaN: not allocated
    allocated = ~np.isnan(got)
    capacitated = bool(params["enforce_capacity"]) and bool(prog.capacity_per_m2)
    ids = demand.index.to_numpy()
    if prog.model in ("lscp", "mclp") or (prog.model == "pcenter" and not capacitated):
        checks.append(f"{prog.id}: each demand unit allocated to its nearest usable open facility (from coordinates)")
        far = allocated & (got > nearest + TOL_KM * np.maximum(1.0, nearest))
        for k in np.flatnonzero(far)[:3]:
            violations.append(f"{prog.id}: demand unit {ids[k]} allocated {got[k]:.4f} km away, nearest open "
                              f"facility {nearest[k]:.4f} km")
        for k in np.flatnonzero(np.isfinite(nearest) & ~allocated)[:3]:
            violations.append(f"{prog.id}: demand unit {ids[k]} is not allocated, an open facility is {nearest[k]:.4f} "
                              "km away")
        for k in np.flatnonzero(~np.isfinite(nearest) & allocated)[:3]:
            violations.append(f"{prog.id}: demand unit {ids[k]} is allocated to a facility it may not use")
    elif prog.model == "pmedian_max":
        checks.append(f"{prog.id}: every allocation within the service distance")
        for k in np.flatnonzero(allocated & (got > service + TOL_KM))[:3]:
            violations.append(f"{prog.id}: demand unit {ids[k]} served {got[k]:.4f} km away, beyond {service:g} km")

    # the written flags
    key = (written["id"] if "id" in written else written["nis"]).astype(str)
    flags = written.set_index(key.to_numpy())
    covered = allocated if prog.model == "pcenter" else nearest <= service + TOL_KM
    checks.append(f"{prog.id}: covered flag recomputed from coordinates")
    wrote = flags[f"{prog.id}_covered"].reindex(demand.index).astype(bool).to_numpy()
    for k in np.flatnonzero(wrote != covered)[:3]:
        violations.append(f"{prog.id}: demand unit {ids[k]} written {'covered' if wrote[k] else 'not covered'}, "
                          f"nearest open facility {nearest[k]:.4f} km (service distance {service:g} km)")
    beyond = _beyond_reach(inst, prog, demand, cands, usable, service, circuity, f_intra, types, rules)
    checks.append(f"{prog.id}: beyond-reach flag recomputed from the eligible candidates")
    wrote_beyond = flags[f"{prog.id}_beyond_reach"].reindex(demand.index).astype(bool).to_numpy()
    for k in np.flatnonzero(wrote_beyond != beyond)[:3]:
        violations.append(f"{prog.id}: demand unit {ids[k]} written {'beyond' if wrote_beyond[k] else 'within'} reach "
                          "of the eligible candidates, recomputed the other way")
    if prog.model == "lscp":
        checks.append(f"{prog.id}: every demand unit to cover is covered")
        must = np.ones(len(demand), bool) if prog.cover_zero_demand else demand["population"].to_numpy(float) > 0
        if prog.cover == "reachable":
            must &= ~beyond
        for k in np.flatnonzero(must & ~covered)[:3]:
            violations.append(f"{prog.id}: demand unit {ids[k]} is not covered (nearest open facility "
                              f"{nearest[k]:.4f} km, service distance {service:g} km)")


def _beyond_reach(inst, prog, demand: pd.DataFrame, cands: pd.DataFrame, usable, service: float,  # noqa: ANN001
                  circuity: float, f_intra: float, types: pd.DataFrame | None, rules: dict | None) -> np.ndarray:
    """Per unit: no candidate the programme may use lies within the service distance."""
    params = inst.parameters
    munis = inst.demand.drop_duplicates("nis").set_index("nis")
    variant = str(params["size_variant"])
    sizes = {k: (inst.assumption(prog.size_area_assumptions[k]) if k in prog.size_area_assumptions else v)
             for k, v in prog.sizes_for(variant).items()}
    ok = np.zeros(len(cands), bool)
    for size, area in sizes.items():
        fits = cands["zone_type"].isin(prog.zone_types).to_numpy().copy()
        fits &= cands["free_ha"].astype(float).to_numpy() * M2_PER_HA >= area
        if prog.sites_in_centrumstad:
            fits &= munis["centrumstad"].reindex(cands["nis"].astype(str)).fillna(False).to_numpy(bool)
        allowed = prog.types_for(size)
        if allowed and types is not None:
            fits &= types.reindex(cands.index)[[f"type_{t}" for t in allowed]].to_numpy(bool).any(axis=1)
        if rules is not None:
            fits &= mode_rule_ok(cands, programme_rule(rules, str(params["access_rules"]),
                                                       prog.access_codes.get(size, "")))
        ok |= fits
    eligible = cands[ok]
    if eligible.empty:
        return np.ones(len(demand), bool)
    region_col = prog.region_for(variant)
    site_region = (np.full(len(eligible), "Vlaanderen") if region_col == "flanders"
                   else munis[region_col].astype(str).reindex(eligible["nis"].astype(str)).to_numpy())
    km = np.where(usable(site_region), road_km_from_xy(demand, eligible, circuity, f_intra), np.inf)
    return km.min(axis=1, initial=np.inf) > service + TOL_KM
