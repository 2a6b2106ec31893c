"""Reliability: infeasibility explained, time limits, the verifier against broken solutions, determinism.

Issue 7, parts 2, 3, 4 and 7. Solves go through the real pipeline (and, where the planner's view matters, the
real CLI, in process; determinism across processes with one run in a new process).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CORPUS, PROJECT_ROOT
from conftest import siting as run_cli

from optimizer.check.diagnose import iis_explanation, presolve_checks
from optimizer.check.verify import verify_problem, verify_siting
from optimizer.data.instance import load_instance
from optimizer.model.formulation import compile_instance
from optimizer.output.tables import result_tables
from optimizer.pipeline import solve
from optimizer.problem import Solution
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

SORTING = CORPUS / "sorting"


@pytest.fixture
def sorting_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test-only programme folder tests/corpus/sorting/models on the programme search path."""
    import optimizer.data.instance as instance
    import optimizer.data.programmes as programmes

    monkeypatch.setattr(instance, "load_programme",
                        functools.partial(programmes.load_programme, models_dir=SORTING / "models"))
    return SORTING / "instance.toml"


def siting(*args: str):  # noqa: ANN202 - conftest.Ran
    return run_cli(*args)


# ---------------------------------------------------------------------------------------------------------------
# 2. Infeasibility explained in the instance's terms
# ---------------------------------------------------------------------------------------------------------------
def test_sorting_centre_without_canal_names_region_and_rule(sorting_models: Path, tmp_path: Path) -> None:
    """Acceptance: the sorting-centre rule road + water in an arrondissement without a canal."""
    out = tmp_path / "never"
    proc = siting("solve", sorting_models, "--out", out)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    text = proc.stderr
    for region in ("Diksmuide", "Leuven", "Maaseik"):  # no CEMT >= IV quay within reach on the real waterways
        assert f"arrondissement '{region}'" in text, text
    assert "strict.P_SORT" in text and "road + water" in text and "lack water" in text
    assert "access_rules=loose" in text  # what to try
    assert "'Antwerpen'" not in text  # only the failing regions are named
    assert not out.exists()


def test_capacity_infeasibility_presolve_and_iis() -> None:
    """Capacity below demand is caught before solving; HiGHS' IIS points at the same arrondissement."""
    sp = compile_instance(load_instance("materialenbanken", {"enforce_capacity": "true"}))
    reasons = presolve_checks(sp)
    assert len(reasons) == 1 and "Halle-Vilvoorde" in reasons[0] and "t/yr" in reasons[0]
    iis = iis_explanation(sp)
    assert iis and "Halle-Vilvoorde" in iis[0] and "count rule" in iis[0] and "capacity" in iis[0]
    assert "Antwerpen" not in iis[0]


def test_iis_names_land_conflict() -> None:
    """A conflict no single-region check sees (two banks on one shared site) is explained by the IIS."""
    sp = compile_instance(load_instance(CORPUS / "base" / "instance.toml"))
    p = sp.problem
    # every option on site 0, which has room for the larger bank only; Oostende and Veurne each need one
    free = np.zeros_like(p.site_free_m2)
    free[0] = p.area_m2.max()
    broken = dataclasses.replace(p, site_free_m2=free, option_site=np.zeros_like(p.option_site))
    sp2 = dataclasses.replace(sp, problem=broken)
    assert solve_problem(broken, SolveOptions(mip_gap=0.0)).status == "infeasible"
    iis = iis_explanation(sp2)
    assert iis and "free land" in iis[0] and "count rule" in iis[0], iis


# ---------------------------------------------------------------------------------------------------------------
# 3. Time limits
# ---------------------------------------------------------------------------------------------------------------
HARD = ["--set", "size_rule=free", "--set", "enforce_capacity=true"]


