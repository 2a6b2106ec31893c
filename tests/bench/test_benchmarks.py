"""Tests of optimizer.bench: readers and optimum tables, the harness, baselines and comparison.

The readers' format rules are checked on small synthetic files written here, so they run anywhere; the tests on
the real libraries (sizes, optimum tables, and the CI subset solved to the published optima) need
``../shared/benchmarks`` and skip cleanly when it is absent.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("optimizer") is None:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

from optimizer.bench import baselines, harness, report  # noqa: E402
from optimizer.bench.readers import (
    benchmark_set,
    benchmark_sets,
    benchmarks_available,
    pmed_graph,
    read_holmberg,
    read_orlib_cap,
    read_os,
    read_pmed,
    read_solution_file,
    read_ufllib,
    read_value_table,
)  # noqa: E402
from optimizer.check.verify import verify_problem  # noqa: E402
from optimizer.errors import InputError  # noqa: E402
from optimizer.settings import benchmarks_dir
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem

needs_benchmarks = pytest.mark.skipif(not benchmarks_available(), reason="../shared/benchmarks is absent")
CI_TIME_LIMIT_S = 120.0

# ---------------------------------------------------------------- synthetic files (run anywhere)


def test_orlib_cap_reader_and_capacity_template(tmp_path):
    path = tmp_path / "tiny.txt"
    # 2 warehouses, 3 customers; costs wrapped over lines as in the OR-Library files
    path.write_text(" 2 3\n capacity 10.\n capacity 20.\n 4\n 8. 16.\n 5\n 10.\n 5.\n 6 12. 24.\n")
    with pytest.raises(InputError, match="capacity"):
        read_orlib_cap(path)
    problem = read_orlib_cap(path, capacity=9)
    assert problem.name == "tiny9"
    assert problem.capacity.tolist() == [9.0, 9.0]
    assert problem.demand.tolist() == [4.0, 5.0, 6.0]
    # cost of the whole demand, kept as is (not multiplied by demand)
    assert problem.arc_cost.tolist() == [8.0, 16.0, 10.0, 5.0, 12.0, 24.0]
    assert not problem.single_source
    assert np.isinf(read_orlib_cap(path, uncapacitated=True).capacity).all()


def test_orlib_cap_reader_rejects_wrong_token_count(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("2 1\n5 1\n5 1\n1 2.\n")
    with pytest.raises(InputError, match="8 tokens, expected exactly 9"):
        read_orlib_cap(path)


def test_pmed_duplicate_edge_last_wins_not_minimum():
    graph = pmed_graph(3, np.array([0, 1, 1, 0]), np.array([1, 2, 0, 2]), np.array([5.0, 1.0, 9.0, 50.0]))
    dense = graph.toarray()
    assert dense[0, 1] == dense[1, 0] == 9.0  # (0,1)=5 then (1,0)=9: the last occurrence wins
    assert dense[1, 2] == 1.0 and dense[0, 2] == 50.0


def test_pmed_reader_shortest_paths(tmp_path):
    path = tmp_path / "pm.txt"
    path.write_text("4 4 2\n1 2 3\n2 3 4\n3 4 1\n1 2 1\n")  # edge 1-2 repeated: last cost 1
    problem = read_pmed(path)
    cost = np.full((4, 4), np.inf)
    cost[problem.arc_client, problem.arc_option] = problem.arc_cost
    expected = np.array([[0, 1, 5, 6], [1, 0, 4, 5], [5, 4, 0, 1], [6, 5, 1, 0]], float)
    np.testing.assert_array_equal(cost, expected)
    assert problem.counts.lower.tolist() == [2.0] == problem.counts.upper.tolist()
    solution = solve_problem(problem)
    assert solution.objective == pytest.approx(2.0)  # medians {1 or 2} and {3 or 4}


def test_holmberg_reader_is_facility_major_and_cuts_at_nul(tmp_path):
    path = tmp_path / "p0"
    body = "2 3\n10 100\n20 200\n1 2 3\n11 12 13\n21 22 23\n"
    path.write_bytes(body.encode() + b"\x00" * 20 + b" 7 7 junk")
    problem = read_holmberg(path)
    assert problem.single_source
    assert problem.demand.tolist() == [1.0, 2.0, 3.0]
    # client-major arcs: client 0 -> (11, 21), client 1 -> (12, 22), …
    assert problem.arc_cost.tolist() == [11.0, 21.0, 12.0, 22.0, 13.0, 23.0]
    path.write_text(body + "99\n")
    with pytest.raises(InputError, match="tokens"):
        read_holmberg(path)


def test_ufllib_reader_plain_and_gzip(tmp_path):
    text = "FILE: toy\n2 3 0\n1 10 1 2 3\n2 20 4 5 6\n"
    plain = tmp_path / "toy"
    plain.write_text(text)
    zipped = tmp_path / "toy.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    for path in (plain, zipped):
        problem = read_ufllib(path)
        assert problem.n_clients == 3 and problem.n_options == 2
        assert problem.fixed_cost.tolist() == [10.0, 20.0]
        assert problem.arc_cost.tolist() == [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    bad = tmp_path / "bad"
    bad.write_text("2 3 0\n")
    with pytest.raises(InputError):
        read_ufllib(bad)


def test_value_table_and_os_readers(tmp_path):
    (tmp_path / "t.txt").write_text("cap71.txt\t\t932615.750\ncap72   977799.400 \n\n")
    assert read_value_table(tmp_path / "t.txt") == {"cap71": 932615.75, "cap72": 977799.4}
    (tmp_path / "os").write_text("8848\n7913\n")
    assert read_os(tmp_path / "os") == [8848.0, 7913.0]
    (tmp_path / "s.opt").write_text("0 1 1 0 12.5\n")
    facility, value = read_solution_file(tmp_path / "s.opt")
    assert facility.tolist() == [0, 1, 1, 0] and value == 12.5


def test_benchmarks_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SITING_BENCHMARKS_DIR", str(tmp_path))
    assert benchmarks_dir() == tmp_path
    assert not benchmarks_available()
    assert benchmark_sets() == {}
    with pytest.raises(FileNotFoundError):
        benchmark_set("ci")


@pytest.mark.parametrize(
    ("objective", "bound", "status", "known", "kind", "expected"),
    [
        (100.0, 100.0, "optimal", 100.00005, "optimal", "yes"),
        (100.1, 100.1, "optimal", 100.0, "optimal", "MISMATCH (bound above the published optimum)"),
        (100.1, 99.0, "optimal", 100.0, "optimal", "MISMATCH"),
        (101.0, 99.0, "feasible", 100.0, "optimal", "open"),
        (99.0, 98.0, "feasible", 100.0, "optimal", "MISMATCH (below the published optimum)"),
        (101.0, 100.5, "feasible", 100.0, "optimal", "MISMATCH (bound above the published optimum)"),
        (99.0, 99.0, "optimal", 100.0, "upper_bound", "better"),
        (100.0, 95.0, "feasible", 100.0, "upper_bound", "yes"),
        (math.nan, -math.inf, "no_solution", 100.0, "optimal", "-"),
    ],
)
def test_compare(objective, bound, status, known, kind, expected):
    assert harness.compare(objective, bound, status, known, kind) == expected


def test_parse_baselines():
    assert baselines.parse_baselines("all") == baselines.ALL_BASELINES
    assert baselines.parse_baselines("none") == ()
    assert baselines.parse_baselines("highs, cbc") == ("highs", "cbc")
    with pytest.raises(InputError, match="gurobi"):
        baselines.parse_baselines("gurobi")


# ---------------------------------------------------------------- the real libraries


@needs_benchmarks
def test_set_sizes():
    sets = benchmark_sets()
    sizes = {name: len(cases) for name, cases in sets.items()}
    assert sizes["orlib-cflp"] == 37
    assert sizes["orlib-capabc"] == 12
    assert sizes["orlib-uflp"] == 15
    assert sizes["pmed"] == 40
    assert sizes["holmberg"] == 71
    assert sizes["sscflp-orlib"] == 24
    assert sizes["ufllib-bk"] == 220 and sizes["ufllib-gr"] == 50 and sizes["ufllib-kg"] == 45
    assert sizes["ufllib-m"] == 20  # MS1/MT1 instance files are absent from the snapshot
    assert [c.name for c in sets["ci"]] == (
        [c.name for c in sets["orlib-cflp"]] + [f"pmed{k}" for k in range(1, 6)] + [f"p{k}" for k in range(1, 11)]
    )


@needs_benchmarks
def test_optimum_tables_agree_with_optima_csv():
    root = benchmarks_dir()
    sets = benchmark_sets()
    for folder, set_names, column in [
        ("orlib-cflp", ("orlib-cflp", "orlib-capabc"), "optimal_value"),
        ("orlib-uflp", ("orlib-uflp",), "optimal_value"),
        ("orlib-pmed", ("pmed",), "optimal_value"),
        ("sscflp-holmberg", ("holmberg",), "optimal_value"),
        ("sscflp-orlib-small", ("sscflp-orlib",), "optimal_value_single_source"),
    ]:
        table = pd.read_csv(root / folder / "optima.csv").set_index("instance")[column]
        known = {c.name: c.known for s in set_names for c in sets[s]}
        assert set(known) == set(table.index), folder
        for name, value in known.items():
            assert value == pytest.approx(table[name], abs=1e-9), (folder, name)


@needs_benchmarks
@pytest.mark.parametrize(
    ("set_name", "name", "n_clients", "n_facilities", "n_arcs"),
    [
        ("orlib-cflp", "cap41", 50, 16, 800),
        ("orlib-cflp", "cap134", 50, 50, 2500),
        ("orlib-capabc", "capb6000", 1000, 100, 100_000),
        ("orlib-uflp", "capc", 1000, 100, 100_000),
        ("pmed", "pmed1", 100, 100, 10_000),
        ("holmberg", "p1", 50, 10, 500),
        ("holmberg", "p71", 200, 30, 6000),
        ("sscflp-orlib", "p24", 50, 50, 2500),
        ("ufllib-bk", "B1.1", 100, 50, 5000),
        ("ufllib-gr", "200.10", 200, 200, 40_000),
        ("ufllib-m", "MO1", 100, 100, 10_000),
    ],
)
def test_reader_sizes(set_name, name, n_clients, n_facilities, n_arcs):
    case = next(c for c in benchmark_sets()[set_name] if c.name == name)
    problem = case.load()
    assert (problem.n_clients, problem.n_options, problem.n_arcs) == (n_clients, n_facilities, n_arcs)
    problem.check_shapes()


@needs_benchmarks
def test_capabc_capacity_variants():
    cases = {c.name: c for c in benchmark_sets()["orlib-capabc"]}
    assert sorted(cases) == sorted(
        ["capa8000", "capa10000", "capa12000", "capa14000", "capb5000", "capb6000", "capb7000", "capb8000",
         "capc5000", "capc5750", "capc6500", "capc7250"]
    )
    problem = cases["capc5750"].load()
    assert (problem.capacity == 5750).all()
    assert cases["capa8000"].known == pytest.approx(19240822.449)


@needs_benchmarks
def test_pmed1_duplicate_edge_rule_reproduces_the_table():
    """SOURCE.txt: last-wins gives 5819 (the table), min-wins 5718; shortest paths must use last-wins."""
    case = next(c for c in benchmark_sets()["pmed"] if c.name == "pmed1")
    assert case.known == 5819.0
    assert case.load().n_arcs == 100 * 100  # connected graph: every vertex reaches every vertex


@needs_benchmarks
def test_ufllib_solution_files_evaluate_to_their_value():
    """A stated UflLib assignment, priced with our reader's costs, gives the stated objective."""
    samples = [("ufllib-bk", "B1.1"), ("ufllib-gr", "50.1"), ("ufllib-m", "MO1"), ("ufllib-kg", "gs250a-1")]
    for set_name, name in samples:
        case = next(c for c in benchmark_sets()[set_name] if c.name == name)
        problem = case.load()
        suffix = ".opt" if case.known_kind == "optimal" else ".bub"
        facility, value = read_solution_file(case.path.with_name(case.path.name.removesuffix(".gz") + suffix))
        cost = np.full((problem.n_clients, problem.n_options), np.inf)
        cost[problem.arc_client, problem.arc_option] = problem.arc_cost
        total = cost[np.arange(problem.n_clients), facility].sum() + problem.fixed_cost[np.unique(facility)].sum()
        assert total == pytest.approx(value, rel=1e-9), name
        assert value == pytest.approx(case.known, rel=1e-9)


