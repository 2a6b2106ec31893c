"""The plastics chain (S2b, S5, S8): tiny chains against brute force, the verifier against tampered solutions,
and the named chain instances' structure (existing sites fixed, gateways per ambition level)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from optimizer.check.chain import brute_force_chain, verify_chain
from optimizer.data.instance import load_instance
from optimizer.model.chain import ChainProblem, ChainSolution, CostModel
from optimizer.model.chain_compile import compile_chain
from optimizer.solver.chain import solve_chain

COSTS = CostModel(road_eur_per_tkm=0.10, water_eur_per_tkm=0.035, transhipment_eur_per_t=4.0, circuity=1.3,
                  water_detour=1.1)


def tiny_chain(seed: int) -> tuple[ChainProblem, dict]:
    """A random chain small enough to enumerate: 5 municipalities, 1 existing + 3 new sorting centres, 1 + 2
    mechanical, 1 + 1 chemical, one import gateway, 5 sites whose free land is shared by the echelons."""
    rng = np.random.default_rng(seed)
    n_sites = 5
    site_xy = rng.uniform(0, 60_000, (n_sites, 2))
    site_water = rng.random(n_sites) < 0.6
    ech = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    existing = np.array([True, False, False, False, True, False, False, True, False])
    site = np.array([0, 1, 2, 3, 4, 1, 3, 4, 2])
    area = np.array([40_000, 40_000, 40_000, 40_000, 60_000, 60_000, 60_000, 120_000, 120_000], float)
    cxy = rng.uniform(0, 60_000, (5, 2))
    supply = rng.uniform(500, 3_000, 5)
    yields = np.array([0.3, 0.85, 0.0])
    sort_cap = rng.uniform(0.4, 0.7) * supply.sum()
    mech_need = supply.sum() * yields[0]
    chem_need = yields[1] * 1.2 * mech_need  # agglomerates from the sorted bales and the gateway's 0.2 x mech_need
    cap = np.array([sort_cap] * 4 + [0.5 * mech_need, 0.8 * mech_need, 0.8 * mech_need,
                                      rng.uniform(0.8, 1.3) * chem_need, 0.7 * chem_need], float)
    gxy = rng.uniform(0, 60_000, (1, 2))
    gw_supply = np.array([0.2 * mech_need])
    intrazonal = rng.uniform(0.5, 3.0, 5)
    fxy = site_xy[site]
    fwater = site_water[site]
    arcs = [("collect", i, j) for i in range(5) for j in np.flatnonzero(ech == 0)]
    arcs += [("link", a, b) for e in (0, 1) for a in np.flatnonzero(ech == e) for b in np.flatnonzero(ech == e + 1)]
    arcs += [("import", 0, b) for b in np.flatnonzero(ech == 1)]
    kinds = np.array([k for k, _, _ in arcs])
    frm = np.array([a for _, a, _ in arcs], dtype=int)
    to = np.array([b for _, _, b in arcs], dtype=int)
    src_xy = {"collect": cxy, "import": gxy, "link": fxy}
    src_w = {"collect": np.zeros(5, bool), "import": np.array([True]), "link": fwater}
    cost, km = np.zeros(len(kinds)), np.zeros(len(kinds))
    for k in range(len(kinds)):
        a = src_xy[kinds[k]][frm[k]]
        d = np.hypot(*(a - fxy[to[k]])) / 1000.0
        r = intrazonal[frm[k]] if kinds[k] == "collect" else 0.0
        c, kk, _ = COSTS.per_t(np.array([d]), np.array([src_w[kinds[k]][frm[k]]]), np.array([fwater[to[k]]]), r)
        cost[k], km[k] = c[0], kk[0]
    free = np.full(n_sites, 130_000.0)
    free[rng.choice([0, 1, 3])] = 50_000.0  # one cramped site; at site 2 a new sorting centre and chemical plant compete
    p = ChainProblem(
        client_ids=np.array([f"m{i}" for i in range(5)]), supply_t=supply,
        fac_ids=np.array([f"f{j}" for j in range(len(ech))]), fac_echelon=ech, fac_site=site, fac_area_m2=area,
        fac_capacity_t=cap, fac_existing=existing, site_ids=np.array([f"s{s}" for s in range(n_sites)]),
        site_free_m2=free, gw_ids=np.array(["gw"]), gw_supply_t=gw_supply, yields=yields,
        new_count=np.array([[1.0, 2.0], [0.0, 2.0], [0.0, 1.0]]), arc_kind=kinds, arc_from=frm, arc_to=to,
        arc_cost_per_t=cost, arc_km=km, land_cost_per_m2=float(rng.choice([0.0, 0.002, 0.02])),
    )
    coords = {"clients": cxy, "facilities": fxy, "gateways": gxy, "fac_water": fwater,
              "gw_water": np.array([True]), "intrazonal_km": intrazonal}
    return p, coords


def two_streams(p: ChainProblem, ps_share: float) -> ChainProblem:
    """The tiny chain with PS and PO apart: every sorting → mechanical arc twice (one per stream), the existing
    chemical plant takes PS only, the new one PO only, the gateway delivers PO."""
    takes = np.where(p.fac_echelon == 2, np.where(p.fac_existing, 0, 1), -1)
    keep, stream = [], []
    for k in range(p.n_arcs):
        if p.arc_kind[k] == "collect":
            keep.append(k), stream.append(-1)
        elif p.arc_kind[k] == "import":
            keep.append(k), stream.append(1)
        elif p.fac_echelon[p.arc_to[k]] == 1:
            keep += [k, k]
            stream += [0, 1]
        else:
            keep.append(k), stream.append(int(takes[p.arc_to[k]]))
    keep = np.array(keep)
    return dataclasses.replace(p, arc_kind=p.arc_kind[keep], arc_from=p.arc_from[keep], arc_to=p.arc_to[keep],
                               arc_cost_per_t=p.arc_cost_per_t[keep], arc_km=p.arc_km[keep], stream_ids=("PS", "PO"),
                               stream_share=np.array([ps_share, 1 - ps_share]), fac_stream=takes,
                               arc_stream=np.array(stream))


def _solved_as_enumerated(p: ChainProblem, coords: dict) -> ChainSolution | None:
    """Solve ``p`` and assert what enumeration says: infeasible (then ``None``), or optimal at the enumerated
    optimum and passing the verifier (then the solution)."""
    expected = brute_force_chain(p)
    s = solve_chain(p, time_limit_s=30, mip_gap=0.0)
    if not np.isfinite(expected):
        assert s.status == "infeasible"
        return None
    assert s.status == "optimal"
    assert s.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert verify_chain(p, s, coords, COSTS) == []
    return s


@pytest.mark.parametrize("seed", range(4))
def test_two_stream_chain_matches_brute_force(seed: int) -> None:
    """PS and PO apart: the MIP equals enumeration, and no PS reaches the PO plant (or PO the PS plant)."""
    p, coords = tiny_chain(seed)
    p = two_streams(p, ps_share=0.5)
    s = _solved_as_enumerated(p, coords)
    if s is None:
        return
    into_chem = (p.fac_echelon[p.arc_to] == 2) & (s.flow_t > 1e-9)
    assert np.all(p.arc_streams[into_chem] == p.fac_streams[p.arc_to[into_chem]])


def test_verifier_rejects_a_stream_in_the_wrong_plant() -> None:
    for seed in range(6):
        p, coords = tiny_chain(seed)
        p = two_streams(p, ps_share=0.5)
        s = solve_chain(p, time_limit_s=30, mip_gap=0.0)
        if s.status == "optimal":
            break
    k = int(np.flatnonzero((p.fac_echelon[p.arc_to] == 2) & (s.flow_t > 1.0))[0])
    wrong = p.arc_stream.copy()
    wrong[k] = 1 - wrong[k]  # relabel a delivered flow as the other stream
    v = verify_chain(dataclasses.replace(p, arc_stream=wrong), s, coords, COSTS)
    assert any("takes" in m for m in v), v


@pytest.fixture(scope="module")
def solved() -> tuple[ChainProblem, dict, ChainSolution]:
    p, coords = tiny_chain(3)
    s = solve_chain(p, time_limit_s=30, mip_gap=0.0)
    assert s.status == "optimal"
    return p, coords, s


@pytest.mark.parametrize("seed", range(6))
def test_tiny_chain_matches_brute_force(seed: int) -> None:
    p, coords = tiny_chain(seed)
    _solved_as_enumerated(p, coords)


def test_tiny_chains_are_not_trivial() -> None:
    """The brute-force cases differ: some open a new chemical plant, some make do with the existing one."""
    opened = set()
    for seed in range(6):
        p, _ = tiny_chain(seed)
        s = solve_chain(p, time_limit_s=30, mip_gap=0.0)
        opened.add(int((s.open_fac & ~p.fac_existing & (p.fac_echelon == 2)).sum()))
    assert opened == {0, 1}


def test_solution_passes_verification(solved: tuple) -> None:
    p, coords, s = solved
    assert verify_chain(p, s, coords, COSTS) == []


def _tampered(s: ChainSolution, **changes: np.ndarray) -> ChainSolution:
    return dataclasses.replace(s, **changes)


def test_verifier_rejects_a_changed_flow(solved: tuple) -> None:
    p, coords, s = solved
    flow = s.flow_t.copy()
    k = int(np.flatnonzero((p.arc_kind == "collect") & (flow > 1.0))[0])
    flow[k] *= 0.9  # a municipality no longer sends all its PMD
    v = verify_chain(p, _tampered(s, flow_t=flow), coords, COSTS)
    assert any("supply" in m for m in v), v


def test_verifier_rejects_an_extra_open_facility(solved: tuple) -> None:
    p, coords, s = solved
    y = s.open_fac.copy()
    closed_new = np.flatnonzero(~y & ~p.fac_existing)
    assert closed_new.size
    y[closed_new] = True  # open every closed candidate: counts, land or objective must break
    v = verify_chain(p, _tampered(s, open_fac=y), coords, COSTS)
    assert v


def test_verifier_rejects_a_closed_existing_site(solved: tuple) -> None:
    p, coords, s = solved
    y = s.open_fac.copy()
    y[np.flatnonzero(p.fac_existing)[0]] = False
    v = verify_chain(p, _tampered(s, open_fac=y), coords, COSTS)
    assert any("existing facility" in m for m in v), v


def test_verifier_rejects_a_broken_yield(solved: tuple) -> None:
    p, coords, s = solved
    flow = s.flow_t.copy()
    k = int(np.flatnonzero((p.arc_kind == "link") & (flow > 1.0))[0])
    flow[k] *= 1.5  # more leaves a sorting centre than its yield allows
    v = verify_chain(p, _tampered(s, flow_t=flow), coords, COSTS)
    assert any("yield" in m for m in v), v


def test_verifier_rejects_a_wrong_arc_cost(solved: tuple) -> None:
    p, coords, s = solved
    k = int(np.flatnonzero(s.flow_t > 1.0)[0])
    cost = p.arc_cost_per_t.copy()
    cost[k] *= 0.5
    v = verify_chain(dataclasses.replace(p, arc_cost_per_t=cost), s, coords, COSTS)
    assert any("recomputed" in m for m in v), v


def test_verifier_rejects_a_wrong_objective(solved: tuple) -> None:
    p, coords, s = solved
    v = verify_chain(p, _tampered(s, objective=s.objective * 1.01 + 1.0), coords, COSTS)
    assert any("objective" in m for m in v), v


# ------------------------------------------------------------------------------------------------------------
# The named chain instances (compiled, not solved: the full solves run in benchmarks/instances/run_all.py)
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s2b():
    return compile_chain(load_instance("s2b-plastics-chain"))


def test_existing_indaver_sites_are_fixed(s2b) -> None:
    """The Indaver sites come from the existing-facility table (tests/data/test_existing.py checks the rows)."""
    fac = s2b.facilities
    ex = fac[fac["existing"]]
    by_id = ex.set_index("existing_id")
    # the study names the town or the port: each row of the table names the largest zone there (the port sites:
    # inside the Antwerp seaport area; docs/existing-facilities.md)
    nis = {i: sid[1:].split("-")[0] for i, sid in by_id["site_id"].items()}
    assert nis["indaver-grimbergen"] == "23025"
    assert nis["indaver-willebroek-pretreatment"] == nis["indaver-willebroek-sorting"] == "12040"
    assert nis["indaver-doel"] == nis["indaver-kallo"] == "46030"
    port = ["indaver-doel", "indaver-kallo", "indaver-p2c-antwerpen"]
    assert (by_id.loc[port, "seaport"] == "Antwerpen").all() and by_id.loc[port, "has_seaport"].all()
    assert set(ex.groupby("echelon").size().to_dict().items()) == {(0, 4), (1, 1), (2, 1)}  # Willebroek sorts too
    cap = ex.set_index("name")["capacity_t"]
    assert cap["Indaver Willebroek (mechanical recycling / pre-treatment)"] == 16_000  # L10706-10709
    assert cap["Indaver P2C Antwerpen (chemical recycling, PS)"] == 65_000  # L10751-10754
    p = s2b.problem
    assert p.fac_existing[ex.index].all() and (p.new_count[0] == [14, 14]).all()  # 14 new, L10738-10739


def test_new_chemical_plants_only_in_the_seaport(s2b) -> None:
    """'In a seaport' is the port geometry: every chemical-recycling candidate lies inside a seaport area."""
    import shapely

    from optimizer.geo.zones import load_seaport_areas

    new_chem = s2b.facilities[(s2b.facilities["echelon"] == 2) & ~s2b.facilities["existing"]]
    assert len(new_chem) and (new_chem["type_environment"] == "seaport").all() and new_chem["has_seaport"].all()
    port = shapely.union_all(load_seaport_areas().geometry.to_numpy())
    chem = s2b.facilities[s2b.facilities["echelon"] == 2]
    assert shapely.contains_xy(port, chem["x"].to_numpy(), chem["y"].to_numpy()).all()
    new_mech = s2b.facilities[(s2b.facilities["echelon"] == 1) & ~s2b.facilities["existing"]]
    assert len(new_mech) and (new_mech["type_environment"] != "seaport").all()  # 'buiten de haven'


BELGIUM, EUROPE, CROSS = "chain_import_belgium_t_yr", "chain_import_europe_t_yr", "chain_import_crossborder_t_yr"


@pytest.mark.parametrize(("overrides", "gateways", "volumes"), [  # each gateway delivers PS and PO bales: two rows
    ({}, 0, []),
    ({"chain_ambition": "belgium"}, 4, [BELGIUM]),
    ({"chain_ambition": "europe"}, 6, [BELGIUM, EUROPE]),
    ({"chain_crossborder": "true"}, 6, [CROSS]),
    ({"chain_ambition": "europe", "chain_crossborder": "true"}, 12, [BELGIUM, EUROPE, CROSS]),
])
def test_ambition_and_crossborder_are_parameters(overrides: dict, gateways: int, volumes: list[str]) -> None:
    """Each level adds its gateways, and they deliver exactly the named import volumes (split over the gateways
    of a level, models/plastics_chain.toml), no more and no less."""
    inst = load_instance("s2b-plastics-chain", overrides)
    cc = compile_chain(inst)
    assert len(cc.gateways) == gateways
    assert (cc.problem.gw_supply_t > 0).all()
    expected = sum(inst.assumption(name) for name in volumes)
    assert cc.problem.gw_supply_t.sum() == pytest.approx(expected, rel=1e-9)
    if volumes:
        assert expected > 0


def test_named_chain_instances_set_their_scenario() -> None:
    expect = {"s2b-plastics-chain": ("flanders", False), "s5-hub-ambition-low": ("flanders", False),
              "s5-hub-ambition-mid": ("belgium", False), "s5-hub-ambition-high": ("europe", False),
              "s8-cross-border": ("flanders", True)}
    for name, (ambition, crossborder) in expect.items():
        params = load_instance(name).parameters
        assert (params["chain_ambition"], params["chain_crossborder"]) == (ambition, crossborder), name


def test_bad_ambition_is_one_clear_error() -> None:
    from optimizer.errors import InputError

    with pytest.raises(InputError, match="chain_ambition"):
        load_instance("s2b-plastics-chain", {"chain_ambition": "mars"})


def test_chain_run_writes_a_full_run_manifest(chain_result) -> None:  # noqa: ANN001
    """A chain solve through the one pipeline: verified result, honest gap, the manifest every run carries."""
    s = chain_result.summary
    assert s["format"] == "circular-siting/result" and s["kind"] == "chain"
    assert s["status"] in ("optimal", "feasible") and s["verification"]["passed"]
    assert s["gap"] is None or 0.0 <= s["gap"] < 1.0
    assert (s["gap"] is None) == (s["bound"] is None)
    assert len(s["instance_hash"]) == 64 and "highspy" in s["versions"]
    assert {"build", "solve", "verify"} <= set(s["timings_s"])
    assert s["verification"]["objective_recomputed"] == pytest.approx(s["objective"]["total"], rel=1e-9)
    assert s["objective"]["total"] == pytest.approx(s["objective"]["transport"] + s["objective"]["land"], rel=1e-12)
    assert s["objective_eur_per_yr"] == s["objective"]["total"] and s["land_take_ha"] == s["new_land_take_ha"]
    written = json.loads((chain_result.folder / "summary.json").read_text(encoding="utf-8"))
    assert written["objective"] == s["objective"] and written["overrides"] == {}


def test_a_chemical_plant_lands_inside_a_port_zone(chain_result) -> None:  # noqa: ANN001
    """Acceptance (issue 12): the chemical-recycling plants of a solved chain (the new PO plant and P2C) stand on
    zones of a seaport area (CORINE port land or industry inside the port), at points inside their zone polygons
    and inside the seaport area; the mechanical plants stay outside it ('buiten de haven')."""
    import geopandas as gpd
    import shapely

    from optimizer.geo.zones import ZONES_GPKG, load_seaport_areas

    fac = chain_result.tables["facilities"]
    chem = fac[fac["echelon"] == "chemical"]
    assert (~chem["existing"]).sum() == 1 and chem["existing"].sum() == 1  # the new PO plant beside P2C
    zones = gpd.read_file(ZONES_GPKG, layer="zones").set_index("zone_id")
    here = zones.loc[chem["site_id"]]
    assert here["seaport"].notna().all() and (here["seaport"].astype(str) == "Antwerpen").all()
    points = shapely.points(chem[["x", "y"]].to_numpy(float))
    assert shapely.contains(here.geometry.to_numpy(), points).all()
    port = shapely.union_all(load_seaport_areas().geometry.to_numpy())
    assert shapely.contains(port, points).all()
    mech = fac[(fac["echelon"] == "mechanical") & ~fac["existing"]]
    assert not shapely.contains(port, shapely.points(mech[["x", "y"]].to_numpy(float))).any()


def test_chain_summary_is_strict_json(chain_result) -> None:  # noqa: ANN001
    text = (chain_result.folder / "summary.json").read_text(encoding="utf-8")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json: not strict JSON"))


# ------------------------------------------------------------------------------------------------------------
# The chain: Indaver's sites are rows of the table, not hard-wired; PS and PO are separate streams
# ------------------------------------------------------------------------------------------------------------
def test_chain_takes_its_existing_sites_from_the_table(s2b) -> None:
    fac = s2b.facilities
    ex = fac[fac["existing"]].set_index("existing_id")
    assert set(ex.index) == {"indaver-p2c-antwerpen", "indaver-willebroek-pretreatment", "indaver-willebroek-sorting",
                             "indaver-grimbergen", "indaver-doel", "indaver-kallo"}
    assert ex.loc["indaver-willebroek-sorting", "echelon"] == 0 and ex.loc["indaver-willebroek-pretreatment",
                                                                             "echelon"] == 1
    assert ex.loc["indaver-willebroek-pretreatment", "capacity_t"] == 16_000  # L10706-10709
    assert ex.loc["indaver-p2c-antwerpen", "capacity_t"] == 65_000  # end state: by 2028, L10751-10754
    assert s2b.problem.stream_ids == ("PS", "PO")
    assert ex.loc["indaver-p2c-antwerpen", "stream"] == 0  # P2C takes PS only
    new_chem = fac[(fac["echelon"] == 2) & ~fac["existing"]]
    assert (new_chem["stream"] == 1).all()  # the planned plant is the PO plant


def test_ps_never_reaches_a_po_plant(s2b) -> None:
    p = s2b.problem
    into_chem = p.fac_echelon[p.arc_to] == 2
    takes = p.fac_streams[p.arc_to]
    assert np.all(p.arc_streams[into_chem] == takes[into_chem])


@pytest.mark.parametrize(("variant", "check"), [
    ("initial", lambda f: f.loc["indaver-p2c-antwerpen", "capacity_t"] == 26_000),
    ("willebroek_mechanical_only", lambda f: "indaver-willebroek-sorting" not in f.index),
])
def test_chain_variants_change_the_existing_sites(variant: str, check) -> None:
    cc = compile_chain(load_instance("s2b-plastics-chain", {"size_variant": variant}))
    assert check(cc.facilities[cc.facilities["existing"]].set_index("existing_id"))


def test_include_existing_counts_the_table_rows(s2b) -> None:
    cc = compile_chain(load_instance("s2b-plastics-chain", {"size_variant": "include_existing"}))
    n_existing = int((cc.facilities["existing"] & (cc.facilities["echelon"] == 0)).sum())
    assert cc.problem.new_count[0, 0] == 14 - n_existing
    assert pd.Series(s2b.problem.new_count[0]).eq(14).all()
