"""Compile a named chain instance (S2b, S5, S8) into a :class:`~optimizer.model.chain.ChainProblem`.

Eligible candidates per echelon (zone types, type environments, access rules, free land; "in the seaport" from the
port geometry), the existing sites (rows of the instance's existing-facility table: Indaver's,
:mod:`optimizer.data.existing`), the gateways active at the instance's ambition level and cross-border switch (their
bales split into PS and PO), and every arc costed on the networks: the cheapest chain the receiving echelon's
``transport_modes`` allow (road, road-water-road, road-rail-road) between the facility points
(:class:`~optimizer.model.geography.ArcCosts`); sorting → mechanical arcs exist once per stream, mechanical →
chemical arcs only for the stream the plant takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.model.chain import ECHELONS, LEVELS, STREAMS, ChainProblem
from optimizer.model.geography import ArcCosts, arc_costs, instance_geography
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
    costs: dict[str, ArcCosts]  # per arc family "collect", "link:<echelon>", "import:<echelon>": the network costs
    spec: dict
    arc_family: np.ndarray | None = None  # per arc: its key in ``costs``
    arc_origin: np.ndarray | None = None  # per arc: the origin's row in its family's origin points
    existing: pd.DataFrame | None = None  # the table rows behind the existing facilities (optimizer.data.existing)

    def arc_split(self, arcs: np.ndarray) -> np.ndarray:
        """Road, water, rail km and transhipments of the routes of ``arcs`` (indices), from the network costs."""
        out = np.full((len(arcs), 4), np.nan)
        for key, ac in self.costs.items():
            rows = np.flatnonzero(self.arc_family[arcs] == key)
            if len(rows):
                out[rows] = ac.split(self.arc_origin[arcs[rows]], self.problem.arc_to[arcs[rows]])
        return out

    def modes_of(self, arcs: np.ndarray) -> list[tuple[str, ...]]:
        """The modes each arc's route may use (its receiving echelon's ``transport_modes``)."""
        return [self.costs[k].modes for k in self.arc_family[arcs]]


def _spec(instance: Instance) -> tuple[Programme, dict]:
    progs = [p for p in instance.programmes if p.kind == "chain"]
    if len(progs) != 1 or len(instance.programmes) != 1:
        raise InputError("a chain instance places exactly one chain programme", file=instance.path,
                         field="programmes.place")
    return progs[0], read_toml(Path(progs[0].file)).get("chain", {})


def compile_chain(instance: Instance) -> CompiledChain:
    """Arrays of the chain for a named instance: eligible candidates per echelon, existing sites, gateways."""
    from optimizer.geo.access_rules import effective_rule, load_mode_rules, mode_rule_ok
    from optimizer.geo.distances import equivalent_radius_km
    from optimizer.geo.typology import classify_instance, eligible
    from optimizer.model.formulation import site_access, with_site_access

    prog, spec = _spec(instance)
    params = instance.parameters
    variant = str(params["size_variant"])
    vspec = spec.get("variants", {}).get(variant, {}) if variant != "final" else {}
    if variant != "final" and variant not in spec.get("variants", {}):
        raise InputError(f"the chain has no variant {variant!r}; known: final, {', '.join(spec.get('variants', {}))}",
                         file=prog.file, field="chain.variants")
    demand = instance.demand
    geo = instance_geography(instance)
    cands = with_site_access(instance.candidates, site_access(instance, geo))
    cands = cands.join(classify_instance(instance, cands))
    rules = load_mode_rules() if params["access_rules"] != "none" else None
    free_m2 = cands["free_ha"].to_numpy(float) * M2_PER_HA
    site_index = pd.Series(np.arange(len(cands)), index=cands["site_id"])

    rows = []
    for e, name in enumerate(ECHELONS):
        ech = spec[name]
        area = float(ech["area_m2"])
        cap = _echelon_capacity(instance, ech, area)
        ok = cands["zone_type"].isin(prog.zone_types).to_numpy().copy()
        ok &= eligible(cands, ech.get("type_environments", []))
        if ech.get("not_in_seaport"):
            ok &= ~cands["type_seaport"].to_numpy(bool)
        ok &= mode_rule_ok(cands, effective_rule(rules, str(params["access_rules"]), ech["access_code"], prog.id,
                                                 params))
        ok &= free_m2 >= area
        ok &= _best_per_municipality(cands, ok, int(params["chain_zones_per_municipality"]))
        stream = _stream_index(spec, ech.get("new_stream", ""), prog.file, f"chain.{name}.new_stream")
        for s in np.flatnonzero(ok):
            rows.append({"facility_id": f"{name}:{cands.at[s, 'site_id']}", "name": f"new {name} at {cands.at[s, 'name']}",
                         "echelon": e, "site": s, "area_m2": area, "capacity_t": cap, "existing": False,
                         "stream": stream, "existing_id": "", "source": ech.get("source", "")})
    ex = chain_existing(instance, spec, vspec)
    year = vspec.get("capacity_year")
    for r in ex.itertuples():
        e = ECHELONS.index(r.echelon)
        ech = spec[r.echelon]
        if r.capacity is not None:
            cap = r.capacity.at(None if year is None else int(year))
        elif "capacity_per_m2" in ech:
            cap = r.area_m2 * instance.assumption(ech["capacity_per_m2"])
        else:
            cap = _echelon_capacity(instance, ech, r.area_m2)
        rows.append({"facility_id": f"existing:{r.facility_id}", "name": r.name, "echelon": e,
                     "site": int(site_index[r.site_id]), "area_m2": float(r.area_m2), "capacity_t": cap,
                     "existing": True, "stream": _stream_index(spec, r.stream, instance.table_files.get("existing"),
                                                                "stream"),
                     "existing_id": r.facility_id, "source": r.source})
    fac = pd.DataFrame(rows)
    fac["site_id"] = cands["site_id"].to_numpy()[fac["site"]]
    fac["site_name"] = cands["name"].to_numpy()[fac["site"]]
    fac["x"] = cands["x"].to_numpy()[fac["site"]]
    fac["y"] = cands["y"].to_numpy()[fac["site"]]
    fac["has_water"] = cands["has_water"].to_numpy(bool)[fac["site"]]
    fac["type_environment"] = cands["type_environment"].to_numpy()[fac["site"]]
    for col in ("knooppuntwaarde", "n_modes", "seaport", "has_seaport"):
        fac[col] = cands[col].to_numpy()[fac["site"]]

    # gateways active at the ambition level (S5) and cross-border switch (S8); bales split into their streams
    ambition = str(params["chain_ambition"])  # scenario parameters (S5, S8), checked by optimizer.data.instance
    crossborder = bool(params["chain_crossborder"])
    shares = stream_shares(instance, spec)
    gws = []
    for g in spec.get("gateways", []):
        if LEVELS.index(g["level"]) > LEVELS.index(ambition) or (g.get("crossborder") and not crossborder):
            continue
        stage = ECHELONS.index(g["stage"])
        supply = instance.assumption(g["supply"]) * float(g.get("share", 1.0))
        if stage == 0:
            split = [(-1, 1.0)]
        elif g.get("stream", "mixed") == "mixed":
            ps = instance.assumption(g["ps_share"]) if "ps_share" in g else shares[0]
            split = [(0, ps), (1, 1.0 - ps)]
        else:
            split = [(_stream_index(spec, g["stream"], prog.file, "chain.gateways.stream"), 1.0)]
        for k, part in split:
            label = g["name"] if k < 0 else f"{g['name']} [{STREAMS[k]}]"
            gws.append({"gateway": label, "x": float(g["x"]), "y": float(g["y"]), "stage": stage,
                        "stream": k, "supply_t": supply * part, "water": bool(g.get("water", False)),
                        "source": g.get("source", "")})
    gw = pd.DataFrame(gws, columns=["gateway", "x", "y", "stage", "stream", "supply_t", "water", "source"])

    cxy, fxy = demand[["x", "y"]].to_numpy(float), fac[["x", "y"]].to_numpy(float)
    gxy = gw[["x", "y"]].to_numpy(float) if len(gw) else np.zeros((0, 2))
    intrazonal = float(instance.assumption("intrazonal_distance_factor")) * equivalent_radius_km(demand["area_km2"].to_numpy(float))
    modes = {e: tuple(spec[name].get("transport_modes", ["road"])) for e, name in enumerate(ECHELONS)}
    costs: dict[str, ArcCosts] = {}
    kinds, frm, to, cpt, family, strm = [], [], [], [], [], []

    def add(kind: str, key: str, origins: np.ndarray, intra: np.ndarray, src: np.ndarray, dst: np.ndarray,
            echelon: int, stream: int) -> None:
        if key not in costs:
            costs[key] = arc_costs(geo, origins, fxy, intra, modes[echelon], "eur")
        kinds.append(np.full(len(src), kind, dtype=object))
        frm.append(src)
        to.append(dst)
        cpt.append(costs[key].per_t(src, dst))
        family.append(np.full(len(src), key, dtype=object))
        strm.append(np.full(len(src), stream))

    ech = fac["echelon"].to_numpy()
    takes = fac["stream"].to_numpy(int)
    sort_f, mech_f, chem_f = (np.flatnonzero(ech == e) for e in range(3))
    ci, fj = np.meshgrid(np.arange(len(demand)), sort_f, indexing="ij")
    add("collect", "collect", cxy, intrazonal, ci.ravel(), fj.ravel(), 0, -1)
    for k in range(len(STREAMS)):  # bales of each stream; a chemical plant takes its own stream only
        for e, (a_set, b_set) in enumerate(((sort_f, mech_f), (mech_f, chem_f[np.isin(takes[chem_f], (-1, k))])),
                                           start=1):
            ai, bj = np.meshgrid(a_set, b_set, indexing="ij")
            add("link", f"link:{ECHELONS[e]}", fxy, np.zeros(len(fxy)), ai.ravel(), bj.ravel(), e, k)
    for g in range(len(gw)):
        stage, k = int(gw["stage"].iloc[g]), int(gw["stream"].iloc[g])
        dst = {1: mech_f, 2: chem_f[np.isin(takes[chem_f], (-1, k))], 0: sort_f}[stage]
        add("import", f"import:{ECHELONS[stage]}", gxy, np.zeros(len(gxy)), np.full(len(dst), g), dst, stage, k)
    arc_family = np.concatenate(family).astype(str)
    arc_from = np.concatenate(frm).astype(int)
    arc_to = np.concatenate(to).astype(int)
    arc_km = np.full(len(arc_from), np.nan)  # km per mode of the used arcs: CompiledChain.arc_split
    n_existing_sorting = int((fac["existing"] & (fac["echelon"] == 0)).sum())
    new_sorting = (float(vspec["sorting_total_count"]) - n_existing_sorting if "sorting_total_count" in vspec
                   else float(spec["sorting"]["new_count"]))
    new_counts = np.array([
        [max(new_sorting, 0.0)] * 2,
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
        arc_kind=np.concatenate(kinds).astype(str), arc_from=arc_from,
        arc_to=arc_to, arc_cost_per_t=np.concatenate(cpt), arc_km=arc_km,
        land_cost_per_m2=float(params["land_cost_eur_per_m2"]),
        stream_ids=STREAMS, stream_share=shares, fac_stream=takes, arc_stream=np.concatenate(strm).astype(int),
    )
    coords = {"clients": cxy, "facilities": fxy, "gateways": gxy, "intrazonal_km": intrazonal}
    clients = pd.DataFrame({"nis": demand["nis"], "name": demand["name"], "x": cxy[:, 0], "y": cxy[:, 1], "supply_t": supply})
    return CompiledChain(problem, fac, gw, clients, coords, costs, spec, arc_family, arc_from, ex)


def _best_per_municipality(cands: pd.DataFrame, ok: np.ndarray, k: int) -> np.ndarray:
    """Of the eligible candidates, the ``k`` of each municipality with the most free land (then the highest
    knooppuntwaarde); ``k = 0`` keeps them all. The chain is a Flanders-wide model: zones of one municipality differ
    little in transport cost against the chain's distances, while every extra candidate multiplies its arcs."""
    if k <= 0:
        return ok
    rows = np.flatnonzero(ok)
    frame = pd.DataFrame({"nis": cands["nis"].astype(str).to_numpy()[rows], "free": cands["free_ha"].to_numpy(float)[rows],
                          "kv": cands["knooppuntwaarde"].to_numpy(float)[rows], "row": rows})
    frame = frame.sort_values(["nis", "free", "kv", "row"], ascending=[True, False, False, True])
    keep = np.zeros(len(cands), dtype=bool)
    keep[frame.groupby("nis").head(k)["row"].to_numpy()] = True
    return keep


