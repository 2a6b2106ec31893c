"""Compile a named chain instance (S2b, S5, S8) into a :class:`~optimizer.model.chain.ChainProblem`.

Eligible candidates per echelon (zone types, type environments, access rules, free land), the existing Indaver
sites, the gateways active at the instance's ambition level and cross-border switch, and every arc costed by road
or, where both ends lie on a waterway, by water (:class:`~optimizer.model.chain.CostModel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.model.chain import ECHELONS, LEVELS, ChainProblem, CostModel
from optimizer.settings import M2_PER_HA

if TYPE_CHECKING:
    from optimizer.data.instance import Instance
    from optimizer.data.programmes import Programme


@dataclass
class CompiledChain:
    """A compiled chain: the problem plus the tables (facilities, gateways, clients) and coordinates behind it."""

    problem: ChainProblem
    facilities: pd.DataFrame
    gateways: pd.DataFrame
    clients: pd.DataFrame
    coords: dict
    costs: CostModel
    spec: dict


def _spec(instance: Instance) -> tuple[Programme, dict]:
    progs = [p for p in instance.programmes if p.kind == "chain"]
    if len(progs) != 1 or len(instance.programmes) != 1:
        raise InputError("a chain instance places exactly one chain programme", file=instance.path,
                         field="programmes.place")
    return progs[0], read_toml(Path(progs[0].file)).get("chain", {})


def compile_chain(instance: Instance) -> CompiledChain:
    """Arrays of the chain for a named instance: eligible candidates per echelon, existing sites, gateways."""
    from optimizer.geo.access_rules import load_mode_rules, mode_rule_ok, programme_rule
    from optimizer.geo.distances import equivalent_radius_km
    from optimizer.geo.typology import classify_instance, eligible
    from optimizer.model.formulation import site_access

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
    ambition = str(params["chain_ambition"])  # scenario parameters (S5, S8), checked by optimizer.data.instance
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
