"""Independent checks of a plastics-chain solution: every constraint and the objective recomputed with loops.

:func:`verify_chain` does not reuse the model's matrices; :func:`brute_force_chain` solves tiny chains by
enumeration (for the tests' cross-check of the MIP).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from optimizer.model.chain import ECHELONS, ChainProblem, ChainSolution, CostModel, build_matrix

if TYPE_CHECKING:
    from optimizer.data.instance import Instance
    from optimizer.model.chain_compile import CompiledChain

TOL = 1e-6


def verify_chain(p: ChainProblem, s: ChainSolution, coords: dict | None = None, costs: CostModel | None = None,
                 routes: dict | None = None) -> list[str]:
    """Every constraint and the objective recomputed from the solution (loops, not the model's matrices).

    With ``coords`` (``{"clients": xy, "facilities": xy, "gateways": xy, "fac_water": bool, "gw_water": bool,
    "intrazonal_km": km}``) and ``costs`` (a straight-line :class:`CostModel`), each used arc's cost per tonne is also
    recomputed from coordinates. With ``routes`` (network costs: ``{"split": (n_arcs, 4) road/water/rail km and
    transhipments of the used arcs' routes, "rates": EUR per t·km per mode and per transhipment, "modes": the modes
    each arc may use}``) each used arc's cost is recomputed from its route, and the route is checked: only allowed
    modes, an even number of mode changes, never shorter than the straight line (with ``coords``).
    Returns the violations (empty when the solution is valid).
    """
    v: list[str] = []
    y, f = np.asarray(s.open_fac, bool), np.asarray(s.flow_t, float)
    if np.any(f < -TOL):
        v.append("a negative flow")
    n_streams = len(p.shares)
    inflow = np.zeros(p.n_fac)
    in_k, out_k = np.zeros((p.n_fac, n_streams)), np.zeros((p.n_fac, n_streams))
    sent = {"collect": np.zeros(len(p.client_ids)), "import": np.zeros(len(p.gw_ids))}
    streams, takes = p.arc_streams, p.fac_streams
    for k in range(p.n_arcs):
        if f[k] <= TOL:
            continue
        inflow[p.arc_to[k]] += f[k]
        if streams[k] >= 0:
            in_k[p.arc_to[k], streams[k]] += f[k]
            if takes[p.arc_to[k]] >= 0 and takes[p.arc_to[k]] != streams[k]:
                v.append(f"{p.fac_ids[p.arc_to[k]]} takes {p.stream_ids[takes[p.arc_to[k]]]} only, receives "
                         f"{f[k]:.1f} t of {p.stream_ids[streams[k]]}")
        elif p.fac_echelon[p.arc_to[k]] != 0:
            v.append(f"unsorted PMD goes to {p.fac_ids[p.arc_to[k]]}, not to a sorting centre")
        if p.arc_kind[k] == "link":
            if streams[k] >= 0:
                out_k[p.arc_from[k], streams[k]] += f[k]
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
        for s_ in range(n_streams if p.fac_echelon[j] < 2 else 0):
            # sorting: a share of all it receives leaves as bales of each stream; mechanical: per stream
            basis = p.shares[s_] * inflow[j] if p.fac_echelon[j] == 0 else in_k[j, s_]
            want = p.yields[p.fac_echelon[j]] * basis
            if abs(out_k[j, s_] - want) > TOL * max(1.0, want):
                v.append(f"{p.fac_ids[j]} sends on {out_k[j, s_]:.3f} t of {p.stream_ids[s_]}, yield says {want:.3f} t")
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
    if routes is not None:
        v += _route_violations(p, f, routes, coords)
    total = recomputed_objective(p, s)
    if np.isfinite(s.objective) and abs(total - s.objective) > 1e-6 * max(1.0, abs(total)):
        v.append(f"objective {s.objective:.4f} differs from recomputed {total:.4f}")
    return v


def chain_routes(cc: CompiledChain, instance: Instance, flow_t: np.ndarray) -> dict:
    """The ``routes`` argument of :func:`verify_chain` for a compiled chain's solution: km per mode and
    transhipments of every used arc's route (from the network costs), the modes its echelon allows, and the cost
    rates read here from the instance's named assumptions (not from the model)."""
    used = np.flatnonzero(np.asarray(flow_t, float) > TOL)
    split = np.full((cc.problem.n_arcs, 4), np.nan)
    split[used] = cc.arc_split(used)
    modes: list[tuple[str, ...]] = [()] * cc.problem.n_arcs
    for k, m in zip(used, cc.modes_of(used)):
        modes[k] = m
    a = instance.assumptions
    rates = {"road": float(a["cost_road_eur_per_tkm"].value), "water": float(a["cost_water_eur_per_tkm"].value),
             "rail": float(a["cost_rail_eur_per_tkm"].value), "transhipment": float(a["transhipment_eur_per_t"].value)}
    return {"split": split, "rates": rates, "modes": modes}


def _route_violations(p: ChainProblem, f: np.ndarray, routes: dict, coords: dict | None) -> list[str]:
    v: list[str] = []
    rates = routes["rates"]
    for k in np.flatnonzero(f > TOL):
        road, water, rail, n_t = (float(x) for x in routes["split"][k])
        c = rates["road"] * road + rates["water"] * water + rates["rail"] * rail + rates["transhipment"] * n_t
        if not abs(c - p.arc_cost_per_t[k]) <= 1e-6 * max(1.0, c):
            v.append(f"arc {k}: cost {p.arc_cost_per_t[k]:.4f} EUR/t, its route's km per mode give {c:.4f}")
        allowed = routes["modes"][k]
        for mode, km in (("water", water), ("rail", rail)):
            if km > 0 and mode not in allowed:
                v.append(f"arc {k}: route uses {mode}, the echelon allows {', '.join(allowed)}")
        if abs(n_t - 2 * round(n_t / 2)) > 1e-9 or ((water > 0 or rail > 0) != (n_t >= 2)):
            v.append(f"arc {k}: route changes mode {n_t:g} times")
        if coords is not None:
            src = {"collect": coords["clients"], "import": coords["gateways"], "link": coords["facilities"]}
            a, b = src[p.arc_kind[k]][p.arc_from[k]], coords["facilities"][p.arc_to[k]]
            straight = float(np.hypot(a[0] - b[0], a[1] - b[1])) / 1000.0
            if road + water + rail < straight - 1e-6:
                v.append(f"arc {k}: route of {road + water + rail:.3f} km is shorter than the straight line "
                         f"{straight:.3f} km")
    return v
def recomputed_objective(p: ChainProblem, s: ChainSolution) -> float:
    """The objective from the solution's flows and open facilities (loops over arcs and facilities, not the model's
    cost vector): transport EUR/t × t on every used arc, plus land rent of every new facility opened."""
    y, f = np.asarray(s.open_fac, bool), np.asarray(s.flow_t, float)
    total = sum(float(p.arc_cost_per_t[k] * f[k]) for k in range(p.n_arcs) if f[k] > 0)
    total += sum(p.land_cost_per_m2 * float(p.fac_area_m2[j]) for j in range(p.n_fac) if y[j] and not p.fac_existing[j])
    return float(total)


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