def test_time_limit_returns_best_solution_marked_not_optimal(tmp_path: Path) -> None:
    """The highspy backend starts from a heuristic incumbent: at 0.01 s the best solution is returned, exit 0.

    (0.01 s: on an idle machine the Lagrangian bound proves this instance optimal within 0.2 s.)
    """
    import pyogrio

    out = tmp_path / "tl"
    proc = siting("solve", "materialenbanken", "--out", str(out), "--time-limit", "0.01", "--backend", "highspy", *HARD)
    assert proc.returncode == 0, proc.stderr
    assert "NOT OPTIMAL" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible" and summary["optimal"] is False
    assert summary["verification"]["passed"]
    meta = pyogrio.read_info(out / "result.gpkg", layer="facilities")
    dataset = meta.get("dataset_metadata") or {}
    layer = meta.get("layer_metadata") or {}
    assert dataset.get("status") == "feasible" and layer.get("status") == "feasible"


def test_time_limit_does_not_claim_a_zero_gap(tmp_path: Path) -> None:
    """At the limit the highspy backend reports the best bound it has (Lagrangian or HiGHS'), never -inf."""
    out = tmp_path / "tl"
    proc = siting("solve", "materialenbanken", "--out", str(out), "--time-limit", "0.01", "--backend", "highspy", *HARD)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gap"] is not None, "no proven gap reported for a time-limited solve"
    assert "gap 0.000%" not in proc.stdout


def test_time_limit_without_solution_exit_4(tmp_path: Path) -> None:
    """The Pyomo backend does not reach a first incumbent within 1 s: exit 4, nothing written."""
    out = tmp_path / "none"
    proc = siting("solve", "materialenbanken", "--out", str(out), "--time-limit", "1", "--backend", "pyomo", *HARD)
    assert proc.returncode == 4, (proc.returncode, proc.stderr)
    assert "no feasible solution" in proc.stderr and "time-limit" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def _hard_problem(seed: int = 1, n: int = 150, m: int = 50):
    from optimizer.data.matrix import matrix_problem

    rng = np.random.default_rng(seed)
    cxy, fxy = rng.random((n, 2)), rng.random((m, 2))
    demand = rng.integers(5, 35, n).astype(float)
    dist = np.hypot(*(cxy[:, None, :] - fxy[None, :, :]).transpose(2, 0, 1))
    return matrix_problem(demand, rng.integers(80, 160, m).astype(float), rng.uniform(200, 400, m),
                          dist * demand[:, None] * 10, single_source=True)


def test_time_limit_gives_proven_gap_on_hard_problem() -> None:
    """A 150 × 50 single-source capacitated problem is not closed in 1 s: feasible, finite proven gap, verified."""
    problem = _hard_problem()
    sol = solve_problem(problem, SolveOptions(time_limit_s=1.0, mip_gap=0.0, backend="highspy"))
    assert sol.status == "feasible"
    assert np.isfinite(sol.bound) and sol.bound <= sol.objective and 0 < sol.gap <= 1
    assert verify_problem(problem, sol).ok


# ---------------------------------------------------------------------------------------------------------------
# 4. The verifier rejects a solution with any single constraint broken
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solved_mb(mb_result):  # noqa: ANN001
    """The default instance (study rules, capacity not enforced), solved once per session."""
    assert mb_result.solution.status == "optimal"
    return mb_result.model, mb_result.solution, mb_result.tables


@pytest.fixture(scope="module")
def solved_cap():
    """Materialenbanken with capacity enforced and free sizes (multi-source), solved once."""
    inst = load_instance("materialenbanken", {"size_rule": "free", "enforce_capacity": "true", "single_source": "false"})
    r = solve(inst, SolveOptions(time_limit_s=300, backend="highspy"))
    assert r.solution.status == "optimal"
    return r.model, r.solution, r.tables


def _violations(sp, sol, tables) -> list[str]:
    return verify_problem(sp.problem, sol).violations + verify_siting(sp, sol, tables).violations


def _copy(tables):
    return dataclasses.replace(tables, facilities=tables.facilities.copy(), allocations=tables.allocations.copy())


def test_unbroken_solutions_pass(solved_mb, solved_cap) -> None:
    for sp, sol, tables in (solved_mb, solved_cap):
        assert _violations(sp, sol, tables) == []


