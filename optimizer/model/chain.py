"""The plastics chain as a multi-echelon flow model (scenarios S2b, S5, S8): arrays in, one sparse MIP out.

Echelons (digest §2.1, L10526-10600): municipalities (PMD collection) → sorting centres → mechanical recycling
(pre-treatment) → chemical recycling in the seaport. Import gateways (Belgium, European imports by water, cross-
border road gateways) feed the echelon their material enters. The existing Indaver sites (rows of the existing-
facility table, :mod:`optimizer.data.existing`) are fixed facilities (always open, no new land); new facilities
are chosen among the eligible candidates.

Streams: sorting turns PMD into bales of several polymer streams (PS and PO, shares ``stream_share``); mechanical
pre-treatment keeps each stream apart (one shared capacity); a chemical plant takes one stream only (P2C: PS; the
planned plant: PO, L10778-10796), so PS and PO never share a plant's capacity. ``arc_stream`` is ``-1`` for
unsorted PMD (collection) and the stream index on every other arc. A chain with one stream is the single-commodity
model.

Model (all flows in t/yr; ``y`` binary per facility, existing ones fixed to 1)::

    min  Σ_arcs cost_per_t · flow + land_cost · Σ_new area · y
    s.t. Σ_{collection arcs of i} flow = supply_i                    every municipality's PMD is sorted
         Σ_{import arcs of g} flow = supply_g                        every active gateway delivers its volume
         inflow_f ≤ capacity_f · y_f                                 capacity (and linking) per facility
         outflow_{f,k} = yield_0 · share_k · inflow_f                sorting: bales of stream k
         outflow_{f,k} = yield_1 · inflow_{f,k}                     mechanical: per stream
         inflow_{f,k} = 0 for k ≠ stream_f                          a chemical plant takes its stream only
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
STREAMS = ("PS", "PO")  # polymer streams of the sorted bales: polystyrene (P2C) and polyolefins (the planned plant)


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
    stream_ids: tuple[str, ...] = ("bales",)
    stream_share: np.ndarray | None = None  # share of each stream in the sorted bales (sums to 1); None: one stream
    fac_stream: np.ndarray | None = None  # stream a facility takes (-1: any); None: any
    arc_stream: np.ndarray | None = None  # stream on each arc (-1: unsorted PMD); None: collection -1, others 0

    @property
    def n_fac(self) -> int:
        return len(self.fac_ids)

    @property
    def shares(self) -> np.ndarray:
        """Share of each stream in the sorted bales."""
        return np.ones(1) if self.stream_share is None else np.asarray(self.stream_share, float)

    @property
    def fac_streams(self) -> np.ndarray:
        return np.full(self.n_fac, -1) if self.fac_stream is None else np.asarray(self.fac_stream, int)

    @property
    def arc_streams(self) -> np.ndarray:
        if self.arc_stream is None:
            return np.where(np.asarray(self.arc_kind) == "collect", -1, 0)
        return np.asarray(self.arc_stream, int)

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


def stream_names(p: ChainProblem, codes: np.ndarray) -> np.ndarray:
    """Stream labels of stream codes (-1: unsorted PMD on arcs, any stream at facilities)."""
    names = np.asarray([*p.stream_ids, "PMD"], dtype=object)
    return names[np.where(np.asarray(codes) < 0, len(p.stream_ids), codes)]


def _inflow_outflow(p: ChainProblem, stream: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Incidence matrices (facilities × arcs) of flows into and out of each facility (of one stream, if given)."""
    on = np.ones(p.n_arcs, bool) if stream is None else p.arc_streams == stream
    into = np.flatnonzero(on)
    in_m = sp.csr_matrix((np.ones(len(into)), (p.arc_to[into], into)), shape=(p.n_fac, p.n_arcs))
    link = np.flatnonzero((p.arc_kind == "link") & on)
    out_m = sp.csr_matrix((np.ones(len(link)), (p.arc_from[link], link)), shape=(p.n_fac, p.n_arcs))
    return in_m, out_m


