"""The geography of an instance: its networks, a facility point inside every zone, access and pair costs per mode set.

This is where a compiled instance meets :mod:`optimizer.geo`:

* :func:`instance_geography` loads the network tables (the shipped real networks), the access parameters from the
  instance's named assumptions (after ``--set``) and the seaport areas;
* :func:`site_geography` gives every candidate its **facility point** (inside its zone polygon, at the zone's point
  nearest its road entry: :func:`optimizer.geo.zones.zone_facility_points`; a point candidate is its own), its
  access attributes and knooppuntwaarde (:func:`optimizer.geo.access.access_attributes`), whether it lies in a seaport
  (from the port geometry) and, for a zone layer without zone types, its zone type from that;
* :class:`ArcCosts` is the transport cost per tonne of every demand unit × candidate site for one set of allowed
  modes: the cheapest allowed chain on the networks (:func:`optimizer.geo.network_costs.pair_costs`) plus the
  intrazonal term of demand spread over its municipality; :class:`NetworkArcSource` serves its rows to the
  k-nearest arcs of large instances.

Coordinates EPSG:31370 metres, distances km, costs EUR per tonne (or km per tonne for the t·km objective).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from scipy.spatial.distance import cdist

from optimizer.errors import InputError
from optimizer.geo.access import ACCESS_COLUMNS, access_attributes
from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.network_costs import PairCosts, normalise_modes, pair_costs
from optimizer.geo.network_tables import DEFAULT_NETWORK_DIRS, NetworkTables, load_network_tables
from optimizer.geo.zones import ZONES_GPKG, load_seaport_areas, zone_facility_points
from optimizer.model.arcs import BLOCK_ENTRIES, SparseArcs

if TYPE_CHECKING:
    import geopandas as gpd

    from optimizer.data.instance import Instance

SEAPORT_ZONE_TYPE = "seaport"


@dataclass
class InstanceGeography:
    """Network tables, access parameters and seaport areas of one instance."""

    tables: NetworkTables
    params: AccessParameters
    seaport_areas: gpd.GeoDataFrame
    sources: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=2)
def _shipped_tables(folders: tuple[str, ...]) -> NetworkTables:
    """The shipped network tables, read once per process (0.5 s; every solve of a sweep reuses them)."""
    return load_network_tables(folders)


@lru_cache(maxsize=2)
def _seaport_areas(path: str) -> gpd.GeoDataFrame:
    return load_seaport_areas(path)


def instance_geography(instance: Instance) -> InstanceGeography:
    """The networks (``instances/networks_*``, a mode replaced where the manifest's ``[networks]`` names a file),
    the access parameters (the instance's assumptions) and the seaport areas."""
    folders = tuple(str(p) for p in DEFAULT_NETWORK_DIRS)
    params = AccessParameters.from_assumptions({k: a.value for k, a in instance.assumptions.items()}, instance.path)
    tables = _shipped_tables(folders)
    for mode, path in sorted(getattr(instance, "network_files", {}).items()):
        layer = _shipped_tables((str(path),))
        if set(layer.modes) != {mode}:
            msg = f"[networks] {mode} = {path.name} holds the modes {list(layer.modes)}; give a file with {mode} only"
            raise InputError(msg, file=instance.path, field=f"networks.{mode}")
        tables = tables.with_layer(layer)
    return InstanceGeography(tables, params, _seaport_areas(str(ZONES_GPKG)),
                             {"networks": ", ".join(tables.sources), "seaport_areas": str(ZONES_GPKG)})


def site_geography(instance: Instance, geo: InstanceGeography) -> pd.DataFrame:
    """Facility point, access, knooppuntwaarde and seaport of every candidate (index of ``instance.candidates``).

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (the facility point, EPSG:31370 m: inside the zone polygon, or the candidate's own point),
        ``zone_x``, ``zone_y`` (the candidate's representative point), ``zone_type`` (derived from geometry for a
        zone layer without types: ``seaport`` inside a seaport area, else ``economic_zone``), ``has_zone`` and the
        columns of :data:`optimizer.geo.access.ACCESS_COLUMNS`.
    """
    cands = instance.candidates
    xy = cands[["x", "y"]].to_numpy(float)
    polys = (cands["geometry"].to_numpy(dtype=object) if "geometry" in cands
             else np.full(len(cands), None, dtype=object))
    has_zone = np.array([g is not None and not (isinstance(g, float)) for g in polys], dtype=bool)
    geoms = np.where(has_zone, polys, shapely.points(xy))
    facility = xy.copy()
    if has_zone.any():
        facility[has_zone], _ = zone_facility_points(geo.tables, geoms[has_zone])
    attrs = access_attributes(geo.tables, geoms, params=geo.params, seaport_areas=geo.seaport_areas,
                              access_xy=facility)
    out = attrs[list(ACCESS_COLUMNS)].copy()
    out.index = cands.index
    out["x"], out["y"] = facility[:, 0], facility[:, 1]
    out["zone_x"], out["zone_y"] = xy[:, 0], xy[:, 1]
    out["has_zone"] = has_zone
    zone_type = cands["zone_type"].astype(str).to_numpy().copy()
    if "zone_type_from_geometry" in cands:
        derived = cands["zone_type_from_geometry"].to_numpy(bool)
        zone_type[derived] = np.where(out["has_seaport"].to_numpy(bool)[derived], SEAPORT_ZONE_TYPE, zone_type[derived])
    out["zone_type"] = zone_type
    return out


def intrazonal_extra_km(straight_km: np.ndarray, intrazonal_km: np.ndarray, circuity: float) -> np.ndarray:
    """Road km added to a trip from demand spread over its municipality: ``circuity · (sqrt(d² + r²) − d)``.

    ``d`` is the straight distance from the demand point to the facility, ``r`` the municipality's intrazonal
    distance (:func:`optimizer.geo.distances.road_km`). It makes a site in the client's own municipality cost
    ``circuity · r`` instead of zero and fades out with distance; 0 for point demand (``r = 0``).
    """
    d = np.asarray(straight_km, dtype=float)
    r = np.asarray(intrazonal_km, dtype=float)
    return circuity * (np.sqrt(d * d + r * r) - d)


@dataclass
class ArcCosts:
    """Cost per tonne of every demand unit × candidate site for one set of allowed modes.

    ``cost = pair cost of the cheapest allowed chain (EUR/t, or km for the t·km objective) + c_road · intrazonal km``.

    Attributes
    ----------
    pair
        The network pair costs (demand units × sites) with the arrays behind their modal split.
    demand_xy, site_xy
        Points in EPSG:31370 metres.
    intrazonal_km
        Per demand unit, its intrazonal distance ``r`` in km.
    circuity
        ``access_circuity``.
    road_rate
        Cost of one road km per tonne in the objective's unit (EUR/t·km, or 1 for t·km).
    """

    pair: PairCosts
    demand_xy: np.ndarray
    site_xy: np.ndarray
    intrazonal_km: np.ndarray
    circuity: float
    road_rate: float

    @property
    def modes(self) -> tuple[str, ...]:
        return self.pair.modes

    def _extra(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        d = np.hypot(*(self.demand_xy[i] - self.site_xy[s]).T) / 1000.0
        return intrazonal_extra_km(d, self.intrazonal_km[i], self.circuity)

    def per_t(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Cost per tonne of the pairs (demand unit ``i[k]``, site ``s[k]``)."""
        i, s = np.asarray(i, dtype=np.int64), np.asarray(s, dtype=np.int64)
        return np.asarray(self.pair.cost_eur_per_t[i, s], dtype=float) + self.road_rate * self._extra(i, s)

    def rows(self, i: np.ndarray) -> np.ndarray:
        """Cost per tonne of demand units ``i`` to every site, shape (len(i), n_sites)."""
        i = np.asarray(i, dtype=np.int64)
        base = np.array(self.pair.cost_eur_per_t[i], dtype=float)
        spread = np.flatnonzero(self.intrazonal_km[i] > 0)  # point demand (r = 0) adds nothing
        if len(spread):
            k = i[spread]
            d = cdist(self.demand_xy[k], self.site_xy)  # metres; then in place: c·rate·(sqrt(d² + r²) − d)
            d /= 1000.0
            extra = d * d
            extra += (self.intrazonal_km[k] ** 2)[:, None]
            np.sqrt(extra, out=extra)
            extra -= d
            extra *= self.road_rate * self.circuity
            base[spread] += extra
        return base

    def block(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Cost per tonne of demand units ``i`` × sites ``s``, shape (len(i), len(s)) (only these columns)."""
        i, s = np.asarray(i, dtype=np.int64), np.asarray(s, dtype=np.int64)
        base, _ = self.pair.block(i, s)
        d = cdist(self.demand_xy[i], self.site_xy[s]) / 1000.0
        r = self.intrazonal_km[i, None]
        return base + self.road_rate * self.circuity * (np.sqrt(d * d + r * r) - d)

    def split(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Road, water, rail km and transhipments of the pairs' chosen chains, the intrazonal term on road."""
        i, s = np.asarray(i, dtype=np.int64), np.asarray(s, dtype=np.int64)
        km = self.pair.km_by_mode(i, s).reshape(-1, 4)
        km[:, 0] += self._extra(i, s)
        return km

    def route(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        """``local`` where the pair's cheapest chain is the direct local trip, else ``network``."""
        local = np.asarray(self.pair.a_star[np.asarray(i, np.int64), np.asarray(s, np.int64)]) < 0
        return np.where(local, "local", "network")


@dataclass
class StraightArcCosts:
    """Cost per tonne as a service distance: straight line × circuity with the intrazonal term (no network).

    A coverage programme (LSCP, MCLP, p-center, service p-median) measures reach, walking or cycling, for which the
    regional network has no paths: ``km = circuity · sqrt(d² + r²)``, cost ``road_rate · km``; its route is
    ``straight``.
    """

    demand_xy: np.ndarray
    site_xy: np.ndarray
    intrazonal_km: np.ndarray
    circuity: float
    road_rate: float
    modes: tuple[str, ...] = ("road",)

    def km(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        i, s = np.asarray(i, dtype=np.int64), np.asarray(s, dtype=np.int64)
        d = np.hypot(*(self.demand_xy[i] - self.site_xy[s]).T) / 1000.0
        r = self.intrazonal_km[i]
        return self.circuity * np.sqrt(d * d + r * r)

    def per_t(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self.road_rate * self.km(i, s)

    def rows(self, i: np.ndarray) -> np.ndarray:
        i = np.asarray(i, dtype=np.int64)
        d = cdist(self.demand_xy[i], self.site_xy) / 1000.0
        r = self.intrazonal_km[i, None]
        return self.road_rate * self.circuity * np.sqrt(d * d + r * r)

    def block(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        i, s = np.asarray(i, dtype=np.int64), np.asarray(s, dtype=np.int64)
        d = cdist(self.demand_xy[i], self.site_xy[s]) / 1000.0
        r = self.intrazonal_km[i, None]
        return self.road_rate * self.circuity * np.sqrt(d * d + r * r)

    def split(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        out = np.zeros((np.size(i), 4))
        out[:, 0] = self.km(i, s)
        return out

    def route(self, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.full(np.size(i), "straight", dtype=object)


def straight_arc_costs(geo: InstanceGeography, demand_xy: np.ndarray, site_xy: np.ndarray, intrazonal_km: np.ndarray,
                       objective: str) -> StraightArcCosts:
    """:class:`StraightArcCosts` with the instance's circuity and road cost (1 per km for the t·km objective)."""
    rate = 1.0 if objective == "tkm" else float(geo.params.cost_eur_per_tkm["road"])
    return StraightArcCosts(np.asarray(demand_xy, float), np.asarray(site_xy, float), np.asarray(intrazonal_km, float),
                            geo.params.access_circuity, rate)


def arc_costs(geo: InstanceGeography, demand_xy: np.ndarray, site_xy: np.ndarray, intrazonal_km: np.ndarray,
              modes: tuple[str, ...], objective: str) -> ArcCosts:
    """:class:`ArcCosts` for one mode set; the t·km objective prices every mode at 1 per t·km and transhipment at 0.

    The pair costs are cached on disk keyed by the network's content hash, the parameters and the coordinates
    (:mod:`optimizer.geo.cache`), so a rerun of the same instance skips the shortest paths.
    """
    params = geo.params
    if objective == "tkm":
        params = replace(params, cost_eur_per_tkm={m: 1.0 for m in params.cost_eur_per_tkm},
                         transhipment_eur_per_t=0.0)
    pair = pair_costs(demand_xy, site_xy, geo.tables, modes=normalise_modes(modes), params=params, cache=True)
    return ArcCosts(pair, np.asarray(demand_xy, float), np.asarray(site_xy, float), np.asarray(intrazonal_km, float),
                    params.access_circuity, float(params.cost_eur_per_tkm["road"]))


@dataclass
class NetworkArcSource:
    """Arc costs of clients × options from network pair costs, in blocks of clients (a ``CostBlock``).

    Client ``c`` is demand unit ``client_muni[c]`` of a programme whose costs are ``costs[client_costs[c]]``; option
    ``o`` lies at site ``option_site[o]``; a pair is allowed when client and option share a group (programme, and
    region where the assignment stays inside it). The cost of a pair is ``client_tonnes[c]`` × its cost per tonne.
    """

    costs: list[ArcCosts | StraightArcCosts]
    client_costs: np.ndarray
    client_muni: np.ndarray
    client_tonnes: np.ndarray
    client_group: np.ndarray
    option_site: np.ndarray
    option_group: np.ndarray
    _sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __call__(self, clients: np.ndarray) -> np.ndarray:
        clients = np.asarray(clients, dtype=np.int64)
        out = np.full((len(clients), len(self.option_site)), np.inf)
        for k in np.unique(self.client_costs[clients]):
            rows = np.flatnonzero(self.client_costs[clients] == k)
            c = clients[rows]
            per_t = self.costs[k].rows(self.client_muni[c])[:, self.option_site]
            out[rows] = self.client_tonnes[c, None] * per_t
        out[self.client_group[clients][:, None] != self.option_group[None, :]] = np.inf
        return out

    def pairs(self, clients: np.ndarray, options: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cost (EUR/yr at full demand), route km and whether allowed, of the pairs (``clients[k]``,
        ``options[k]``): any pair, not only the k cheapest arcs (a stored result's check reads them)."""
        c, o = np.asarray(clients, dtype=np.int64), np.asarray(options, dtype=np.int64)
        cost, km = np.full(len(c), np.nan), np.full(len(c), np.nan)
        for k in np.unique(self.client_costs[c]):
            rows = np.flatnonzero(self.client_costs[c] == k)
            muni, site = self.client_muni[c[rows]], self.option_site[o[rows]]
            cost[rows] = self.client_tonnes[c[rows]] * self.costs[k].per_t(muni, site)
            km[rows] = self.costs[k].split(muni, site)[:, :3].sum(axis=1)
        return cost, km, self.client_group[c] == self.option_group[o]

    def block(self, clients: np.ndarray, options: np.ndarray) -> np.ndarray:
        """Cost (EUR/yr at full demand) of clients × options, shape (len(clients), len(options)); ``inf`` where
        client and option are in different groups. Only these columns are computed."""
        clients, options = np.asarray(clients, dtype=np.int64), np.asarray(options, dtype=np.int64)
        out = np.full((len(clients), len(options)), np.inf)
        for k in np.unique(self.client_costs[clients]):
            rows = np.flatnonzero(self.client_costs[clients] == k)
            c = clients[rows]
            out[rows] = self.client_tonnes[c, None] * self.costs[k].block(self.client_muni[c], self.option_site[options])
        out[self.client_group[clients][:, None] != self.option_group[options][None, :]] = np.inf
        return out

    def arc_km(self, clients: np.ndarray, options: np.ndarray) -> np.ndarray:
        """Route km of the pairs (``clients[k]``, ``options[k]``)."""
        return self.pairs(clients, options)[1]

    def sorted_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every client's *allowed* options in order of cost and those costs, as ragged rows ``(indptr, option,
        cost)``: client ``c``'s are ``option[indptr[c]:indptr[c + 1]]``. Computed once, group by group and block by
        block (only the pairs of a group: an own-region instance keeps a fraction of clients × options), then
        reused by every round of the certificate, which reads the first k of each row."""
        if self._sorted is None:
            n = len(self.client_muni)
            groups, members = np.unique(self.option_group, return_inverse=True)
            per_group = [np.flatnonzero(members == g) for g in range(len(groups))]
            where = np.searchsorted(groups, self.client_group)
            known = (where < len(groups)) & (groups[np.minimum(where, len(groups) - 1)] == self.client_group)
            lengths = np.where(known, [len(per_group[w]) if k else 0 for w, k in zip(where, known)], 0)
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=indptr[1:])
            option = np.empty(indptr[-1], dtype=np.int32)
            cost = np.empty(indptr[-1])
            for g, opts in enumerate(per_group):
                mine = np.flatnonzero(known & (where == g))
                step = max(1, BLOCK_ENTRIES // max(len(opts), 1))
                for lo in range(0, len(mine), step):
                    rows = mine[lo:lo + step]
                    block = self.block(rows, opts)
                    o = np.argsort(block, axis=1, kind="stable")
                    at = indptr[rows][:, None] + np.arange(len(opts))[None, :]
                    option[at], cost[at] = opts[o], np.take_along_axis(block, o, axis=1)
            self._sorted = (indptr, option, cost)
        return self._sorted

    def nearest(self, k: np.ndarray | int) -> SparseArcs:
        """The ``k[i]`` cheapest allowed arcs per client and the cheapest one left out (from the sorted rows)."""
        indptr, option, cost = self.sorted_rows()
        n = len(indptr) - 1
        lengths = np.diff(indptr)
        k = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), (n,)), lengths)
        rank = np.arange(indptr[-1]) - np.repeat(indptr[:-1], lengths)
        keep = (rank < np.repeat(k, lengths)) & np.isfinite(cost)
        ci = np.repeat(np.arange(n), lengths)[keep]
        beyond = np.full(n, np.inf)
        more = k < lengths
        beyond[more] = cost[indptr[:-1][more] + k[more]]
        return SparseArcs(ci.astype(np.int64), option[keep].astype(np.int64), cost[keep], beyond)

    def rank_of_open(self, clients: np.ndarray, open_options: np.ndarray) -> np.ndarray:
        """Per client, how many allowed options cost no more than its cheapest open one (``k`` that reaches it)."""
        indptr, option, cost = self.sorted_rows()
        lengths = np.diff(indptr)
        is_open = np.asarray(open_options, dtype=bool)[option]
        row = np.repeat(np.arange(len(lengths)), lengths)
        best = np.full(len(lengths), np.inf)
        np.minimum.at(best, row[is_open], cost[is_open])
        within = np.bincount(row, weights=(cost <= best[row]).astype(float), minlength=len(lengths))
        counts = np.where(np.isfinite(best), within, lengths).astype(np.int64)
        return counts[np.asarray(clients, dtype=np.int64)]
