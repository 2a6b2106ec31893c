"""The plastics chain as a multi-echelon flow model (scenarios S2b, S5, S8): arrays in, HiGHS model out.

Echelons (digest §2.1, L10526-10600): municipalities (PMD collection) → sorting centres → mechanical recycling
(pre-treatment) → chemical recycling in the seaport. Import gateways (Belgium, European imports by water, cross-
border road gateways) feed the echelon their material enters. The existing Indaver sites are fixed facilities
(always open, no new land); new facilities are chosen among the eligible candidates.

Model (all flows in t/yr; ``y`` binary per facility, existing ones fixed to 1)::

    min  Σ_arcs cost_per_t · flow + land_cost · Σ_new area · y
    s.t. Σ_{collection arcs of i} flow = supply_i                    every municipality's PMD is sorted
         Σ_{import arcs of g} flow = supply_g                        every active gateway delivers its volume
         inflow_f ≤ capacity_f · y_f                                 capacity (and linking) per facility
         outflow_f = yield_f · inflow_f                              sorting and mechanical yields
         lo_e ≤ Σ_{new f in echelon e} y_f ≤ up_e                    how many new facilities per echelon
         Σ_{new f at site s} area_f · y_f ≤ free_s                   free land per site, shared by the echelons

:func:`verify_chain` recomputes every constraint and the objective from the solution, and every arc's cost per
tonne from coordinates, without reusing the model code.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.errors import InputError

ECHELONS = ("sorting", "mechanical", "chemical")
LEVELS = ("flanders", "belgium", "europe")
M2_PER_HA = 10_000.0
TOL = 1e-6


@dataclass
class CostModel:
    """Transport cost per tonne between two points (EUR/t): road, or water when both ends are on a waterway."""

    road_eur_per_tkm: float
    water_eur_per_tkm: float
    transhipment_eur_per_t: float
    circuity: float
    water_detour: float

    def per_t(self, d_km: np.ndarray, water_a: np.ndarray, water_b: np.ndarray, intrazonal_km: np.ndarray | float = 0.0,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cost per tonne, km travelled and whether the leg goes by water (vectorised)."""
        road_km = self.circuity * np.sqrt(d_km**2 + np.asarray(intrazonal_km) ** 2)
        road = self.road_eur_per_tkm * road_km
        water_km = self.water_detour * d_km
        water = np.where(water_a & water_b, self.water_eur_per_tkm * water_km + 2 * self.transhipment_eur_per_t, np.inf)
        by_water = water < road
        return np.where(by_water, water, road), np.where(by_water, water_km, road_km), by_water


@dataclass
class ChainProblem:
    """A multi-echelon chain in array form (see module docstring). Arcs are COO: ``arc_from``/``arc_to`` index
    into the node list of their family (clients or gateways → facilities, facilities → facilities)."""

    client_ids: np.ndarray
    supply_t: np.ndarray
    fac_ids: np.ndarray
    fac_echelon: np.ndarray  # 0 sorting, 1 mechanical, 2 chemical
    fac_site: np.ndarray
    fac_area_m2: np.ndarray
    fac_capacity_t: np.ndarray
    fac_existing: np.ndarray
    site_ids: np.ndarray
    site_free_m2: np.ndarray
    gw_ids: np.ndarray
    gw_supply_t: np.ndarray
    yields: np.ndarray  # per echelon: outflow / inflow (chemical: unused)
    new_count: np.ndarray  # (3, 2): lower, upper number of new facilities per echelon
    arc_kind: np.ndarray  # "collect" (client→fac), "import" (gateway→fac), "link" (fac→fac)
    arc_from: np.ndarray
    arc_to: np.ndarray
    arc_cost_per_t: np.ndarray
    arc_km: np.ndarray
    land_cost_per_m2: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def n_fac(self) -> int:
        return len(self.fac_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_kind)


@dataclass
class ChainSolution:
    open_fac: np.ndarray
    flow_t: np.ndarray
    objective: float
    bound: float
    status: str
    timings_s: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------