def _mutate_solution(sp, sol, what: str) -> Solution:
    p = sp.problem
    y, x = sol.open_options.copy(), sol.arc_share.copy()
    obj, bound = sol.objective, sol.bound
    open_idx = np.flatnonzero(y)
    if what == "close a facility":
        y[open_idx[0]] = False
    elif what == "open an extra facility":
        region = sp.options.at[open_idx[0], "region"]
        extra = np.flatnonzero((sp.options["region"] == region).to_numpy() & ~y)[0]
        y[extra] = True
    elif what == "leave a municipality unserved":
        x[np.flatnonzero(x > 0.5)[0]] = 0.0
    elif what == "split a municipality":
        a = np.flatnonzero(x > 0.5)[0]
        i = p.arc_client[a]
        other = [b for b in np.flatnonzero(p.arc_client == i) if b != a and y[p.arc_option[b]]]
        if not other:  # open a second option in the region to split to
            j = np.flatnonzero((sp.options["region"] == sp.clients.at[i, "region"]).to_numpy() & ~y)[0]
            y[j] = True
            other = [b for b in np.flatnonzero(p.arc_client == i) if p.arc_option[b] == j]
        x[a], x[other[0]] = 0.5, 0.5
    elif what == "tamper with the objective":
        obj = obj * 1.01 + 1.0
    elif what == "claim a bound above the objective":
        bound = obj + 1000.0
    return dataclasses.replace(sol, open_options=y, arc_share=x, objective=obj, bound=bound)


@pytest.mark.parametrize("what", ["close a facility", "open an extra facility", "leave a municipality unserved",
                                  "split a municipality", "tamper with the objective",
                                  "claim a bound above the objective"])
def test_verifier_rejects_broken_solution(solved_mb, what: str) -> None:
    sp, sol, _ = solved_mb
    broken = _mutate_solution(sp, sol, what)
    tables = result_tables(sp, broken)
    assert _violations(sp, broken, tables), what


def test_verifier_rejects_broken_capacity(solved_cap) -> None:
    """Swap Halle-Vilvoorde's large bank for the small size at the same site (same objective): over capacity."""
    sp, sol, _ = solved_cap
    p, opts = sp.problem, sp.options
    y, x = sol.open_options.copy(), sol.arc_share.copy()
    j = int(np.flatnonzero(y & (opts["region"] == "Halle-Vilvoorde").to_numpy())[0])
    assert opts.at[j, "size"] == "large"
    small = int(np.flatnonzero(((opts["site"] == opts.at[j, "site"]) & (opts["size"] == "small")).to_numpy())[0])
    y[j], y[small] = False, True
    for a in np.flatnonzero(p.arc_option == j):
        b = np.flatnonzero((p.arc_client == p.arc_client[a]) & (p.arc_option == small))[0]
        x[b], x[a] = x[a], 0.0
    broken = dataclasses.replace(sol, open_options=y, arc_share=x)
    violations = _violations(sp, broken, result_tables(sp, broken))
    assert any("capacity" in v for v in violations), violations


def _table_mutation(sp, tables, what: str):
    t = _copy(tables)
    fac, alloc = t.facilities, t.allocations
    sites = sp.sites.set_index("site_id")
    if what == "move a facility to an ineligible site":
        port = sites.index[sites["zone_type"] == "seaport"][0]
        fac.loc[0, "site_id"] = port
    elif what == "exceed free land":
        region = fac.at[0, "region"]
        tight = sp.sites[(sp.sites["free_ha"] * 10_000 < fac.at[0, "area_m2"])
                         & (sp.sites["zone_type"] == "economic_zone")]
        fac.loc[0, "site_id"] = tight["site_id"].iloc[0]
        assert region is not None
    elif what == "wrong size":
        k = int(np.flatnonzero((fac["size"] == "large").to_numpy())[0])
        fac.loc[k, "size"] = "small"
    elif what == "wrong area":
        fac.loc[0, "area_m2"] = fac.at[0, "area_m2"] * 2
    elif what == "assign outside the region":
        other = fac.loc[fac["region"] != alloc.at[0, "region"], "facility_id"].iloc[0]
        alloc.loc[0, "facility_id"] = other
    elif what == "drop a facility":
        t.facilities = fac.iloc[1:].reset_index(drop=True)
    elif what == "wrong tonnes":
        alloc.loc[0, "tonnes"] = alloc.at[0, "tonnes"] * 2
    elif what == "wrong distance":
        alloc.loc[0, "km"] = alloc.at[0, "km"] + 5.0
    elif what == "wrong km of a mode":
        alloc.loc[0, "road_km"] = alloc.at[0, "road_km"] + 5.0
    elif what == "wrong route cost":
        alloc.loc[0, "cost"] = alloc.at[0, "cost"] * 1.01
    elif what == "serve a municipality twice":
        t.allocations = pd.concat([alloc, alloc.iloc[[0]]], ignore_index=True)
    elif what == "wrong site in an allocation":
        alloc.loc[0, "site_id"] = fac.loc[fac["facility_id"] != alloc.at[0, "facility_id"], "site_id"].iloc[0]
    return t


