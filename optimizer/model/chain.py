"""The plastics chain as a multi-echelon flow model (scenarios S2b, S5, S8): arrays in, one sparse MIP out.

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

The instance is compiled by :mod:`optimizer.model.chain_compile`, solved by :mod:`optimizer.solver.chain` and checked
by :mod:`optimizer.check.chain`, which recomputes every constraint and the objective from the solution, and every
arc's cost per tonne from coordinates, without reusing the model code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.problem import Status

ECHELONS = ("sorting", "mechanical", "chemical")
LEVELS = ("flanders", "belgium", "europe")


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
    status: Status
    timings_s: dict = field(default_factory=dict)


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
