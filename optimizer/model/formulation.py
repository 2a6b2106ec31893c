"""Compile an :class:`~optimizer.data.instance.Instance` into a generic :class:`~optimizer.problem.LocationProblem`.

This is where the study's rules become arrays:

* demand per client and programme = population × the programme's per-inhabitant assumption (t/yr);
* options = eligible candidate site × allowed size (zone type, multimodal access rule, enough free land);
  the size rule ("large where the region holds a centrumstad") decides which size a site may take;
* count rows = "``per_region`` facilities in every region" (or a total count for Flanders);
* sites = candidate zones (polygons) or points, each with its facility point inside its zone, its access, its
  knooppuntwaarde and whether it lies in a seaport (:mod:`optimizer.model.geography`);
* arcs = client → option pairs allowed by the assignment rule (own region, or any), costed on the networks: the
  cheapest chain the programme's ``transport_modes`` allow (road, road-water-road, road-rail-road) per tonne
  (:class:`~optimizer.model.geography.ArcCosts`); a coverage programme measures its service reach as straight line
  × circuity (:class:`~optimizer.model.geography.StraightArcCosts`). Above ``settings.SPARSIFY_MIN_PAIRS`` pairs (or
  ``sparsify = "on"``) only each client's k cheapest allowed options, with a
  :class:`~optimizer.model.geography.NetworkArcSource` from which the solve grows them until the sparse optimum is
  proven equal to the dense one;
* land rows = free hectares per candidate site, shared by every programme placed on it;
* model groups = which model places which programmes (:mod:`optimizer.model.plan`): the default p-median / CFLP,
  or a coverage model (LSCP, MCLP, p-center, p-median with a service distance) with its service distance; a
  programme's ``p`` is one more count row ("exactly p in total").

The returned :class:`SitingProblem` keeps the lookup tables that :mod:`optimizer.output.tables` and the domain
verifier need to turn indices back into municipalities, sites and regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.data.instance import Instance
from optimizer.data.programmes import Programme
from optimizer.errors import InputError
from optimizer.geo.access_rules import effective_rule, load_mode_rules, mode_rule_ok
from optimizer.geo.distances import equivalent_radius_km
from optimizer.geo.typology import classify_instance, eligible
from optimizer.model.geography import (
    ArcCosts,
    InstanceGeography,
    NetworkArcSource,
    StraightArcCosts,
    arc_costs,
    instance_geography,
    site_geography,
    straight_arc_costs,
)
from optimizer.model.plan import ModelGroup, check_separable, siting_groups
from optimizer.model.existing import existing_options
from optimizer.problem import CountRows, LocationProblem
from optimizer.settings import M2_PER_HA, SPARSIFY_MIN_PAIRS

FLANDERS = "Vlaanderen"


@dataclass
class SitingProblem:
    """A compiled instance: the generic problem plus the tables that give its indices meaning."""

    instance: Instance
    problem: LocationProblem
    clients: pd.DataFrame  # one row per (programme, municipality): programme, nis, region, demand_t
    options: pd.DataFrame  # one row per option: programme, site_id, size, area_m2, capacity_t, region
    sites: pd.DataFrame  # candidates with access attributes, region per programme and eligibility flags
    cost_per_tkm: float  # road EUR per t·km (1 for the t·km objective)
    circuity: float
    arc_source: NetworkArcSource | None = None  # when the arcs are k-nearest (to be certified)
    sparsify: dict = field(default_factory=dict)  # mode, pairs, threshold: why the arcs are dense or sparse
    groups: list[ModelGroup] = field(default_factory=list)  # which model places which programmes
    geography: InstanceGeography | None = None  # networks, access parameters, seaport areas
    arc_costs: dict[str, ArcCosts | StraightArcCosts] = field(default_factory=dict)  # per programme id: cost per t
    rules: dict[str, dict] = field(default_factory=dict)  # "programme:size" -> the access rule applied


def region_of(frame: pd.DataFrame, programme: Programme, variant: str = "final") -> pd.Series:
    """Region label of each municipality for a programme (one region for all of Flanders if so defined).

    A size variant may count per another partition (the cluster poster variant uses ``service_area_poster``).
    """
    column = programme.region_for(variant)
    if column == "flanders":
        return pd.Series(FLANDERS, index=frame.index)
    if column not in frame.columns:
        msg = (f"programme {programme.id!r} counts per {column!r}: the demand table has no such column; add it or "
               "map your column to it under columns in the manifest")
        raise InputError(msg, field=column)
    return frame[column].astype(str)


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Optional boolean column of a table (absent: all false)."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype(str).str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()


def option_area_m2(instance: Instance, programme: Programme, size: str, area: float) -> float:
    """Plot area of a size: the programme's figure, or its named assumption when the study gives none."""
    if size in programme.size_area_assumptions:
        return float(instance.assumption(programme.size_area_assumptions[size]))
    return float(area)