@pytest.mark.parametrize("what", ["move a facility to an ineligible site", "exceed free land", "wrong size",
                                  "wrong area", "assign outside the region", "drop a facility", "wrong tonnes",
                                  "wrong distance", "wrong km of a mode", "wrong route cost",
                                  "serve a municipality twice", "wrong site in an allocation"])
def test_domain_verifier_rejects_broken_tables(solved_mb, what: str) -> None:
    sp, sol, tables = solved_mb
    broken = _table_mutation(sp, tables, what)
    assert verify_siting(sp, sol, broken).violations, what


def test_domain_verifier_rejects_missing_mode(solved_mb) -> None:
    """A facility of a programme that needs road + water (P_SORT) on a site without water breaks the mode rule."""
    sp, sol, tables = solved_mb
    prog = sp.instance.programmes[0]
    strict = dataclasses.replace(prog, access_codes={k: "P_SORT" for k in prog.access_codes})
    inst = dataclasses.replace(sp.instance, programmes=[strict])
    sp2 = dataclasses.replace(sp, instance=inst)
    dry = set(sp.sites.loc[~sp.sites["has_water"].astype(bool), "site_id"])
    assert set(tables.facilities["site_id"]) & dry
    violations = verify_siting(sp2, sol, tables).violations
    assert any("access rule" in v for v in violations), violations


# ---------------------------------------------------------------------------------------------------------------
# 7. Determinism
# ---------------------------------------------------------------------------------------------------------------
TIMESTAMP_COLUMNS = {"update_time", "last_change", "timestamp"}


def _without_timings(summary: dict) -> dict:
    out = dict(summary)
    out.pop("timings_s", None)
    return out


@pytest.mark.slow
def test_same_input_same_files(mb_folder: Path, tmp_path: Path) -> None:
    """``siting solve`` in a new process writes the same files as the session's run (in this process), timings
    aside; its ``--json`` stdout is the summary alone (no solver banner: HiGHS prints one on the C-level stdout
    at the first construction in a process)."""
    import pyogrio

    b = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", "materialenbanken", "--out", str(b),
                           "--json"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["format"] == "circular-siting/result"
    a, runs = mb_folder, (mb_folder, b)
    for name in ("facilities.csv", "allocations.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in runs)
    assert _without_timings(sa) == _without_timings(sb)
    layers_a = [str(n) for n, g in pyogrio.list_layers(a / "result.gpkg") if g is not None]
    assert layers_a == [str(n) for n, g in pyogrio.list_layers(b / "result.gpkg") if g is not None]
    for layer in layers_a:
        ga = pyogrio.read_dataframe(a / "result.gpkg", layer=layer)
        gb = pyogrio.read_dataframe(b / "result.gpkg", layer=layer)
        # write timestamps (QGIS layer_styles.update_time) are timings, not results
        attrs = [c for c in ga.columns if c != "geometry" and c not in TIMESTAMP_COLUMNS]
        pd.testing.assert_frame_equal(pd.DataFrame(ga[attrs]), pd.DataFrame(gb[attrs]))
        if "geometry" in ga.columns:  # attribute-only tables (no geometry) are compared above
            assert list(ga.geometry.to_wkb()) == list(gb.geometry.to_wkb()), layer
    ia, ib = (pyogrio.read_info(r / "result.gpkg", layer=layers_a[0]) for r in runs)
    assert ia.get("dataset_metadata") == ib.get("dataset_metadata")