@needs_benchmarks
@pytest.mark.slow
def test_ci_subset_matches_published_optima():
    """cap41–cap134, pmed1–5 and Holmberg p1–p10 all solve to the published optimum (1e-6 relative)."""
    failures, timings = [], {}
    for case in benchmark_set("ci"):
        problem = case.load()
        t0 = time.perf_counter()
        solution = solve_problem(problem, SolveOptions(time_limit_s=CI_TIME_LIMIT_S))
        timings[case.name] = time.perf_counter() - t0
        verify_problem(problem, solution).raise_if_failed()
        if solution.status != "optimal" or abs(solution.objective - case.known) > 1e-6 * abs(case.known):
            failures.append(f"{case.name}: {solution.status} {solution.objective!r} vs published {case.known!r}")
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:5]
    print("slowest CI instances (s):", ", ".join(f"{k} {v:.1f}" for k, v in slowest))
    assert not failures, failures


@needs_benchmarks
def test_run_bench_rows_and_reports(tmp_path):
    pytest.importorskip("pulp", reason="the CBC/spopt baselines come with the [bench] extra")
    pytest.importorskip("spopt", reason="the spopt baseline comes with the [bench] extra")
    frame = harness.run_bench("ci", time_limit_s=60, baselines=("highs", "cbc", "spopt"), progress=False,
                            instances=["cap41", "pmed1", "p1"])
    assert list(frame["instance"]) == ["cap41", "pmed1", "p1"]
    assert (frame["match"] == "yes").all()
    assert frame["verified"].all()
    assert set(report.result_columns()) <= set(frame.columns)
    assert frame.loc[frame["instance"] == "cap41", "cbc_match"].item() == "yes"
    assert frame.loc[frame["instance"] == "pmed1", "spopt_match"].item() == "yes"
    assert pd.isna(frame.loc[frame["instance"] == "pmed1", "cbc_time_s"]).all()  # CBC-on-CFLP only
    assert (frame["highs_ratio"] > 0).all()
    csv_path, md_path = report.write_results(frame, tmp_path / "ci.csv")
    assert pd.read_csv(csv_path).shape[0] == 3
    text = md_path.read_text()
    assert "| cap41 |" in text and "0 mismatches" in text


