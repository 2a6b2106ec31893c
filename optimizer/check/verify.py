"""Independent check of every result before anything is written.

Two layers, deliberately written without reusing the model code:

* :func:`verify_problem` checks a solution against the array problem: every constraint type of
  :mod:`optimizer.model.pyomo_model`, and the objective recomputed from scratch (loops over the solution's open options and
  used arcs only, so it stays cheap).
* Domain checks (:func:`verify_siting`) re-derive the study's rules from the
  instance tables — one facility per region, the size rule, eligibility, modes, land, assignment inside the
  region — and recompute transport from coordinates, so an error in compiling the instance is caught too.

A violation raises :class:`~optimizer.errors.VerificationError`; it is an error, never a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.errors import VerificationError
from optimizer.problem import LocationProblem, Solution

if TYPE_CHECKING:
    from optimizer.model.formulation import SitingProblem
    from optimizer.output.tables import ResultTables

ABS_TOL = 1e-6
REL_TOL = 1e-6


@dataclass
class VerificationReport:
    """What was checked and the recomputed objective."""

    objective: float
    checks: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> "VerificationReport":
        if self.violations:
            raise VerificationError(self.violations)
        return self


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= ABS_TOL * max(1.0, scale) + REL_TOL * max(abs(a), abs(b))


def verify_problem(problem: LocationProblem, solution: Solution) -> VerificationReport:
    """Check ``solution`` against every constraint of ``problem`` and recompute its objective."""
    y = np.asarray(solution.open_options, dtype=bool)
    x = np.asarray(solution.arc_share, dtype=float)
    violations: list[str] = []
    checks: list[str] = []

    if y.shape != (problem.n_options,) or x.shape != (problem.n_arcs,):
        return VerificationReport(float("nan"), [], ["solution arrays do not match the problem's shape"])

    checks.append("share bounds")
    if np.any(x < -ABS_TOL) or np.any(x > 1 + ABS_TOL):
        violations.append("an assignment share lies outside [0, 1]")
    if problem.single_source:
        checks.append("single source")
        frac = np.flatnonzero((x > ABS_TOL) & (x < 1 - ABS_TOL))
        if frac.size:
            violations.append(f"client {problem.client_ids[problem.arc_client[frac[0]]]} is split over facilities")

    checks.append("every client fully served")
    served = np.zeros(problem.n_clients)
    np.add.at(served, problem.arc_client, x)
    bad = np.flatnonzero(np.abs(served - 1.0) > 1e-6)
    for i in bad[:3]:
        violations.append(f"client {problem.client_ids[i]} is served {served[i]:.6f} times (must be 1)")

    checks.append("served only by open facilities")
    used = np.flatnonzero(x > ABS_TOL)
    closed = used[~y[problem.arc_option[used]]]
    for a in closed[:3]:
        violations.append(
            f"client {problem.client_ids[problem.arc_client[a]]} is served by closed option {problem.option_ids[problem.arc_option[a]]}"
        )

    checks.append("capacity")
    load = np.zeros(problem.n_options)
    np.add.at(load, problem.arc_option, x * problem.demand[problem.arc_client])
    limit = np.where(y, problem.capacity, 0.0)
    over = np.flatnonzero(load > limit + 1e-6 * np.maximum(1.0, np.where(y, problem.capacity, 1.0)))
    for j in over[:3]:
        violations.append(f"option {problem.option_ids[j]} carries {load[j]:.3f} over capacity {limit[j]:.3f}"
                          + ("" if y[j] else " (it is closed)"))

    checks.append("count rows")
    counted = problem.counts.dot(y)
    for r in np.flatnonzero((counted < problem.counts.lower - 1e-9) | (counted > problem.counts.upper + 1e-9))[:3]:
        violations.append(
            f"{problem.counts.names[r]}: {counted[r]:.0f} open, allowed {problem.counts.lower[r]:g}..{problem.counts.upper[r]:g}"
        )

    checks.append("land per site")
    land = np.zeros(len(problem.site_ids))
    np.add.at(land, problem.option_site, problem.area_m2 * y)
    for s in np.flatnonzero(land > problem.site_free_m2 + 1e-6)[:3]:
        violations.append(f"site {problem.site_ids[s]} uses {land[s]:.0f} m² of {problem.site_free_m2[s]:.0f} m² free")

    checks.append("required facilities open")
    missing = np.flatnonzero(problem.required_mask() & ~y)
    for j in missing[:3]:
        violations.append(f"required option {problem.option_ids[j]} is not open")

    checks.append("objective recomputed")
    transport = sum(float(problem.arc_cost[a]) * float(x[a]) for a in used)
    opening = sum(
        float(problem.fixed_cost[j]) + problem.land_cost_per_m2 * float(problem.area_m2[j]) for j in np.flatnonzero(y)
    )
    recomputed = transport + opening
    if np.isfinite(solution.objective) and not _close(recomputed, solution.objective, scale=abs(recomputed)):
        violations.append(f"objective {solution.objective:.6f} differs from recomputed {recomputed:.6f}")
    if np.isfinite(solution.bound) and solution.bound > recomputed + 1e-6 * max(1.0, abs(recomputed)):
        violations.append(f"proven bound {solution.bound:.6f} exceeds the objective {recomputed:.6f}")
    return VerificationReport(recomputed, checks, violations)


def _route_costs(prog, a: pd.DataFrame, demand_xym: np.ndarray, site_xy: np.ndarray,  # noqa: ANN001
                 inst) -> tuple[float, list[str]]:  # noqa: ANN001
    """Transport of a programme's allocations recomputed from their routes, and what is wrong with them.

    Each allocation's cost must equal tonnes × (Σ_mode cost per t·km × km of the mode + transhipment cost ×
    transhipments), with the costs read here from the named assumptions (t·km objective: the km); its route may use
    only the programme's transport modes, changes mode an even number of times (2 per water or rail leg), is no
    shorter than the straight line and, when local, no longer than the local trip allows.
    """
    violations: list[str] = []
    eur = inst.parameters["objective"] == "eur"
    rate = {m: (float(inst.assumption(f"cost_{m}_eur_per_tkm")) if eur else 1.0) for m in ("road", "water", "rail")}
    tranship = float(inst.assumption("transhipment_eur_per_t")) if eur else 0.0
    circuity = float(inst.assumption("access_circuity"))
    km = {m: a[f"{m}_km"].to_numpy(float) for m in ("road", "water", "rail")}
    n_t = a["transhipments"].to_numpy(float)
    total = km["road"] + km["water"] + km["rail"]
    for k in np.flatnonzero(np.abs(total - a["km"].to_numpy(float)) > 1e-6 * np.maximum(1.0, total))[:3]:
        violations.append(f"{prog.id}: {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} is {a['km'].iloc[k]:.4f} km, "
                          f"its route's modes add up to {total[k]:.4f} km")
    tonnes = a["tonnes"].to_numpy(float)
    per_t = sum(rate[m] * km[m] for m in km) + tranship * n_t
    recomputed = tonnes * per_t
    for k in np.flatnonzero(np.abs(recomputed - a["cost"].to_numpy(float)) > 1e-6 * np.maximum(1.0, recomputed))[:3]:
        violations.append(f"{prog.id}: transport {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} costs "
                          f"{a['cost'].iloc[k]:.4f}, its route's km per mode give {recomputed[k]:.4f}")
    for mode in ("water", "rail"):
        if mode not in prog.transport_modes:
            for k in np.flatnonzero(km[mode] > 0)[:3]:
                violations.append(f"{prog.id}: {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} uses {mode}, "
                                  f"which the programme does not allow ({', '.join(prog.transport_modes)})")
    multimodal = (km["water"] > 0) | (km["rail"] > 0)
    bad = (np.abs(n_t - 2 * np.round(n_t / 2)) > 1e-9) | (multimodal != (n_t >= 2 - 1e-9))
    for k in np.flatnonzero(bad)[:3]:
        violations.append(f"{prog.id}: route {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} changes mode "
                          f"{n_t[k]:g} times")
    straight = np.hypot(demand_xym[:, 0] - site_xy[:, 0], demand_xym[:, 1] - site_xy[:, 1]) / 1000.0
    for k in np.flatnonzero(total < straight - 1e-6)[:3]:
        violations.append(f"{prog.id}: route {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} is {total[k]:.3f} "
                          f"km, shorter than the straight line {straight[k]:.3f} km")
    route = a["route"].to_numpy()
    if prog.is_coverage and (route != "straight").any():
        violations.append(f"{prog.id}: a coverage programme's distances are straight line × circuity (service reach)")
    local = (route == "local") | (route == "straight")
    if local.any():
        r = float(inst.assumption("intrazonal_distance_factor")) * np.sqrt(np.maximum(demand_xym[:, 2], 0) / np.pi)
        expect = circuity * np.sqrt(straight**2 + r**2)
        limit = np.where(route == "straight", np.inf, float(inst.assumption("local_trip_max_km")))
        wrong = local & ((np.abs(km["road"] - expect) > 1e-6 * np.maximum(1.0, expect)) | (straight > limit + 1e-9))
        for k in np.flatnonzero(wrong)[:3]:
            violations.append(f"{prog.id}: local trip {a['municipality'].iloc[k]}→{a['site_id'].iloc[k]} is "
                              f"{km['road'][k]:.3f} km over {straight[k]:.3f} km straight (allowed up to {limit[k]:g} km, "
                              f"circuity {circuity:g})")
    return float(recomputed.sum()), violations


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def verify_siting(sp: SitingProblem, solution: Solution, tables: ResultTables, *, year: int | None = None,
                  annualise: bool = True) -> VerificationReport:
    """Check the written tables against the study's rules, re-derived from the instance (not from the model).

    Checks: facilities per region and programme; the size rule and the programme's plot sizes; eligibility (zone
    type and multimodal rule recomputed from the candidates' access attributes); every municipality served
    exactly once per programme with its full tonnage; assignment inside its own region where required; free land
    per site; capacity where enforced; transport recomputed from coordinates; objective total. Existing
    facilities are checked against their table (:func:`optimizer.check.existing.verify_existing`) in ``year``
    (``None``: a single-period end state; ``annualise``: closing costs spread over years, as a single period does).
    """
    # the domain rules' modules load here: a matrix solve verifies with verify_problem alone (issue 18, fixed costs)
    from optimizer.check.coverage_rules import check_coverage_rules
    from optimizer.check.existing import existing_in_result, verify_existing
    from optimizer.geo.access_rules import effective_rule, load_mode_rules, mode_rule_ok
    from optimizer.geo.typology import classify_instance

    inst = sp.instance
    params = inst.parameters
    demand = inst.demand.set_index("id" if "id" in inst.demand else "nis")  # demand units (municipalities or points)
    munis = inst.demand.drop_duplicates("nis").set_index("nis")  # a facility's municipality attributes
    cands = sp.sites.set_index("site_id")
    fac, alloc = tables.facilities, tables.allocations
    violations: list[str] = []
    checks: list[str] = []
    rules = load_mode_rules() if params["access_rules"] != "none" else None
    raw = inst.candidates.set_index("site_id")
    types = classify_instance(inst, cands.drop(columns=[c for c in cands.columns if c.startswith("type_")]))
    checks.append("type environments re-derived from the candidates and networks")
    transport = 0.0
    existing = fac["size"].to_numpy() == "existing"
    counting = set(existing_in_result(inst, {p.id for p in inst.programmes}, year).query("counts_toward_rule")
                   ["facility_id"]) if inst.existing is not None else set()
    counts = fac["existing_id"].isin(counting).to_numpy(bool) if "existing_id" in fac else np.zeros(len(fac), bool)
    not_counted = existing & ~counts

    for prog in inst.programmes:
        f = fac[(fac["programme"] == prog.id).to_numpy() & ~not_counted]
        a = alloc[alloc["programme"] == prog.id]
        region_col = prog.region_for(str(params["size_variant"]))
        regions = (demand[region_col].astype(str) if region_col != "flanders"
                   else pd.Series("Vlaanderen", index=demand.index))
        muni_regions = (munis[region_col].astype(str) if region_col != "flanders"
                        else pd.Series("Vlaanderen", index=munis.index))
        fac_region = muni_regions.loc[f["nis"].astype(str)].to_numpy()
        checks.append(f"{prog.id}: facilities per region")
        per_region = pd.Series(fac_region).value_counts()
        if prog.p is not None:
            checks.append(f"{prog.id}: exactly p = {prog.p} facilities")
            if len(f) != prog.p:
                violations.append(f"{prog.id}: {len(f)} facilities, p = {prog.p}")
        lo, up = prog.count_bounds(str(params["size_variant"]))
        for region in sorted(regions.unique()):
            got = int(per_region.get(region, 0))
            if not lo <= got <= up:
                want = f"{lo:g}" if lo == up else f"{lo:g}..{up:g}"
                violations.append(f"{prog.id}: {region_col} {region!r} has {got} facilities, rule says {want}")
        checks.append(f"{prog.id}: size rule and plot sizes")
        sizes = {k: (inst.assumption(prog.size_area_assumptions[k]) if k in prog.size_area_assumptions else v)
                 for k, v in prog.sizes_for(str(params["size_variant"])).items()}
        city = inst.demand.assign(region=regions.to_numpy()).groupby("region")["centrumstad"].any()
        for row, region in zip(f.itertuples(), fac_region):
            if row.size == "existing":  # where it is already: checked against its table row (verify_existing)
                continue
            if abs(sizes.get(row.size, -1) - row.area_m2) > 1e-6:
                violations.append(f"{prog.id} at {row.site_id}: area {row.area_m2} m² is not the {row.size} size")
            if params["size_rule"] == "programme" and prog.size_rule == "centrumstad":
                expected = "large" if city.get(region, False) else "small"
                if row.size != expected:
                    violations.append(f"{prog.id} in {region!r}: size {row.size}, the centrumstad rule says {expected}")
            site = cands.loc[row.site_id]
            if site["zone_type"] not in prog.zone_types:
                violations.append(f"{prog.id} at {row.site_id}: zone type {site['zone_type']} is not eligible")
            allowed_types = prog.types_for(row.size)
            if allowed_types and not any(bool(types.at[row.site_id, f"type_{t}"]) for t in allowed_types):
                violations.append(f"{prog.id} at {row.site_id}: type environment {types.at[row.site_id, 'type_environment']}"
                                  f" is not one of {list(allowed_types)}")
            if _truthy(site.get("reserve", False)) and not prog.may_use_reserve:
                violations.append(f"{prog.id} at {row.site_id}: reserve land is for storage/transhipment and banks only")
            if prog.sites_in_centrumstad and not bool(munis.at[str(site["nis"]), "centrumstad"]):
                violations.append(f"{prog.id} at {row.site_id}: not in a centrumstad")
            rule = effective_rule(rules, str(params["access_rules"]), prog.access_codes.get(row.size, ""), prog.id,
                                  params)
            if not mode_rule_ok(cands.loc[[row.site_id]], rule)[0]:
                violations.append(f"{prog.id} at {row.site_id}: breaks the {params['access_rules']} access rule "
                                  f"(knooppuntwaarde {float(cands.at[row.site_id, 'knooppuntwaarde']):.3f})")
        per_inh = inst.assumption(prog.demand_per_inhabitant)
        unit = a["demand_id"] if "demand_id" in a else a["nis"]
        served = a.groupby(unit)["share"].sum().reindex(demand.index, fill_value=0.0)
        tonnes = a.groupby(unit)["tonnes"].sum().reindex(demand.index, fill_value=0.0)
        expected_t = demand["population"].astype(float) * per_inh
        if prog.is_coverage:  # a coverage model may leave a unit unserved: the coverage rules say when
            checks.append(f"{prog.id}: every demand unit served at most once, with its full flow")
            whole = served.to_numpy() > 1e-6
            for nis in served.index[served.to_numpy() > 1 + 1e-6][:3]:
                violations.append(f"{prog.id}: demand unit {nis} served {served[nis]:.4f} times")
        else:
            checks.append(f"{prog.id}: every municipality served once with its full flow")
            whole = np.ones(len(served), bool)
            for nis in served.index[np.abs(served.to_numpy() - 1.0) > 1e-6][:3]:
                violations.append(f"{prog.id}: demand unit {nis} served {served[nis]:.4f} times")
        if not np.allclose(tonnes.to_numpy()[whole], expected_t.to_numpy()[whole], rtol=1e-6, atol=1e-6):
            violations.append(f"{prog.id}: allocated tonnes differ from population × {per_inh} t")
        assignment = prog.assignment if params["assignment"] == "programme" else params["assignment"]
        f = fac[fac["programme"] == prog.id]  # every facility of the programme, counted or not
        fac_by_id = f.set_index("facility_id")
        checks.append(f"{prog.id}: allocations point at listed facilities, on their sites")
        listed = a["facility_id"].isin(fac_by_id.index).to_numpy()
        for k in np.flatnonzero(~listed)[:3]:
            violations.append(f"{prog.id}: {a['municipality'].iloc[k]} is served by {a['facility_id'].iloc[k]}, "
                              "which is not an open facility")
        a = a[listed]
        wrong_site = a["site_id"].to_numpy() != fac_by_id.loc[a["facility_id"], "site_id"].to_numpy()
        for k in np.flatnonzero(wrong_site)[:3]:
            violations.append(f"{prog.id}: allocation of {a['municipality'].iloc[k]} names site {a['site_id'].iloc[k]}, "
                              f"its facility is at {fac_by_id.at[a['facility_id'].iloc[k], 'site_id']}")
        site_nis = cands["nis"].astype(str).reindex(f["site_id"]).to_numpy()
        for k in np.flatnonzero(site_nis != f["nis"].astype(str).to_numpy())[:3]:
            violations.append(f"{prog.id}: facility {f['facility_id'].iloc[k]} lies at {f['site_id'].iloc[k]} "
                              f"(municipality {site_nis[k]}), not in municipality {f['nis'].iloc[k]}")
        if params["single_source"]:
            checks.append(f"{prog.id}: single source")
            split = a.groupby(unit)["facility_id"].nunique()
            for nis in split.index[(split > 1).to_numpy()][:3]:
                violations.append(f"{prog.id}: municipality {nis} is split over {split[nis]} facilities")
        if assignment == "own_region":
            checks.append(f"{prog.id}: served inside own {prog.region}")
            own = regions.loc[unit.loc[a.index].astype(str)].to_numpy()
            theirs = muni_regions.loc[fac_by_id.loc[a["facility_id"], "nis"].astype(str)].to_numpy()
            for k in np.flatnonzero(own != theirs)[:3]:
                violations.append(f"{prog.id}: {a['municipality'].iloc[k]} is served outside its {prog.region}")
        if params["enforce_capacity"] and prog.capacity_per_m2:
            checks.append(f"{prog.id}: capacity")
            cap = f["area_m2"] * inst.assumption(prog.capacity_per_m2)
            load = a.groupby("facility_id")["tonnes"].sum().reindex(f["facility_id"], fill_value=0.0).to_numpy()
            new = (f["size"] != "existing").to_numpy()  # existing: their own capacity, in verify_existing
            for k in np.flatnonzero(new & (load > cap.to_numpy() * (1 + 1e-9) + 1e-6))[:3]:
                violations.append(f"{prog.id} at {f['site_id'].iloc[k]}: load {load[k]:.0f} t over capacity {cap.iloc[k]:.0f} t")
        if prog.is_coverage:
            check_coverage_rules(inst, prog, f, a, demand, regions, muni_regions, cands, tables.demand, checks,
                                 violations, types=types, rules=rules)
        checks.append(f"{prog.id}: transport cost recomputed from each route's km per mode and the named costs")
        m = demand.loc[unit.loc[a.index].astype(str), ["x", "y", "area_km2"]].to_numpy(float)
        cost, found = _route_costs(prog, a, m, cands.loc[a["site_id"], ["x", "y"]].to_numpy(float), inst)
        transport += cost
        violations += found

    checks.append("facility points inside their zone polygons")
    if "geometry" in cands:
        import shapely

        geom = cands["geometry"].reindex(fac["site_id"]).to_numpy(dtype=object)
        zone = np.array([g is not None and not isinstance(g, float) for g in geom], dtype=bool)
        if zone.any():
            inside = shapely.contains_xy(np.asarray(list(geom[zone]), dtype=object), fac["x"].to_numpy(float)[zone],
                                         fac["y"].to_numpy(float)[zone])
            for k in np.flatnonzero(~inside)[:3]:
                violations.append(f"facility {fac['facility_id'].to_numpy()[zone][k]} lies outside its zone "
                                  f"{fac['site_id'].to_numpy()[zone][k]}")

    checks.append("free land per site")
    taken = fac.groupby("site_id")["area_m2"].sum()
    free_m2 = cands.loc[taken.index, "free_ha"].astype(float) * 10_000.0
    for site in taken.index[(taken > free_m2 + 1e-6).to_numpy()]:
        violations.append(f"site {site}: {taken[site]:.0f} m² taken, {free_m2[site]:.0f} m² free")

    checks.append("greenfield: forbidden, allowed, or charged its penalty (S7)")
    green = np.array([_truthy(raw.at[sid, "greenfield"]) if "greenfield" in raw.columns else False
                      for sid in fac["site_id"]], dtype=bool)
    if green.any() and params["greenfield"] == "forbid":
        violations.append(f"facility on greenfield site {fac['site_id'].to_numpy()[green][0]} while greenfield is forbidden")
    penalty = (float(inst.assumption("greenfield_penalty_eur_per_m2")) * float(fac["area_m2"].to_numpy()[green].sum())
               if green.any() and params["greenfield"] == "penalty" else 0.0)

    existing_cost = 0.0
    if inst.existing is not None:
        more, wrong, existing_cost = verify_existing(inst, fac, alloc, year=year, annualise=annualise)
        checks += more
        violations += wrong

    checks.append("objective total")
    land = float(params["land_cost_eur_per_m2"]) * float(fac["area_m2"].sum())
    total = transport + land + penalty + existing_cost
    if np.isfinite(solution.objective) and abs(total - solution.objective) > 1e-6 * max(1.0, abs(total)):
        violations.append(f"objective {solution.objective:.4f} differs from recomputed {total:.4f}")
    return VerificationReport(total, checks, violations)
