"""Explain infeasibility in the instance's terms: which region, which programme, which rule.

:func:`presolve_checks` runs cheap counting checks before the solver starts; they name the arrondissement, the
programme and the rule that cannot be met (no eligible site and why, capacity below demand, land needed above free
land). When the solver still proves infeasibility, :func:`explain_infeasible` asks HiGHS for an irreducible
infeasible subsystem (IIS) of the LP relaxation and maps its rows back to count rules, facility capacities, sites
and municipalities; failing that it tells which parameters relax the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.geo.access_rules import effective_rule, load_mode_rules, mode_rule_ok
from optimizer.model.formulation import SitingProblem, region_of
from optimizer.model.rows import land_rows
from optimizer.problem import LocationProblem
from optimizer.settings import M2_PER_HA
from optimizer.solver.highs import new_highs
from optimizer.solver.matrices import build_matrices

MODE_WORDS = {"road": "road (motorway access)", "water": "water (CEMT waterway)", "rail": "rail (freight line)"}
IIS_TIME_LIMIT_S = 30.0
MAX_NAMED = 3  # names listed per category in one sentence


# ---------------------------------------------------------------------------------------------------------------
# Pre-solve checks
# ---------------------------------------------------------------------------------------------------------------
def presolve_checks(sp: SitingProblem) -> list[str]:
    """Reasons why ``sp`` cannot be solved, found without the solver (empty list: none found).

    Checks, per programme and region: enough eligible sites for the count rule (and, if not, which rule removes
    them: zone type, a required transport mode, free land, the size rule); every municipality can reach an
    eligible site; the best allowed facilities can carry the region's flow when capacity is enforced; the land
    the rule needs fits on the region's free land.
    """
    p, clients = sp.problem, sp.clients
    inst = sp.instance
    reasons: list[str] = []
    counts = p.counts.matrix.tocsr()
    by_name = {prog.id: prog for prog in inst.programmes}
    failed_regions: list[tuple[str, str]] = []
    for r, name in enumerate(p.counts.names):
        members = counts.indices[counts.indptr[r] : counts.indptr[r + 1]]
        if len(members) >= p.counts.lower[r]:
            continue
        pid = name.split(":", 1)[0]
        region = name.rsplit("'", 2)[-2] if name.count("'") >= 2 else None
        prog = by_name.get(pid)
        if prog is not None and region is not None:
            failed_regions.append((pid, region))
            reasons.append(_why_no_site(sp, prog, region, int(p.counts.lower[r]), len(members)))
        else:
            reasons.append(f"{name}: only {len(members)} eligible option(s), the rule needs {p.counts.lower[r]:g}")
    served = np.bincount(p.arc_client, minlength=p.n_clients)
    named = {(pid, reg) for pid, reg in failed_regions}
    stranded = clients.iloc[np.flatnonzero(served == 0)]
    keep = np.array([(pr, rg) not in named for pr, rg in zip(stranded["programme"], stranded["region"])], dtype=bool)
    stranded = stranded.loc[keep]
    for (pid, region), group in stranded.groupby(["programme", "region"], sort=True):
        names = ", ".join(group["name"].astype(str).iloc[:MAX_NAMED])
        more = f" and {len(group) - MAX_NAMED} more" if len(group) > MAX_NAMED else ""
        reasons.append(f"{pid}: {len(group)} municipality(ies) of '{region}' ({names}{more}) cannot reach any "
                       "eligible site; try --set assignment=any or add a candidate site in the region")
    if inst.parameters["enforce_capacity"]:
        reasons += _capacity_checks(sp)
    reasons += _land_checks(sp)
    return reasons


def _rule_of(sp: SitingProblem, prog, size: str) -> tuple[str, dict]:
    """The access rule the formulation applied to ``prog``'s ``size`` (with the run's minimum knooppuntwaarde)."""
    rule_set = str(sp.instance.parameters["access_rules"])
    code = prog.access_codes.get(size, f"{prog.id}_{size}")
    applied = getattr(sp, "rules", {}).get(f"{prog.id}:{size}")
    if applied is not None:
        return f"{rule_set}.{code}", applied
    rules = load_mode_rules() if rule_set != "none" else None
    return f"{rule_set}.{code}", effective_rule(rules, rule_set, code, prog.id, sp.instance.parameters)


def _describe_rule(rule: dict) -> str:
    parts = []
    if rule.get("required_modes"):
        parts.append(" + ".join(rule["required_modes"]))
    if rule.get("min_modes"):
        parts.append(f"at least {rule['min_modes']} modes")
    if rule.get("min_knooppuntwaarde"):
        source = " (set for this run)" if rule.get("min_knooppuntwaarde_source") else ""
        parts.append(f"knooppuntwaarde ≥ {rule['min_knooppuntwaarde']:g}{source}")
    if rule.get("seaport"):
        parts.append("in a seaport")
    return ", ".join(parts) or "no network requirement"


def _site_regions(sp: SitingProblem, prog) -> np.ndarray:
    """Region label of every candidate site for ``prog`` (the region of the site's municipality)."""
    inst = sp.instance
    variant = str(inst.parameters["size_variant"])
    try:
        regions = region_of(inst.demand, prog, variant)
    except TypeError:  # older signature without the size variant
        regions = region_of(inst.demand, prog)
    lookup = pd.Series(regions.to_numpy(), index=inst.demand["nis"].astype(str))
    lookup = lookup[~lookup.index.duplicated()]  # demand points: one region per municipality
    return lookup.reindex(sp.sites["nis"].astype(str)).to_numpy()


def _why_no_site(sp: SitingProblem, prog, region: str, need: int, have: int) -> str:
    """One sentence: the region, the count rule, and which rule removes its candidate sites.

    The filters of :func:`optimizer.model.formulation.compile_instance` are re-applied one at a time (zone type, type
    environment, transport-mode rule, free land, size rule) and the first one that leaves no site is named.
    """
    inst = sp.instance
    here = sp.sites[_site_regions(sp, prog) == region]
    unit = prog.region_for(str(inst.parameters["size_variant"])) if hasattr(prog, "region_for") else prog.region
    head = (f"{prog.id}: {unit} '{region}' needs {need} facility(ies) but only {have} of its "
            f"{len(here)} candidate site(s) qualify")
    if here.empty:
        return f"{head} — the region has no candidate site at all; add candidate sites there"
    type_ok = here["zone_type"].isin(prog.zone_types).to_numpy()
    if not type_ok.any():
        return (f"{head} — none has an eligible zone type ({', '.join(prog.zone_types)}; found "
                f"{', '.join(sorted(set(here['zone_type'])))}); add a site of an eligible zone type")
    sizes = prog.sizes_for(str(inst.parameters["size_variant"]))
    details, hints = [], []
    for size, area in sizes.items():
        area = float(sp.options.loc[(sp.options["programme"] == prog.id) & (sp.options["size"] == size),
                                    "area_m2"].max()) if ((sp.options["programme"] == prog.id)
                                                          & (sp.options["size"] == size)).any() else float(area)
        env_ok = np.ones(len(here), dtype=bool)
        allowed_types = prog.types_for(size) if hasattr(prog, "types_for") else ()
        if allowed_types and all(f"type_{t}" in here for t in allowed_types):
            env_ok = here[[f"type_{t}" for t in allowed_types]].to_numpy(bool).any(axis=1)
        rule_key, rule = _rule_of(sp, prog, size)
        access_ok = mode_rule_ok(here, rule) if rule else np.ones(len(here), dtype=bool)
        land_ok = here["free_ha"].to_numpy(float) * M2_PER_HA >= area
        green = (here["greenfield"].to_numpy(bool) if "greenfield" in here else np.zeros(len(here), dtype=bool))
        forbidden = green if inst.parameters.get("greenfield", "forbid") == "forbid" else np.zeros(len(here), bool)
        fits = type_ok & env_ok & access_ok & land_ok & ~forbidden
        green_would = (type_ok & env_ok & access_ok & land_ok & forbidden).any()
        green_hint = "greenfield candidates there are forbidden (reuse first): --set greenfield=penalty allows them"
        n_env, n_access = int((type_ok & env_ok).sum()), int((type_ok & env_ok & access_ok).sum())
        n_land = int(fits.sum())
        if n_env < need:
            details.append(f"{size}: {_count(n_env)} lie in an allowed type environment ({', '.join(allowed_types)})")
            hints.append("add a candidate site in an allowed type environment")
        elif n_access < need:
            details.append(f"{size}: the {rule_key} access rule requires {_describe_rule(rule)} and "
                           f"{_count(n_access)} {'meets' if n_access <= 1 else 'meet'} it"
                           f"{_rule_breakdown(here[type_ok & env_ok], rule)}")
            others = {k: v for k, v in rule.items() if k != "min_knooppuntwaarde"}
            kv_binding = bool(rule.get("min_knooppuntwaarde")) and int(
                (type_ok & env_ok & mode_rule_ok(here, others)).sum()) >= need
            hints.append(f"lower the minimum knooppuntwaarde ({rule['min_knooppuntwaarde']:g}) with --set "
                         f"min_knooppuntwaarde.{prog.id}=<value>" if kv_binding else
                         "try --set access_rules=loose or add a candidate site that meets the rule")
        elif n_land < need:
            others = {k: v for k, v in rule.items() if k != "min_knooppuntwaarde"}
            without_kv = int((type_ok & env_ok & mode_rule_ok(here, others) & land_ok & ~forbidden).sum())
            if rule.get("min_knooppuntwaarde") and without_kv >= need:
                details.append(f"{size}: the {rule_key} access rule requires {_describe_rule(rule)}: "
                               f"{_count(n_land)} meeting it {'has' if n_land <= 1 else 'have'} "
                               f"{area / M2_PER_HA:g} ha of free land, {without_kv} would without the minimum "
                               "knooppuntwaarde")
                hints.append(f"lower the minimum knooppuntwaarde ({rule['min_knooppuntwaarde']:g}) with --set "
                             f"min_knooppuntwaarde.{prog.id}=<value>")
            else:
                eligible = type_ok & env_ok & access_ok & ~forbidden
                largest = float(here.loc[eligible, "free_ha"].max()) if eligible.any() else 0.0
                details.append(f"{size}: {_count(n_land)} of the eligible sites {'has' if n_land <= 1 else 'have'} "
                               f"{area / M2_PER_HA:g} ha of free land for the {need} needed (largest {largest:.2f} ha)")
                hints.append(green_hint if green_would else
                             "try --set size_rule=free or size_variant=poster, or add free land")
        else:
            details.append(f"{size}: not allowed here by the size rule {prog.size_rule!r} or another site rule "
                           "(reserve land, centrumstad)")
            hints.append("try --set size_rule=free")
    return f"{head} — " + "; ".join(details) + "; " + "; ".join(dict.fromkeys(hints))


def _count(n: int) -> str:
    return "no site" if n == 0 else f"only {n} site(s)"


def _rule_breakdown(sites: pd.DataFrame, rule: dict) -> str:
    """Which part of an access rule the region's (otherwise eligible) sites fail: modes, seaport, knooppuntwaarde."""
    if sites.empty:
        return ""
    parts = [f"{int(np.sum(~sites[f'has_{m}'].to_numpy(bool)))} lack {MODE_WORDS.get(m, m)}"
             for m in rule.get("required_modes", []) if f"has_{m}" in sites]
    if rule.get("min_modes") and "n_modes" in sites:
        parts.append(f"{int(np.sum(sites['n_modes'].to_numpy(int) < int(rule['min_modes'])))} have fewer than "
                     f"{rule['min_modes']} modes")
    if rule.get("seaport") and "has_seaport" in sites:
        parts.append(f"{int(np.sum(~sites['has_seaport'].to_numpy(bool)))} lie outside the seaport areas")
    kv = float(rule.get("min_knooppuntwaarde") or 0.0)
    if kv and "knooppuntwaarde" in sites:
        values = sites["knooppuntwaarde"].to_numpy(float)
        others = mode_rule_ok(sites, {k: v for k, v in rule.items() if k != "min_knooppuntwaarde"})
        best = float(values[others].max()) if others.any() else float(values.max())
        parts.append(f"{int(np.sum(values < kv))} have a knooppuntwaarde below {kv:g} (highest"
                     f"{' among those meeting the mode rules' if others.any() else ''} {best:.3f})")
    return f"; of its {len(sites)} eligible site(s) {', '.join(parts)}" if parts else ""


def _capacity_checks(sp: SitingProblem) -> list[str]:
    inst, options, clients = sp.instance, sp.options, sp.clients
    reasons = []
    for prog in inst.programmes:
        opts = options[options["programme"] == prog.id]
        dem = clients[clients["programme"] == prog.id].groupby("region")["demand_t"].sum()
        assignment = prog.assignment if inst.parameters["assignment"] == "programme" else inst.parameters["assignment"]
        per = prog.per_region if prog.per_region is not None else prog.total_count
        if per is None:
            continue
        if assignment == "own_region":
            best = opts.groupby("region")["capacity_t"].apply(lambda c, k=per: np.sort(c.to_numpy())[::-1][:k].sum())
            for region, need in dem.items():
                have = float(best.get(region, 0.0))
                if need > have + 1e-6:
                    reasons.append(
                        f"{prog.id}: {prog.region} {region!r} needs {need:,.0f} t/yr but {per} facility(ies) of the "
                        f"allowed size handle at most {have:,.0f} t/yr (capacity assumption "
                        f"{prog.capacity_per_m2}); try --set size_rule=free or enforce_capacity=false"
                    )
        else:  # any facility may serve anyone: the capacity of all the facilities the count rules allow
            best = opts.groupby("region")["capacity_t"].apply(lambda c, k=per: np.sort(c.to_numpy())[::-1][:k].sum())
            need, have = float(dem.sum()), float(best.sum())
            if need > have + 1e-6:
                reasons.append(f"{prog.id}: all of Flanders needs {need:,.0f} t/yr but the allowed facilities handle "
                               f"at most {have:,.0f} t/yr; try --set size_rule=free or enforce_capacity=false")
    return reasons


def _land_checks(sp: SitingProblem) -> list[str]:
    """Land the count rules need in a region (smallest allowed size) against the free land of its sites."""
    p, options = sp.problem, sp.options
    if options.empty:
        return []
    reasons = []
    per_region_need = options.groupby(["programme", "region"])["area_m2"].min()
    need_by_region: dict[str, float] = {}
    progs_by_region: dict[str, list[str]] = {}
    for prog in sp.instance.programmes:
        per = prog.per_region if prog.per_region is not None else prog.total_count
        if per is None or prog.id not in per_region_need.index.get_level_values(0):
            continue
        for region, area in per_region_need.loc[prog.id].items():
            need_by_region[region] = need_by_region.get(region, 0.0) + per * float(area)
            progs_by_region.setdefault(region, []).append(prog.id)
    sites_of = options.groupby("region")["site"].unique()
    for region, need in need_by_region.items():
        free = float(np.sum(p.site_free_m2[sites_of[region]]))
        if need > free + 1e-6:
            reasons.append(f"region '{region}' ({', '.join(progs_by_region.get(region, []))}): the programmes need at "
                           f"least {need / M2_PER_HA:.2f} ha but its eligible "
                           f"sites have {free / M2_PER_HA:.2f} ha of free land; try --set size_variant=poster or add sites")
    land_need = options.groupby("site")["area_m2"].min()
    free = p.site_free_m2[land_need.index.to_numpy()]
    if len(land_need) and (land_need.to_numpy() > free).all():
        reasons.append("no candidate site has enough free land for any facility")
    return reasons


# ---------------------------------------------------------------------------------------------------------------
# After the solver
# ---------------------------------------------------------------------------------------------------------------
def explain_infeasible(sp: SitingProblem) -> list[str]:
    """Planner-readable explanation after the solver proved infeasibility."""
    reasons = presolve_checks(sp)
    if reasons:
        return reasons
    try:
        iis = iis_explanation(sp)
    except Exception:  # noqa: BLE001 - the analysis is a help, never a second failure
        iis = []
    generic = ("the rules cannot all hold together (no single region or site check fails on its own). Relax with "
               "--set enforce_capacity=false, size_rule=free, assignment=any or access_rules=loose and compare.")
    return [*iis, generic]


def iis_rows(problem: LocationProblem) -> dict[str, np.ndarray] | None:
    """Rows of an irreducible infeasible subsystem of the LP relaxation, per constraint family.

    Returns ``{"assign": client indices, "capacity": option indices, "counts": count-row indices, "land": site
    indices, ...}``, or ``None`` when the LP relaxation is feasible (the conflict is integral) or HiGHS finds none.
    """
    import highspy

    mm = build_matrices(problem, strengthen=False)
    h = new_highs()
    h.setOptionValue("iis_strategy", 2)  # elastic LP: measured to find small IISs where the dual ray finds none
    h.setOptionValue("iis_time_limit", IIS_TIME_LIMIT_S)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = mm.n_cols, mm.n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = mm.col_cost, mm.col_lower, mm.col_upper
    lp.row_lower_, lp.row_upper_ = mm.row_lower, mm.row_upper
    a = mm.matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
        return None
    status, iis = h.getIis()
    if status != highspy.HighsStatus.kOk or not iis.valid_ or not len(iis.row_index_):
        return None
    rows = np.asarray(iis.row_index_, dtype=np.int64)
    out = {name: rows[(rows >= sl.start) & (rows < sl.stop)] - sl.start for name, sl in mm.row_blocks.items()}
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    out["capacity"] = capped[out.get("capacity", np.zeros(0, int))]
    out["land"] = land_rows(problem).sites[out.get("land", np.zeros(0, int))]
    return out


def iis_explanation(sp: SitingProblem) -> list[str]:
    """The HiGHS IIS of the LP relaxation in the instance's terms (empty when it does not help)."""
    rows = iis_rows(sp.problem)
    if not rows:
        return []
    p = sp.problem
    parts = []
    if len(rows.get("counts", [])):
        parts.append("the count rule(s) " + "; ".join(f"'{p.counts.names[r]}'" for r in rows["counts"][:MAX_NAMED]))
    if len(rows.get("capacity", [])):
        opts = sp.options.iloc[rows["capacity"]]
        regions = sorted(set(opts["region"]))
        parts.append(f"the capacity of {len(opts)} facility option(s) in {', '.join(regions[:MAX_NAMED])}")
    if len(rows.get("land", [])):
        parts.append("the free land of site(s) " + ", ".join(map(str, p.site_ids[rows["land"]][:MAX_NAMED])))
    if len(rows.get("assign", [])):
        cl = sp.clients.iloc[rows["assign"]]
        total = float(cl["demand_t"].sum())
        names = ", ".join(cl["name"].astype(str).iloc[:MAX_NAMED])
        more = f" and {len(cl) - MAX_NAMED} more" if len(cl) > MAX_NAMED else ""
        parts.append(f"serving {len(cl)} municipality(ies) ({names}{more}; {total:,.0f} t/yr)")
    if not parts:
        return []
    return ["HiGHS infeasibility analysis (IIS of the LP relaxation): these cannot hold together: " + "; ".join(parts)]