def site_access(instance: Instance, geo: InstanceGeography | None = None) -> pd.DataFrame:
    """Facility point, access, knooppuntwaarde and seaport of every candidate (:func:`site_geography`)."""
    return site_geography(instance, geo if geo is not None else instance_geography(instance))


def with_site_access(candidates: pd.DataFrame, access: pd.DataFrame) -> pd.DataFrame:
    """The candidates with their facility point and access columns (computed columns replace the table's own)."""
    return candidates.drop(columns=[c for c in access.columns if c in candidates.columns]).join(access)


def _size_per_region(programme: Programme, demand: pd.DataFrame, regions: pd.Series, rule: str) -> dict[str, list[str]]:
    """Sizes each region may take: the study's rule, or every size when the size is free."""
    sizes = list(programme.sizes_m2)
    if rule == "free" or programme.size_rule == "free":
        return {r: sizes for r in regions.unique()}
    if programme.size_rule == "single":
        return {r: [sizes[0]] for r in regions.unique()}
    has_city = demand.groupby(regions)["centrumstad"].any()
    return {r: ["large" if has_city.get(r, False) else "small"] for r in regions.unique()}


def compile_instance(instance: Instance, access: pd.DataFrame | None = None, *, closure_options: bool = True,
                     ) -> SitingProblem:
    """Turn a validated instance into a :class:`SitingProblem` (see module docstring).

    Existing facilities (``instance.existing``) become options of their programmes
    (:mod:`optimizer.model.existing`); ``closure_options=False`` leaves out the options that price closing a
    closable one (a multi-period model prices it at the transition instead).
    """
    params = instance.parameters
    chains = [p.id for p in instance.programmes if p.kind == "chain"]
    if chains:
        msg = (f"programme {chains[0]!r} is a multi-echelon chain: solve it with `siting chain {instance.name}` "
               "(optimizer/model/chain.py), not with `siting solve`")
        raise InputError(msg, file=instance.path, field="programmes.place")
    demand = instance.demand
    geo = instance_geography(instance)
    access = site_access(instance, geo) if access is None else access
    cands = with_site_access(instance.candidates, access)
    cands = cands.join(classify_instance(instance, cands))
    reserve, greenfield = _flag(cands, "reserve"), _flag(cands, "greenfield")
    cands["reserve"], cands["greenfield"] = reserve, greenfield
    munis = instance.municipalities  # one row per nis: demand points share their municipality's attributes
    in_city = munis.set_index("nis")["centrumstad"].reindex(cands["nis"].astype(str)).fillna(False).to_numpy(bool)
    # reuse first (S7, O2/O8): greenfield candidates are ineligible unless allowed (allow: on a par with existing
    # zones, the rule lifted; penalty: at the named penalty per m2 and year)
    allow_green = params["greenfield"] in ("allow", "penalty")
    penalty_m2 = (float(instance.assumption("greenfield_penalty_eur_per_m2"))
                  if params["greenfield"] == "penalty" and greenfield.any() else 0.0)
    circuity = float(instance.assumption("access_circuity"))
    cost_per_tkm = float(instance.assumption("cost_road_eur_per_tkm")) if params["objective"] == "eur" else 1.0
    rules = load_mode_rules() if params["access_rules"] != "none" else None
    applied: dict[str, dict] = {}
    intrazonal = float(instance.assumption("intrazonal_distance_factor")) * equivalent_radius_km(demand["area_km2"])
    first_row = np.flatnonzero(~demand["nis"].duplicated().to_numpy())  # a demand row of each municipality
    site_muni = pd.Series(first_row, index=demand["nis"].to_numpy()[first_row]).loc[cands["nis"]].to_numpy()

    client_rows, option_rows, arcs = [], [], []
    count_groups, count_lo, count_up, count_names = [], [], [], []
    n_clients = 0
    for prog in instance.programmes:
        variant = str(params["size_variant"])
        regions = region_of(demand, prog, variant)
        site_region = regions.to_numpy()[site_muni]
        sizes = {k: option_area_m2(instance, prog, k, v) for k, v in prog.sizes_for(variant).items()}
        allowed_sizes = _size_per_region(prog, demand, regions, str(params["size_rule"]))
        per_t = instance.assumption(prog.demand_per_inhabitant)
        cap_per_m2 = instance.assumption(prog.capacity_per_m2) if prog.capacity_per_m2 else np.inf
        if prog.model in ("lscp", "mclp") and params["enforce_capacity"] and np.isfinite(cap_per_m2):
            msg = (f"programme {prog.id!r}: the coverage model {prog.model} covers demand without assigning it, so it "
                   "cannot honour capacities; --set enforce_capacity=false, or use model pcenter or pmedian_max")
            raise InputError(msg, file="--set", field="enforce_capacity")
        type_ok = cands["zone_type"].isin(prog.zone_types).to_numpy()
        type_ok = type_ok & (prog.may_use_reserve | ~reserve)  # reserve land: storage/transhipment and banks only (S6)
        type_ok = type_ok & (allow_green | ~greenfield)
        if prog.sites_in_centrumstad:
            type_ok = type_ok & in_city
        cands[f"eligible_{prog.id}"] = False

        # options: eligible site × allowed size
        first_option = len(option_rows)
        for size, area in sizes.items():
            code = prog.access_codes.get(size, f"{prog.id}_{size}")
            rule = effective_rule(rules, str(params["access_rules"]), code, prog.id, params)
            applied[f"{prog.id}:{size}"] = rule
            access_ok = mode_rule_ok(cands, rule)
            try:
                env_ok = eligible(cands, prog.types_for(size))
            except ValueError as e:
                raise InputError(str(e), file=prog.file, field="type_environments") from e
            size_ok = np.array([size in allowed_sizes.get(r, []) for r in site_region])
            land_ok = cands["free_ha"].to_numpy() * M2_PER_HA >= area
            ok = type_ok & env_ok & access_ok & size_ok & land_ok
            cands.loc[type_ok & env_ok & access_ok, f"eligible_{prog.id}"] = True
            for s in np.flatnonzero(ok):
                option_rows.append(
                    {
                        "programme": prog.id,
                        "site": s,
                        "site_id": cands.at[s, "site_id"],
                        "size": size,
                        "area_m2": area,
                        "capacity_t": area * cap_per_m2 if params["enforce_capacity"] else np.inf,
                        "region": site_region[s],
                        "greenfield": bool(greenfield[s]),
                        "reserve": bool(reserve[s]),
                        "fixed_eur": penalty_m2 * area if greenfield[s] else 0.0,
                    }
                )
        if len(option_rows) == first_option:
            raise InputError(
                f"programme {prog.id!r}: no candidate site is eligible (zone types {list(prog.zone_types)}, "
                f"type environments {list(prog.type_environments) or 'any'}, "
                f"access rules {params['access_rules']!r}, enough free land); check the candidates' zone_type, "
                f"free_ha and access columns, or relax the rule with --set access_rules=loose",
                file=instance.path,
                field="programmes.place",
            )
        n_new = len(option_rows) - first_option
        option_rows += existing_options(instance, prog, cands, site_region, cap_per_m2, closure=closure_options)
        options_p = pd.DataFrame(option_rows[first_option:])
        option_idx = np.arange(first_option, first_option + len(options_p))
        new_p = np.arange(len(options_p)) < n_new
        counted = new_p | _flag_column(options_p, "counts")
        closure_p = _flag_column(options_p, "closure")

        # count rows: per_region facilities in every region (or a total for Flanders); an existing facility
        # counts where its table row says so
        lo, up = prog.count_bounds(variant)
        for region in sorted(regions.unique()) if (lo, up) != (0.0, np.inf) else []:  # no count: the model decides
            members = option_idx[(options_p["region"].to_numpy() == region) & counted]
            count_groups.append(members)
            count_lo.append(lo)
            count_up.append(up)
            want = f"{lo:g}" if lo == up else f"{lo:g}..{up:g}"
            count_names.append(f"{prog.id}: {want} per {prog.region_for(variant)} '{region}'")
        if prog.p is not None:  # a coverage programme's p: exactly p facilities in total (existing ones that count)
            count_groups.append(option_idx[counted])
            count_lo.append(float(prog.p))
            count_up.append(float(prog.p))
            count_names.append(f"{prog.id}: exactly p = {prog.p}")
        # at most one option (size) of this programme per site (new facilities)
        site_of = options_p["site"].to_numpy()[:n_new]
        for s in np.unique(site_of):
            members = option_idx[:n_new][site_of == s]
            if len(members) > 1:
                count_groups.append(members)
                count_lo.append(0)
                count_up.append(1)
                count_names.append(f"{prog.id}: one size at site {cands.at[s, 'site_id']}")
        # a closable existing facility is kept or closed (its closure option carries the closing cost)
        for j in np.flatnonzero(closure_p):
            keep = np.flatnonzero(~closure_p & ~new_p & (options_p["existing_id"] == options_p["existing_id"].iat[j]))
            count_groups.append(option_idx[[keep[0], j]])
            count_lo.append(1)
            count_up.append(1)
            count_names.append(f"{prog.id}: keep or close existing {options_p['existing_id'].iat[j]}")

        # clients of this programme
        clients_p = pd.DataFrame(
            {
                "programme": prog.id,
                "id": demand["id"].to_numpy(),
                "nis": demand["nis"].to_numpy(),
                "name": demand["name"].to_numpy(),
                "region": regions.to_numpy(),
                "muni": np.arange(len(demand)),
                "demand_t": demand["population"].to_numpy(float) * per_t,
            }
        )
        client_rows.append(clients_p)

        # arcs: own region, or any option of the programme; built below, dense or k-nearest
        assignment = prog.assignment if params["assignment"] == "programme" else str(params["assignment"])
        # closure options come last in the programme's block and take no arcs
        arcs.append((clients_p, options_p[~closure_p], n_clients, first_option, assignment == "own_region"))
        n_clients += len(clients_p)

    clients = pd.concat(client_rows, ignore_index=True)
    options = pd.DataFrame(option_rows)
    m = len(options)
    counts = CountRows.from_groups(count_groups, count_lo, count_up, count_names, m)
    xy = (demand[["x", "y"]].to_numpy(float), cands[["x", "y"]].to_numpy(float))
    costs: dict[object, ArcCosts | StraightArcCosts] = {}
    for prog in instance.programmes:  # one set of pair costs per distinct set of allowed modes
        key = "straight" if prog.is_coverage else prog.transport_modes
        if key not in costs:
            costs[key] = (straight_arc_costs(geo, xy[0], xy[1], intrazonal, str(params["objective"]))
                          if prog.is_coverage else
                          arc_costs(geo, xy[0], xy[1], intrazonal, prog.transport_modes, str(params["objective"])))
    per_programme = {prog.id: costs["straight" if prog.is_coverage else prog.transport_modes]
                     for prog in instance.programmes}
    pairs = sum(_pair_count(c, o, own) for c, o, _, _, own in arcs)
    mode = str(params.get("sparsify", "off"))
    coverage = [p for p in instance.programmes if p.is_coverage]
    if coverage and mode == "on":
        msg = (f"programme {coverage[0].id!r} uses the coverage model {coverage[0].model}, which needs every allowed "
               "pair (k-nearest arcs are certified for the p-median only): use sparsify=auto or off")
        raise InputError(msg, file="--set", field="sparsify")
    sparse = mode == "on" or (mode == "auto" and pairs > SPARSIFY_MIN_PAIRS and not coverage)
    decision = {"mode": mode, "pairs": int(pairs), "threshold_pairs": SPARSIFY_MIN_PAIRS, "sparse": sparse}
    if sparse:
        own = {str(c["programme"].iat[0]) for c, _, _, _, own in arcs if own and len(c)}
        source = _network_arc_source(clients, options, own, per_programme)
        first = source.nearest(int(params.get("sparsify_k", 16)))  # the certificate in solve grows these
        arcs = [(first.arc_client, first.arc_option, first.arc_cost)]
    else:
        source = None
        arcs = [_dense_arcs(c, o, n0, o0, own, per_programme[str(c["programme"].iat[0])])
                for c, o, n0, o0, own in arcs]
    arc_client = np.concatenate([a[0] for a in arcs])
    arc_option = np.concatenate([a[1] for a in arcs])
    problem = LocationProblem(
        name=instance.name,
        client_ids=(clients["programme"] + ":" + clients["id"].astype(str)).to_numpy(),
        demand=clients["demand_t"].to_numpy(float),
        site_ids=cands["site_id"].to_numpy(),
        site_free_m2=cands["free_ha"].to_numpy(float) * M2_PER_HA,
        option_ids=_option_ids(options),
        option_site=options["site"].to_numpy(int),
        option_programme=options["programme"].to_numpy(),
        option_size=options["size"].to_numpy(),
        capacity=options["capacity_t"].to_numpy(float),
        fixed_cost=options["fixed_eur"].to_numpy(float),
        area_m2=options["area_m2"].to_numpy(float),
        arc_client=arc_client,
        arc_option=arc_option,
        arc_cost=np.concatenate([a[2] for a in arcs]),
        # km per mode of the used arcs come from the arc costs' modal split (optimizer.output.tables); a coverage
        # model needs every arc's km (its service reach), so they are kept when one is placed
        arc_km=_arc_km(arc_client, arc_option, clients, options, per_programme) if coverage else None,
        counts=counts,
        single_source=bool(params["single_source"]),
        land_cost_per_m2=float(params["land_cost_eur_per_m2"]),
        cost_unit="EUR/yr" if params["objective"] == "eur" else _distance_unit(instance.programmes),
        required=options["required"].fillna(False).to_numpy(bool) if "required" in options else None,
    )
    problem.check_shapes()
    groups = siting_groups(instance.programmes, clients, options)
    check_separable(problem, groups, cands["site_id"].to_numpy())
    return SitingProblem(instance, problem, clients, options, cands, cost_per_tkm, circuity, source, decision, groups,
                         geo, per_programme, applied)