def _echelon_capacity(instance: Instance, ech: dict, area: float) -> float:
    """Capacity (t/yr) of a new facility of an echelon: a figure, a named assumption, or area × throughput."""
    if "capacity_t" in ech:
        return float(ech["capacity_t"])
    if "capacity_assumption" in ech:
        return instance.assumption(ech["capacity_assumption"])
    return area * instance.assumption(ech["capacity_per_m2"])


def _stream_index(spec: dict, stream: str, file: object, field: str) -> int:
    """Index of a stream name in ``STREAMS`` (empty: -1, any stream)."""
    if not stream:
        return -1
    if stream not in STREAMS:
        raise InputError(f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}", file=file, field=field)
    return STREAMS.index(stream)


def stream_shares(instance: Instance, spec: dict) -> np.ndarray:
    """Share of PS and PO in the sorted bales (``[chain] ps_share`` names the assumption)."""
    ps = instance.assumption(spec["ps_share"]) if "ps_share" in spec else 1.0
    if not 0.0 <= ps <= 1.0:
        raise InputError(f"the PS share of the bales must lie in [0, 1], is {ps:g}", field=str(spec.get("ps_share")))
    return np.array([ps, 1.0 - ps])


def chain_existing(instance: Instance, spec: dict, vspec: dict, year: int | None = None) -> pd.DataFrame:
    """The chain's existing facilities: table rows of ``plastics_chain`` (echelon = role) and of the sorting
    programme (``[chain.sorting] programme``), in ``year`` (None: end state), less a variant's ``drop_existing``."""
    from optimizer.model.existing import existing_rows

    sorting_prog = str(spec["sorting"].get("programme", ""))
    rows = existing_rows(instance, {"plastics_chain", sorting_prog} - {""}, year)
    if rows.empty:
        return rows.assign(echelon=pd.Series(dtype=str))
    rows = rows[~rows["facility_id"].isin(vspec.get("drop_existing", []))].reset_index(drop=True)
    return rows.assign(echelon=np.where(rows["programme"] == "plastics_chain", rows["role"], "sorting"))