def test_bench_command_writes_csv_and_markdown(monkeypatch, tmp_path):
    row = {"set": "x", "instance": "a", "kind": "cflp", "n_clients": 2, "n_facilities": 1, "n_arcs": 2,
           "known": 3.0, "known_kind": "optimal", "objective": 3.0, "bound": 3.0, "gap": 0.0, "status": "optimal",
           "time_s": 0.5, "match": "yes", "verified": True, "solver": "test"}
    seen = {}

    def fake_run_bench(set_name, **kwargs):
        seen.update(kwargs, set_name=set_name)
        return pd.DataFrame([row])

    monkeypatch.setattr(harness, "run_bench", fake_run_bench)
    assert harness.bench_command("x", 30.0, "highs,cbc", tmp_path) == 0
    assert seen["set_name"] == "x" and seen["time_limit_s"] == 30.0 and seen["baselines"] == ("highs", "cbc")
    assert (tmp_path / "x.csv").is_file() and "| a |" in (tmp_path / "x.md").read_text()
    monkeypatch.setattr(harness, "run_bench", lambda *_a, **_k: pd.DataFrame([row | {"match": "MISMATCH"}]))
    assert harness.bench_command("x", 30.0, "none", tmp_path / "y.csv") == 1


def test_missing_baseline_package_is_refused_before_any_solve(monkeypatch):
    """Without PuLP the race must stop with an install hint, not report a race that silently lacks CBC."""
    real = baselines.importlib.util.find_spec
    absent = {"pulp", "spopt"}
    monkeypatch.setattr(baselines.importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a))
    assert baselines.missing_baseline_packages(["highs", "cbc", "spopt"]) == {"cbc": ["pulp"], "spopt": ["pulp", "spopt"]}
    with pytest.raises(InputError, match=r"cbc needs pulp.*\[bench\]"):
        harness.run_bench("ci", baselines=("cbc",), progress=False, instances=[])
    baselines.require_baselines(["highs"])  # HiGHS ships with the engine