def _distance_unit(programmes: list[Programme]) -> str:
    """Unit of the transport term without a price: t·km/yr, or e.g. resident·km when every programme counts residents."""
    units = {p.demand_unit for p in programmes}
    if units == {"residents"}:
        return "resident·km"
    return "t·km/yr"


def _flag_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A boolean column of an option table that only existing facilities fill (absent or blank: false)."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].fillna(False).to_numpy(bool)


def _option_ids(options: pd.DataFrame) -> np.ndarray:
    """``programme:site:size`` of a new option; ``programme:existing:ID`` (or ``:closure:ID``) of an existing one."""
    ids = options["programme"] + ":" + options["site_id"] + ":" + options["size"]
    if "existing_id" in options:
        ex = options["existing"].fillna(False).to_numpy(bool)
        ids[ex] = options["programme"][ex] + ":" + options["size"][ex] + ":" + options["existing_id"][ex]
    return ids.to_numpy()


def _pair_count(clients_p: pd.DataFrame, options_p: pd.DataFrame, own_region: bool) -> int:
    """Allowed client × option pairs of one programme, counted without forming them."""
    if not own_region:
        return len(clients_p) * len(options_p)
    per_region = options_p["region"].value_counts()
    return int(clients_p["region"].map(per_region).fillna(0).sum())