# Model: one sparse matrix, solved with HiGHS (highspy)
# ---------------------------------------------------------------------------------------------------------------
def _inflow_outflow(p: ChainProblem) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Incidence matrices (facilities × arcs) of flows into and out of each facility."""
    in_m = sp.csr_matrix((np.ones(p.n_arcs), (p.arc_to, np.arange(p.n_arcs))), shape=(p.n_fac, p.n_arcs))
    link = np.flatnonzero(p.arc_kind == "link")
    out_m = sp.csr_matrix((np.ones(len(link)), (p.arc_from[link], link)), shape=(p.n_fac, p.n_arcs))
    return in_m, out_m


def build_matrix(p: ChainProblem) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                           np.ndarray]:
    """Columns [y (facilities) | flow (arcs)]: cost, row matrix, row bounds, column bounds and integrality."""
    nf, na = p.n_fac, p.n_arcs
    cost = np.concatenate([np.where(p.fac_existing, 0.0, p.land_cost_per_m2 * p.fac_area_m2), p.arc_cost_per_t])
    in_m, out_m = _inflow_outflow(p)
    blocks, lo, up = [], [], []
    # supply rows: clients and gateways
    for kind, n, supply in (("collect", len(p.client_ids), p.supply_t), ("import", len(p.gw_ids), p.gw_supply_t)):
        arcs = np.flatnonzero(p.arc_kind == kind)
        a = sp.csr_matrix((np.ones(len(arcs)), (p.arc_from[arcs], arcs)), shape=(n, na))
        blocks.append(sp.hstack([sp.csr_matrix((n, nf)), a]))
        lo.append(supply)
        up.append(supply)
    # capacity: inflow - cap*y <= 0
    blocks.append(sp.hstack([sp.diags(-p.fac_capacity_t), in_m]))
    lo.append(np.full(nf, -np.inf))
    up.append(np.zeros(nf))
    # yield balance at sorting and mechanical facilities: outflow - yield*inflow = 0
    passes = np.flatnonzero(p.fac_echelon < 2)
    bal = (out_m - sp.diags(p.yields[p.fac_echelon]) @ in_m)[passes]
    blocks.append(sp.hstack([sp.csr_matrix((len(passes), nf)), bal]))
    lo.append(np.zeros(len(passes)))
    up.append(np.zeros(len(passes)))
    # strong linking (the CFLP tightening): flow on an arc ≤ its upper bound · y of the facilities it touches
    ub = _arc_upper_bounds(p)
    for end in ("to", "from"):
        arcs = np.arange(na) if end == "to" else np.flatnonzero(p.arc_kind == "link")
        fac_of = p.arc_to[arcs] if end == "to" else p.arc_from[arcs]
        keep = np.isfinite(ub[arcs]) & ~p.fac_existing[fac_of]
        arcs, fac_of = arcs[keep], fac_of[keep]
        n = len(arcs)
        link_rows = sp.hstack([sp.csr_matrix((-ub[arcs], (np.arange(n), fac_of)), shape=(n, nf)),
                               sp.csr_matrix((np.ones(n), (np.arange(n), arcs)), shape=(n, na))])
        blocks.append(link_rows)
        lo.append(np.full(n, -np.inf))
        up.append(np.zeros(n))
    # counts of new facilities per echelon
    new = ~p.fac_existing
    rows = [np.flatnonzero(new & (p.fac_echelon == e)) for e in range(3)]
    c = sp.csr_matrix((np.ones(sum(len(r) for r in rows)), (np.repeat(np.arange(3), [len(r) for r in rows]),
                                                           np.concatenate(rows))), shape=(3, nf))
    blocks.append(sp.hstack([c, sp.csr_matrix((3, na))]))
    lo.append(p.new_count[:, 0])
    up.append(p.new_count[:, 1])
    # land per site (new facilities only)
    nn = np.flatnonzero(new)
    land = sp.csr_matrix((p.fac_area_m2[nn], (p.fac_site[nn], nn)), shape=(len(p.site_ids), nf))
    blocks.append(sp.hstack([land, sp.csr_matrix((len(p.site_ids), na))]))
    lo.append(np.full(len(p.site_ids), -np.inf))
    up.append(p.site_free_m2)
    matrix = sp.vstack(blocks).tocsr()
    col_lo = np.concatenate([np.where(p.fac_existing, 1.0, 0.0), np.zeros(na)])
    col_up = np.concatenate([np.ones(nf), np.full(na, np.inf)])
    integer = np.concatenate([np.ones(nf, dtype=bool), np.zeros(na, dtype=bool)])
    return cost, matrix, np.concatenate(lo), np.concatenate(up), col_lo, col_up, integer


def _arc_upper_bounds(p: ChainProblem) -> np.ndarray:
    """Largest flow an arc can carry: its source's supply, or the smaller of the two facilities' capacities."""
    ub = np.minimum(p.fac_capacity_t[p.arc_to], np.inf)
    collect, imp, link = (p.arc_kind == k for k in ("collect", "import", "link"))
    ub[collect] = np.minimum(ub[collect], p.supply_t[p.arc_from[collect]])
    ub[imp] = np.minimum(ub[imp], p.gw_supply_t[p.arc_from[imp]])
    src = p.arc_from[link]
    ub[link] = np.minimum(ub[link], p.fac_capacity_t[src] * p.yields[p.fac_echelon[src]])
    return ub


def solve_chain(p: ChainProblem, time_limit_s: float = 300.0, mip_gap: float = 1e-6) -> ChainSolution:
    """Build and solve the chain MIP with HiGHS."""
    import time

    import highspy

    t0 = time.perf_counter()
    cost, a, row_lo, row_up, col_lo, col_up, integer = build_matrix(p)
    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = col_lo, np.where(np.isfinite(col_up), col_up, inf)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_up), row_up, inf)
    csc = a.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr
    lp.a_matrix_.index_ = csc.indices
    lp.a_matrix_.value_ = csc.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(status).lower()
    has = info.primal_solution_status == 2
    if status == highspy.HighsModelStatus.kOptimal:
        st = "optimal"
    elif status == highspy.HighsModelStatus.kInfeasible:
        st = "infeasible"
    elif has:
        st = "feasible"
    else:
        st = "no_solution" if "time" in name else name
    x = np.asarray(h.getSolution().col_value) if has else np.zeros(a.shape[1])
    y = x[: p.n_fac] > 0.5
    flow = np.maximum(x[p.n_fac :], 0.0)
    obj = float(info.objective_function_value) if has else float("nan")
    bound = float(info.mip_dual_bound) if has else float("-inf")
    return ChainSolution(y, flow, obj, bound, st, {"build": t1 - t0, "solve": time.perf_counter() - t1})


# ---------------------------------------------------------------------------------------------------------------
# Independent verifier
# ---------------------------------------------------------------------------------------------------------------
def verify_chain(p: ChainProblem, s: ChainSolution, coords: dict | None = None, costs: CostModel | None = None,
                 ) -> list[str]:
    """Every constraint and the objective recomputed from the solution (loops, not the model's matrices).

    With ``coords`` (``{"clients": xy, "facilities": xy, "gateways": xy, "fac_water": bool, "gw_water": bool,
    "intrazonal_km": km}``) and ``costs``, each used arc's cost per tonne is also recomputed from coordinates.
    Returns the violations (empty when the solution is valid).
    """
    v: list[str] = []
    y, f = np.asarray(s.open_fac, bool), np.asarray(s.flow_t, float)
    if np.any(f < -TOL):
        v.append("a negative flow")
    inflow, outflow = np.zeros(p.n_fac), np.zeros(p.n_fac)
    sent = {"collect": np.zeros(len(p.client_ids)), "import": np.zeros(len(p.gw_ids))}
    for k in range(p.n_arcs):
        if f[k] <= TOL:
            continue
        inflow[p.arc_to[k]] += f[k]
        if p.arc_kind[k] == "link":
            outflow[p.arc_from[k]] += f[k]
            if p.fac_echelon[p.arc_to[k]] != p.fac_echelon[p.arc_from[k]] + 1:
                v.append(f"flow {p.fac_ids[p.arc_from[k]]}→{p.fac_ids[p.arc_to[k]]} skips or reverses an echelon")
        else:
            sent[p.arc_kind[k]][p.arc_from[k]] += f[k]
            if p.arc_kind[k] == "collect" and p.fac_echelon[p.arc_to[k]] != 0:
                v.append(f"municipal PMD goes to {p.fac_ids[p.arc_to[k]]}, not to a sorting centre")
    for kind, ids, supply in (("collect", p.client_ids, p.supply_t), ("import", p.gw_ids, p.gw_supply_t)):
        for i in np.flatnonzero(np.abs(sent[kind] - supply) > TOL * np.maximum(1.0, supply)):
            v.append(f"{ids[i]} sends {sent[kind][i]:.3f} t, its supply is {supply[i]:.3f} t")
    for j in range(p.n_fac):
        cap = p.fac_capacity_t[j] if y[j] else 0.0
        if inflow[j] > cap + TOL * max(1.0, cap):
            v.append(f"{p.fac_ids[j]} receives {inflow[j]:.1f} t, capacity {cap:.1f} t (open: {bool(y[j])})")
        if p.fac_echelon[j] < 2:
            want = p.yields[p.fac_echelon[j]] * inflow[j]
            if abs(outflow[j] - want) > TOL * max(1.0, want):
                v.append(f"{p.fac_ids[j]} sends on {outflow[j]:.3f} t, yield says {want:.3f} t")
        if p.fac_existing[j] and not y[j]:
            v.append(f"existing facility {p.fac_ids[j]} is closed")
    for e in range(3):
        n = int(sum(1 for j in range(p.n_fac) if y[j] and not p.fac_existing[j] and p.fac_echelon[j] == e))
        lo, up = p.new_count[e]
        if not lo - TOL <= n <= up + TOL:
            v.append(f"{n} new {ECHELONS[e]} facilities, allowed {lo:g}..{up:g}")
    used = {}
    for j in range(p.n_fac):
        if y[j] and not p.fac_existing[j]:
            used[p.fac_site[j]] = used.get(p.fac_site[j], 0.0) + p.fac_area_m2[j]
    for site, m2 in used.items():
        if m2 > p.site_free_m2[site] + TOL:
            v.append(f"site {p.site_ids[site]}: {m2:.0f} m² new, {p.site_free_m2[site]:.0f} m² free")
    if coords is not None and costs is not None:
        for k in np.flatnonzero(f > TOL):
            a_xy = {"collect": coords["clients"], "import": coords["gateways"], "link": coords["facilities"]}[p.arc_kind[k]]
            a_w = {"collect": np.zeros(len(coords["clients"]), bool), "import": coords["gw_water"],
                   "link": coords["fac_water"]}[p.arc_kind[k]]
            fa, ta = a_xy[p.arc_from[k]], coords["facilities"][p.arc_to[k]]
            d = float(np.hypot(fa[0] - ta[0], fa[1] - ta[1])) / 1000.0
            r = coords["intrazonal_km"][p.arc_from[k]] if p.arc_kind[k] == "collect" else 0.0
            road = costs.road_eur_per_tkm * costs.circuity * (d * d + r * r) ** 0.5
            c = road
            if a_w[p.arc_from[k]] and coords["fac_water"][p.arc_to[k]]:
                c = min(road, costs.water_eur_per_tkm * costs.water_detour * d + 2 * costs.transhipment_eur_per_t)
            if abs(c - p.arc_cost_per_t[k]) > 1e-6 * max(1.0, c):
                v.append(f"arc {k}: cost {p.arc_cost_per_t[k]:.4f} EUR/t, recomputed {c:.4f}")
    total = sum(float(p.arc_cost_per_t[k] * f[k]) for k in range(p.n_arcs) if f[k] > 0)
    total += sum(p.land_cost_per_m2 * float(p.fac_area_m2[j]) for j in range(p.n_fac) if y[j] and not p.fac_existing[j])
    if np.isfinite(s.objective) and abs(total - s.objective) > 1e-6 * max(1.0, abs(total)):
        v.append(f"objective {s.objective:.4f} differs from recomputed {total:.4f}")
    return v


def brute_force_chain(p: ChainProblem) -> float:
    """Optimal objective of a tiny chain by enumerating every set of new facilities and solving the flow LP.

    Independent of the MIP search: for each open set the facility columns are fixed, moved to the right-hand side
    of the model's rows, and the remaining flow LP is solved with scipy. Returns ``inf`` when infeasible.
    """
    from scipy.optimize import linprog

    _, a, lo, up, *_ = build_matrix(p)
    a = a.toarray()
    a_y, a_flow = a[:, : p.n_fac], a[:, p.n_fac :]
    has_flow = np.abs(a_flow).sum(axis=1) > 0
    new = np.flatnonzero(~p.fac_existing)
    best = np.inf
    for bits in itertools.product([0, 1], repeat=len(new)):
        y = p.fac_existing.astype(float)
        y[new] = np.array(bits, dtype=float)
        rhs = a_y @ y
        # rows without flow (counts, land) are checks on y alone
        if ((rhs < lo - 1e-9) | (rhs > up + 1e-9))[~has_flow].any():
            continue
        lo_f, up_f, rows = (lo - rhs)[has_flow], (up - rhs)[has_flow], a_flow[has_flow]
        eq = np.isclose(lo_f, up_f)
        upper, lower = ~eq & np.isfinite(up_f), ~eq & np.isfinite(lo_f)
        a_ub = np.vstack([rows[upper], -rows[lower]])
        b_ub = np.concatenate([up_f[upper], -lo_f[lower]])
        res = linprog(p.arc_cost_per_t, A_ub=a_ub if len(b_ub) else None, b_ub=b_ub if len(b_ub) else None,
                      A_eq=rows[eq] if eq.any() else None, b_eq=lo_f[eq] if eq.any() else None, bounds=(0, None),
                      method="highs")
        if res.status == 0:
            fixed = p.land_cost_per_m2 * float(p.fac_area_m2[new] @ y[new])
            best = min(best, fixed + float(res.fun))
    return best


# ---------------------------------------------------------------------------------------------------------------
# From a named instance
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class CompiledChain:
    problem: ChainProblem
    facilities: pd.DataFrame
    gateways: pd.DataFrame
    clients: pd.DataFrame
    coords: dict
    costs: CostModel
    spec: dict


def _spec(instance: "Instance") -> tuple["Programme", dict]:  # noqa: F821
    from optimizer.programmes import _read_toml

    progs = [p for p in instance.programmes if p.kind == "chain"]
    if len(progs) != 1 or len(instance.programmes) != 1:
        raise InputError("a chain instance places exactly one chain programme", file=instance.path,
                         field="programmes.place")
    return progs[0], _read_toml(Path(progs[0].file)).get("chain", {})


def compile_chain(instance: "Instance") -> CompiledChain:  # noqa: F821
    """Arrays of the chain for a named instance: eligible candidates per echelon, existing sites, gateways."""
    from optimizer.distances import equivalent_radius_km
    from optimizer.formulation import site_access
    from optimizer.networks import load_mode_rules, mode_rule_ok, programme_rule
    from optimizer.typology import classify_instance, eligible

    prog, spec = _spec(instance)
    params = instance.parameters
    variant = str(params["size_variant"])
    vspec = spec.get("variants", {}).get(variant, {}) if variant != "final" else {}
    if variant != "final" and variant not in spec.get("variants", {}):
        raise InputError(f"the chain has no variant {variant!r}; known: final, {', '.join(spec.get('variants', {}))}",
                         file=prog.file, field="chain.variants")
    demand = instance.demand
    cands = instance.candidates.copy()
    cands = cands.join(site_access(instance))
    cands = cands.join(classify_instance(instance, cands))
    rules = load_mode_rules() if params["access_rules"] != "none" else None
    free_m2 = cands["free_ha"].to_numpy(float) * M2_PER_HA
    site_index = pd.Series(np.arange(len(cands)), index=cands["site_id"])

    rows = []
    for e, name in enumerate(ECHELONS):
        ech = spec[name]
        area = float(ech["area_m2"])
        if "capacity_t" in ech:
            cap = float(vspec.get(f"{name}_capacity_t", ech["capacity_t"]))
        else:
            cap = area * instance.assumption(ech["capacity_per_m2"])
        ok = cands["zone_type"].isin(prog.zone_types).to_numpy().copy()
        ok &= eligible(cands, ech.get("type_environments", []))
        if ech.get("not_in_seaport"):
            ok &= ~cands["type_seaport"].to_numpy(bool)
        if rules is not None:
            ok &= mode_rule_ok(cands, programme_rule(rules, str(params["access_rules"]), ech["access_code"]))
        ok &= free_m2 >= area
        for s in np.flatnonzero(ok):
            rows.append({"facility_id": f"{name}:{cands.at[s, 'site_id']}", "name": f"new {name} at {cands.at[s, 'name']}",
                         "echelon": e, "site": s, "area_m2": area, "capacity_t": cap, "existing": False,
                         "source": ech.get("source", "")})
    for k, ex in enumerate(spec.get("existing", [])):
        e = ECHELONS.index(ex["echelon"])
        if ex["site_id"] not in site_index:
            raise InputError(f"existing facility {ex['name']!r} names site {ex['site_id']!r}, not in the candidates",
                             file=prog.file, field="chain.existing")
        ech = spec[ex["echelon"]]
        area = float(ex.get("area_m2", ech["area_m2"]))
        if "capacity_t" in ex:
            cap = float(ex["capacity_t"])
        elif "capacity_t" in ech:
            cap = float(vspec.get(f"{ex['echelon']}_capacity_t", ech["capacity_t"]))
        else:
            cap = area * instance.assumption(ech["capacity_per_m2"])
        rows.append({"facility_id": f"existing{k}:{ex['site_id']}", "name": ex["name"], "echelon": e,
                     "site": int(site_index[ex["site_id"]]), "area_m2": area, "capacity_t": cap, "existing": True,
                     "source": ex.get("source", "")})
    fac = pd.DataFrame(rows)
    fac["site_id"] = cands["site_id"].to_numpy()[fac["site"]]
    fac["x"] = cands["x"].to_numpy()[fac["site"]]
    fac["y"] = cands["y"].to_numpy()[fac["site"]]
    fac["has_water"] = cands["has_water"].to_numpy(bool)[fac["site"]]
    fac["type_environment"] = cands["type_environment"].to_numpy()[fac["site"]]

    # gateways active at the ambition level (S5) and cross-border switch (S8)
    ambition = str(params["chain_ambition"])  # scenario parameters (S5, S8), checked by optimizer.instance
    crossborder = bool(params["chain_crossborder"])
    gws = []
    for g in spec.get("gateways", []):
        if LEVELS.index(g["level"]) > LEVELS.index(ambition) or (g.get("crossborder") and not crossborder):
            continue
        gws.append({"gateway": g["name"], "x": float(g["x"]), "y": float(g["y"]), "stage": ECHELONS.index(g["stage"]),
                    "supply_t": instance.assumption(g["supply"]) * float(g.get("share", 1.0)),
                    "water": bool(g.get("water", False)), "source": g.get("source", "")})
    gw = pd.DataFrame(gws, columns=["gateway", "x", "y", "stage", "supply_t", "water", "source"])

    costs = CostModel(float(instance.assumption("cost_road_eur_per_tkm")), float(instance.assumption("cost_water_eur_per_tkm")),
                      float(instance.assumption("transhipment_eur_per_t")), float(instance.assumption("access_circuity")),
                      float(instance.assumption("link_detour_water")))
    cxy, fxy = demand[["x", "y"]].to_numpy(float), fac[["x", "y"]].to_numpy(float)
    gxy = gw[["x", "y"]].to_numpy(float) if len(gw) else np.zeros((0, 2))
    intrazonal = float(instance.assumption("intrazonal_distance_factor")) * equivalent_radius_km(demand["area_km2"].to_numpy(float))
    fwater = fac["has_water"].to_numpy(bool)
    kinds, frm, to, cpt, km = [], [], [], [], []

    def add(kind: str, a_xy: np.ndarray, a_w: np.ndarray, src: np.ndarray, dst: np.ndarray, intra: np.ndarray | float) -> None:
        d = np.hypot(a_xy[src, 0] - fxy[dst, 0], a_xy[src, 1] - fxy[dst, 1]) / 1000.0
        c, k, _ = costs.per_t(d, a_w[src], fwater[dst], intra)
        kinds.append(np.full(len(src), kind, dtype=object))
        frm.append(src)
        to.append(dst)
        cpt.append(c)
        km.append(k)

    ech = fac["echelon"].to_numpy()
    sort_f, mech_f, chem_f = (np.flatnonzero(ech == e) for e in range(3))
    ci, fj = np.meshgrid(np.arange(len(demand)), sort_f, indexing="ij")
    add("collect", cxy, np.zeros(len(cxy), bool), ci.ravel(), fj.ravel(), intrazonal[ci.ravel()])
    for a_set, b_set in ((sort_f, mech_f), (mech_f, chem_f)):
        ai, bj = np.meshgrid(a_set, b_set, indexing="ij")
        add("link", fxy, fwater, ai.ravel(), bj.ravel(), 0.0)
    for g in range(len(gw)):
        dst = {1: mech_f, 2: chem_f, 0: sort_f}[int(gw["stage"].iloc[g])]
        add("import", gxy, gw["water"].to_numpy(bool), np.full(len(dst), g), dst, 0.0)
    new_counts = np.array([
        [float(vspec.get("sorting_new_count", spec["sorting"]["new_count"]))] * 2,
        [0.0, float(spec["mechanical"].get("max_new", 0))],
        [0.0, float(spec["chemical"].get("max_new", 0))],
    ])
    supply = demand["population"].to_numpy(float) * instance.assumption(prog.demand_per_inhabitant)
    problem = ChainProblem(
        client_ids=demand["name"].to_numpy(), supply_t=supply,
        fac_ids=fac["facility_id"].to_numpy(), fac_echelon=ech, fac_site=fac["site"].to_numpy(int),
        fac_area_m2=fac["area_m2"].to_numpy(float), fac_capacity_t=fac["capacity_t"].to_numpy(float),
        fac_existing=fac["existing"].to_numpy(bool), site_ids=cands["site_id"].to_numpy(), site_free_m2=free_m2,
        gw_ids=gw["gateway"].to_numpy(), gw_supply_t=gw["supply_t"].to_numpy(float),
        yields=np.array([instance.assumption(spec["sorting"]["yield_to_next"]),
                         instance.assumption(spec["mechanical"]["yield_to_next"]), 0.0]),
        new_count=new_counts,
        arc_kind=np.concatenate(kinds).astype(str), arc_from=np.concatenate(frm).astype(int),
        arc_to=np.concatenate(to).astype(int), arc_cost_per_t=np.concatenate(cpt), arc_km=np.concatenate(km),
        land_cost_per_m2=float(params["land_cost_eur_per_m2"]),
    )
    coords = {"clients": cxy, "facilities": fxy, "gateways": gxy, "fac_water": fwater,
              "gw_water": gw["water"].to_numpy(bool), "intrazonal_km": intrazonal}
    clients = pd.DataFrame({"nis": demand["nis"], "name": demand["name"], "x": cxy[:, 0], "y": cxy[:, 1], "supply_t": supply})
    return CompiledChain(problem, fac, gw, clients, coords, costs, spec)


# ---------------------------------------------------------------------------------------------------------------
# Run: solve, verify, tables, export
# ---------------------------------------------------------------------------------------------------------------
def result_tables(cc: CompiledChain, s: ChainSolution) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open facilities (with load, utilisation, new land) and flows (one row per used arc)."""
    p = cc.problem
    used = np.flatnonzero(s.flow_t > 1e-6)
    inflow = np.bincount(p.arc_to[used], weights=s.flow_t[used], minlength=p.n_fac)
    fac = cc.facilities.assign(open=s.open_fac, inflow_t=inflow)
    fac = fac[fac["open"]].drop(columns=["open"]).reset_index(drop=True)
    fac["echelon"] = np.asarray(ECHELONS)[fac["echelon"].to_numpy(int)]
    fac["utilisation"] = fac["inflow_t"] / fac["capacity_t"]
    fac["new_land_ha"] = np.where(fac["existing"], 0.0, fac["area_m2"] / M2_PER_HA)
    src_xy = {"collect": cc.coords["clients"], "import": cc.coords["gateways"], "link": cc.coords["facilities"]}
    src_name = {"collect": cc.clients["name"].to_numpy(), "import": cc.gateways["gateway"].to_numpy(),
                "link": cc.facilities["facility_id"].to_numpy()}
    flows = pd.DataFrame({
        "kind": p.arc_kind[used],
        "from": [src_name[k][i] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "to": cc.facilities["facility_id"].to_numpy()[p.arc_to[used]],
        "tonnes": s.flow_t[used], "km": p.arc_km[used], "eur_per_t": p.arc_cost_per_t[used],
        "x": [src_xy[k][i, 0] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "y": [src_xy[k][i, 1] for k, i in zip(p.arc_kind[used], p.arc_from[used])],
        "x2": cc.coords["facilities"][p.arc_to[used], 0], "y2": cc.coords["facilities"][p.arc_to[used], 1],
    })
    flows["cost_eur"] = flows["tonnes"] * flows["eur_per_t"]
    return fac, flows


def run_chain(name_or_path: str | Path, overrides: dict[str, str] | None = None, out_dir: Path | None = None,
              time_limit_s: float | None = None) -> dict:
    """Load, compile, solve, verify and (optionally) export a chain instance; returns the summary."""
    from optimizer.diagnose import InfeasibleError
    from optimizer.export import versions
    from optimizer.instance import load_instance
    from optimizer.pipeline import NoSolutionError
    from optimizer.verify import VerificationError

    inst = load_instance(name_or_path, overrides or {})
    cc = compile_chain(inst)
    limit = float(inst.parameters["time_limit_s"]) if time_limit_s is None else time_limit_s
    sol = solve_chain(cc.problem, limit, float(inst.parameters["mip_gap"]))
    if sol.status == "infeasible":
        p = cc.problem
        need = p.supply_t.sum() * p.yields[0]
        raise InfeasibleError([f"the chain cannot process its flows: {p.supply_t.sum():,.0f} t PMD, {need:,.0f} t "
                               f"to mechanical recycling plus {p.gw_supply_t.sum():,.0f} t imports, with at most "
                               f"{p.new_count[1, 1]:g} new mechanical and {p.new_count[2, 1]:g} new chemical plants"])
    if sol.status not in ("optimal", "feasible"):
        raise NoSolutionError(f"no feasible chain solution within {limit:g} s (status {sol.status})")
    violations = verify_chain(cc.problem, sol, cc.coords, cc.costs)
    if violations:
        raise VerificationError(violations)
    fac, flows = result_tables(cc, sol)
    p = cc.problem
    summary = {
        "instance": inst.name, "title": inst.title, "status": sol.status,
        "gap": (max(0.0, (sol.objective - sol.bound) / max(abs(sol.objective), 1e-9)) if math.isfinite(sol.bound)
                else None),  # no proven bound: no gap to claim
        "objective_eur_per_yr": sol.objective,
        "transport_eur_per_yr": float(flows["cost_eur"].sum()),
        "land_cost_eur_per_yr": float(sol.objective - flows["cost_eur"].sum()),
        "new_land_take_ha": float(fac["new_land_ha"].sum()),
        "land_take_per_echelon_ha": fac.groupby("echelon")["new_land_ha"].sum().round(4).to_dict(),
        "facilities_per_echelon": {e: {"existing": int(((fac["echelon"] == e) & fac["existing"]).sum()),
                                       "new": int(((fac["echelon"] == e) & ~fac["existing"]).sum())} for e in ECHELONS},
        "tonnes": {"pmd_collected": float(p.supply_t.sum()), "imports": float(p.gw_supply_t.sum()),
                   "into_mechanical": float(fac.loc[fac["echelon"] == "mechanical", "inflow_t"].sum()),
                   "into_chemical": float(fac.loc[fac["echelon"] == "chemical", "inflow_t"].sum())},
        "ambition": str(inst.parameters["chain_ambition"]),
        "crossborder": bool(inst.parameters["chain_crossborder"]),
        "parameters": inst.parameters,
        "assumptions": {k: a.value for k, a in inst.assumptions.items() if k.startswith(("chain_", "pmd_", "sorting_", "cost_", "transhipment"))},
        "verification": {"passed": True, "checks": ["supply", "imports", "capacity", "yields", "echelon order",
                                                     "existing open", "new counts", "free land", "arc costs from coordinates",
                                                     "objective"]},
        "timings_s": sol.timings_s,
        # the run manifest, as for every solve: what was solved, with which inputs and software, how well
        "bound": sol.bound if math.isfinite(sol.bound) else None,
        "solver": "highs",
        "instance_hash": inst.content_hash(),
        "versions": versions(),
    }
    if out_dir is not None:
        write_chain(Path(out_dir), fac, flows, summary)
        summary["out_dir"] = str(out_dir)
    return summary


def write_chain(out_dir: Path, fac: pd.DataFrame, flows: pd.DataFrame, summary: dict) -> Path:
    """GeoPackage (EPSG:31370: facilities, flows), CSVs and summary.json, written atomically."""
    import geopandas as gpd
    import shapely

    from optimizer.atomic import atomic_directory
    from optimizer.settings import CRS

    with atomic_directory(Path(out_dir)) as tmp:
        gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac["x"], fac["y"]), crs=CRS).to_file(
            tmp / "result.gpkg", layer="facilities", driver="GPKG")
        lines = shapely.linestrings(np.stack([flows[["x", "y"]].to_numpy(), flows[["x2", "y2"]].to_numpy()], axis=1))
        gpd.GeoDataFrame(flows, geometry=lines, crs=CRS).to_file(tmp / "result.gpkg", layer="flows", driver="GPKG")
        fac.to_csv(tmp / "facilities.csv", index=False)
        flows.to_csv(tmp / "flows.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return out_dir