def test_keep_baselines_copies_columns_and_recomputes_ratios():
    """A run of ours alone keeps the earlier baseline times per instance; ratios use our new times."""
    spec = importlib.util.spec_from_file_location("run_benchmarks", ROOT / "benchmarks" / "run_benchmarks.py")
    rb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rb)
    previous = pd.DataFrame({
        "instance": ["a", "b", "c"], "time_s": [1.0, 2.0, 4.0],
        "highs_time_s": [3.0, 8.0, np.nan], "highs_status": ["optimal", "feasible", np.nan],
        "highs_ratio": [3.0, 4.0, np.nan], "cbc_time_s": [np.nan] * 3,
    })  # fmt: skip
    new = pd.DataFrame({"instance": ["c", "a", "b"], "time_s": [1.0, 0.5, 2.0], "highs_time_s": [np.nan] * 3})
    frame, kept = rb.keep_baselines(new, previous, ())
    assert kept == ["highs"]  # cbc has no times to keep
    by = frame.set_index("instance")
    assert by.loc["a", "highs_ratio"] == pytest.approx(6.0) and by.loc["b", "highs_ratio"] == pytest.approx(4.0)
    assert np.isnan(by.loc["c", "highs_ratio"]) and by.loc["b", "highs_status"] == "feasible"
    assert rb.keep_baselines(new, previous, ("highs",))[1] == []  # a baseline run now is not overwritten