def _arc_km(arc_client: np.ndarray, arc_option: np.ndarray, clients: pd.DataFrame, options: pd.DataFrame,
            per_programme: dict[str, ArcCosts | StraightArcCosts]) -> np.ndarray:
    """km of every arc: its route's km (network chain, or straight × circuity for a coverage programme)."""
    km = np.zeros(len(arc_client))
    prog = clients["programme"].to_numpy()[arc_client]
    muni, site = clients["muni"].to_numpy()[arc_client], options["site"].to_numpy()[arc_option]
    for pid, costs in per_programme.items():
        rows = np.flatnonzero(prog == pid)
        if len(rows):
            km[rows] = costs.split(muni[rows], site[rows])[:, :3].sum(axis=1)
    return km


def _dense_arcs(clients_p: pd.DataFrame, options_p: pd.DataFrame, n0: int, o0: int, own_region: bool,
                costs: ArcCosts | StraightArcCosts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed pair of one programme (vectorised over all its pairs): client, option, cost."""
    ci, oj = np.meshgrid(np.arange(len(clients_p)), np.arange(len(options_p)), indexing="ij")
    ci, oj = ci.ravel(), oj.ravel()
    if own_region:
        keep = clients_p["region"].to_numpy()[ci] == options_p["region"].to_numpy()[oj]
        ci, oj = ci[keep], oj[keep]
    per_t = costs.per_t(clients_p["muni"].to_numpy()[ci], options_p["site"].to_numpy()[oj])
    return ci + n0, oj + o0, clients_p["demand_t"].to_numpy()[ci] * per_t


def _network_arc_source(clients: pd.DataFrame, options: pd.DataFrame, own_region: set[str],
                        per_programme: dict[str, ArcCosts]) -> NetworkArcSource:
    """The k-nearest cost source of all programmes: a pair is allowed when client and option share a group
    (the programme, and the region where the assignment stays inside it)."""
    own = clients["programme"].isin(own_region).to_numpy()
    c_key = clients["programme"].astype(str) + np.where(own, "\x1f" + clients["region"].astype(str), "")
    o_own = options["programme"].isin(own_region).to_numpy()
    o_key = options["programme"].astype(str) + np.where(o_own, "\x1f" + options["region"].astype(str), "")
    if "closure" in options:  # closure options (existing facilities) take no arcs: a group no client shares
        o_key = o_key.where(~options["closure"].fillna(False).astype(bool), "\x1eclosure")
    codes, _ = pd.factorize(pd.concat([c_key, o_key], ignore_index=True))
    programmes = list(per_programme)
    return NetworkArcSource(
        costs=[per_programme[p] for p in programmes],
        client_costs=clients["programme"].map({p: k for k, p in enumerate(programmes)}).to_numpy(np.int64),
        client_muni=clients["muni"].to_numpy(np.int64),
        client_tonnes=clients["demand_t"].to_numpy(float),
        client_group=codes[: len(clients)],
        option_site=options["site"].to_numpy(np.int64),
        option_group=codes[len(clients):],
    )