def build_matrix(p: ChainProblem, *, links: bool = True) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray,
                                                                  np.ndarray, np.ndarray, np.ndarray]:
    """Columns [y (facilities) | flow (arcs)]: cost, row matrix, row bounds, column bounds and integrality.

    ``links=False`` leaves out the per-arc links ``flow ≤ ub · y`` (implied by the capacity rows for integer ``y``;
    the lean model of :mod:`optimizer.solver.chain_mip` solves faster without them)."""
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
    # yield balance per stream: sorting sends yield*share_k of all its input on as stream k, mechanical
    # pre-treatment yield*its input of stream k; a chemical plant receives no stream but its own
    sorting, mech = np.flatnonzero(p.fac_echelon == 0), np.flatnonzero(p.fac_echelon == 1)
    for k, share in enumerate(p.shares):
        in_k, out_k = _inflow_outflow(p, k)
        bal = sp.vstack([(out_k - p.yields[0] * share * in_m)[sorting], (out_k - p.yields[1] * in_k)[mech]])
        blocks.append(sp.hstack([sp.csr_matrix((bal.shape[0], nf)), bal]))
        lo.append(np.zeros(bal.shape[0]))
        up.append(np.zeros(bal.shape[0]))
    chem = np.flatnonzero((p.fac_echelon == 2) & (p.fac_streams >= 0))
    wrong = np.flatnonzero((p.fac_streams[p.arc_to] >= 0) & (p.arc_streams != p.fac_streams[p.arc_to]))
    if len(chem) and len(wrong):  # built only for matching streams; kept as rows should an arc slip through
        a = sp.csr_matrix((np.ones(len(wrong)), (np.arange(len(wrong)), wrong)), shape=(len(wrong), na))
        blocks.append(sp.hstack([sp.csr_matrix((len(wrong), nf)), a]))
        lo.append(np.zeros(len(wrong)))
        up.append(np.zeros(len(wrong)))
    # strong linking (the CFLP tightening): flow on an arc ≤ its upper bound · y of the facilities it touches
    ub = _arc_upper_bounds(p)
    for end in ("to", "from") if links else ():
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
    # aggregated capacity per echelon (and per stream into chemical): what reaches an echelon is fixed by the
    # supplies and yields, so its open capacity must cover it (valid; tightens the LP bound of the plants' y)
    cover, need = cover_rows(p)
    blocks.append(sp.hstack([cover, sp.csr_matrix((cover.shape[0], na))]))
    lo.append(need)
    up.append(np.full(len(need), np.inf))
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


def echelon_inflow(p: ChainProblem) -> tuple[float, float, np.ndarray]:
    """Tonnes that must enter sorting, mechanical and (per stream) chemical recycling: fixed by supplies, imports
    and yields, whatever the routes."""
    streams = p.arc_streams
    gw_stage = np.full(len(p.gw_ids), -1)
    gw_stream = np.full(len(p.gw_ids), -1)
    imp = np.flatnonzero(p.arc_kind == "import")
    gw_stage[p.arc_from[imp]] = p.fac_echelon[p.arc_to[imp]]
    gw_stream[p.arc_from[imp]] = streams[imp]
    into_sorting = float(p.supply_t.sum() + p.gw_supply_t[gw_stage == 0].sum())
    into_mech = np.array([p.yields[0] * share * into_sorting + p.gw_supply_t[(gw_stage == 1) & (gw_stream == k)].sum()
                          for k, share in enumerate(p.shares)])
    into_chem = p.yields[1] * into_mech + np.array([p.gw_supply_t[(gw_stage == 2) & (gw_stream == k)].sum()
                                                     for k in range(len(p.shares))])
    return into_sorting, float(into_mech.sum()), into_chem


def cover_rows(p: ChainProblem) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows ``Σ_j min(cap_j, D) · y_j ≥ D`` over the facilities of an echelon (per stream for chemical plants,
    counting the plants that accept the stream), with ``D`` the tonnes that must enter it, and their rounding
    ``Σ_{new j} y_j ≥ ⌈(D − existing capacity) / largest new capacity⌉``."""
    into_sorting, into_mech, into_chem = echelon_inflow(p)
    groups = [(p.fac_echelon == 0, into_sorting), (p.fac_echelon == 1, into_mech)]
    groups += [((p.fac_echelon == 2) & np.isin(p.fac_streams, (-1, k)), d) for k, d in enumerate(into_chem)]
    rows, cols, vals, need = [], [], [], []
    for members, d in groups:
        j = np.flatnonzero(members)
        if d <= 0 or not len(j):
            continue
        rows.append(np.full(len(j), len(need)))
        cols.append(j)
        vals.append(np.minimum(p.fac_capacity_t[j], d))
        need.append(d)
        # its rounding: what the existing ones cannot take needs at least this many new ones (each new one takes
        # at most the largest new capacity)
        new = j[~p.fac_existing[j]]
        if len(new) and np.isfinite(p.fac_capacity_t[new]).all():
            rest = d - float(p.fac_capacity_t[j[p.fac_existing[j]]].sum())
            k = np.ceil(rest / p.fac_capacity_t[new].max() - 1e-9)
            if k >= 1:
                rows.append(np.full(len(new), len(need)))
                cols.append(new)
                vals.append(np.ones(len(new)))
                need.append(float(k))
    if not need:
        return sp.csr_matrix((0, p.n_fac)), np.zeros(0)
    matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(len(need), p.n_fac))
    return matrix, np.array(need)


def _arc_upper_bounds(p: ChainProblem) -> np.ndarray:
    """Largest flow an arc can carry: its source's supply, or the smaller of the two facilities' capacities."""
    ub = np.minimum(p.fac_capacity_t[p.arc_to], np.inf)
    collect, imp, link = (p.arc_kind == k for k in ("collect", "import", "link"))
    ub[collect] = np.minimum(ub[collect], p.supply_t[p.arc_from[collect]])
    ub[imp] = np.minimum(ub[imp], p.gw_supply_t[p.arc_from[imp]])
    src = p.arc_from[link]
    share = np.where(p.fac_echelon[src] == 0, p.shares[np.maximum(p.arc_streams[link], 0)], 1.0)
    ub[link] = np.minimum(ub[link], p.fac_capacity_t[src] * p.yields[p.fac_echelon[src]] * share)
    return ub
