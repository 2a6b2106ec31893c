"""Tests of optimizer.data.matrix and matrix_files: the generic matrix-form format, from the Python API and from files."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("optimizer") is None:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

from optimizer.check.verify import verify_problem  # noqa: E402
from optimizer.data.matrix import matrix_problem  # noqa: E402
from optimizer.data.matrix_files import load_matrix_instance
from optimizer.errors import InfeasibleError, InputError  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem

EXAMPLE = ROOT / "instances" / "matrix_example"
EXAMPLE_OPTIMUM = 362.0  # brute force over all 3^6 assignments (instances/matrix_example/brute_force.py)


def _solve(problem):
    solution = solve_problem(problem, SolveOptions(time_limit_s=60))
    verify_problem(problem, solution).raise_if_failed()
    return solution


def _brute_force_single_source(demand, capacity, fixed, cost) -> float:
    n, m = cost.shape
    best = np.inf
    for assign in itertools.product(range(m), repeat=n):
        a = np.array(assign)
        if np.any(np.bincount(a, weights=demand, minlength=m) > capacity):
            continue
        best = min(best, cost[np.arange(n), a].sum() + fixed[np.unique(a)].sum())
    return float(best)


# ---------------------------------------------------------------- files


def test_example_loads_with_expected_shape():
    problem = load_matrix_instance(EXAMPLE)
    assert problem.name == "matrix_example"
    assert problem.n_clients == 6 and problem.n_options == 3
    assert problem.n_arcs == 17  # c6 may not be served from south
    assert problem.single_source
    assert np.isinf(problem.capacity[2])
    assert list(problem.client_ids) == ["c1", "c2", "c3", "c4", "c5", "c6"]


@pytest.mark.parametrize("path", [EXAMPLE, EXAMPLE / "problem.toml", EXAMPLE / "sparse.toml"])
def test_example_solves_to_brute_force_optimum(path):
    solution = _solve(load_matrix_instance(path))
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(EXAMPLE_OPTIMUM, rel=1e-9)
    assert list(np.flatnonzero(solution.open_options)) == [0, 1]


def test_example_brute_force_script_agrees():
    sys.path.insert(0, str(EXAMPLE))
    try:
        from brute_force import brute_force_optimum
    finally:
        sys.path.remove(str(EXAMPLE))
    value, plan = brute_force_optimum()
    assert value == EXAMPLE_OPTIMUM
    assert plan == ("north", "north", "centre", "centre", "centre", "centre")


def test_dense_and_triplet_files_give_the_same_problem():
    dense, sparse = load_matrix_instance(EXAMPLE), load_matrix_instance(EXAMPLE / "sparse.toml")
    np.testing.assert_array_equal(dense.arc_client, sparse.arc_client)
    np.testing.assert_array_equal(dense.arc_option, sparse.arc_option)
    np.testing.assert_array_equal(dense.arc_cost, sparse.arc_cost)


def test_directory_without_manifest_uses_default_names(tmp_path):
    for name in ("demands.csv", "facilities.csv", "costs.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    problem = load_matrix_instance(tmp_path)
    assert problem.name == tmp_path.name
    assert not problem.single_source  # default: demand may be split
    assert _solve(problem).objective <= EXAMPLE_OPTIMUM + 1e-9


def test_single_toml_with_inline_tables(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text(
        """
[problem]
name = "inline"
p = 1
cost_unit = "EUR"

[[demands]]
id = "a"
demand = 1
[[demands]]
id = "b"
demand = 2

[[facilities]]
id = "x"
capacity = "inf"
fixed_cost = 5
[[facilities]]
id = "y"
capacity = 10
fixed_cost = 1
required = false

[costs]
dense = [[1, 4], [2, 3]]
"""
    )
    problem = load_matrix_instance(path)
    assert problem.counts.upper.tolist() == [1.0]
    solution = _solve(problem)
    assert solution.objective == pytest.approx(8.0)  # open y (1) + 4 + 3


def test_single_toml_with_inline_triplets(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text(
        """
[problem]
single_source = true
[[demands]]
id = "a"
demand = 1
[[facilities]]
id = "x"
capacity = 5
fixed_cost = 2
[costs]
triplets = [["a", "x", 3.5]]
"""
    )
    assert _solve(load_matrix_instance(path)).objective == pytest.approx(5.5)


# ---------------------------------------------------------------- bad files


def _copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "inst"
    shutil.copytree(EXAMPLE, target)
    return target


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_matrix_instance(path)
    return info.value


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("table", "old", "new", "row", "field", "words"),
    [
        ("demands.csv", "id,demand", "id,qty", 1, "demand", "missing column"),
        ("demands.csv", "c3,15", "c3,fifteen", 4, "demand", "not a number"),
        ("demands.csv", "c3,15", "c3,-15", 4, "demand", "negative"),
        ("demands.csv", "c3,15", "c3,nan", 4, "demand", "NaN"),
        ("demands.csv", "c3,15", "c3,inf", 4, "demand", "finite"),
        ("demands.csv", "c3,15", "c3,", 4, "demand", "empty"),
        ("demands.csv", "c3,15", "c2,15", 4, "id", "duplicate"),
        ("facilities.csv", "north,60,100", "north,-60,100", 2, "capacity", "negative"),
        ("facilities.csv", "centre,80,140", "centre,80,", 3, "fixed_cost", "empty"),
        ("facilities.csv", "centre,80,140", "centre,80,inf", 3, "fixed_cost", "finite"),
        ("facilities.csv", "south,,220,false", "south,,220,maybe", 4, "required", "true/false"),
        ("facilities.csv", "centre,80", "north,80", 3, "id", "duplicate"),
        ("facilities.csv", "id,capacity", "id,cap", 1, "capacity", "missing column"),
        ("costs.csv", "c4,60,20,30", "c4,60,x,30", 5, "centre", "not a finite number"),
        ("costs.csv", "c4,60,20,30", "c4,60,nan,30", 5, "centre", "not a finite number"),
        ("costs.csv", "client,north,centre,south", "client,north,middle,south", 1, "middle", "not a facility id"),
        ("costs.csv", "c4,60,20,30", "c9,60,20,30", 5, "client", "expected"),
        ("costs.csv", "c6,30,12,", "c6,,,", None, "client", "no allowed facility"),
        ("costs_triplets.csv", "c2,centre,35", "c2,middle,35", 6, "facility", "unknown facility"),
        ("costs_triplets.csv", "c2,centre,35", "c7,centre,35", 6, "client", "unknown client"),
        ("costs_triplets.csv", "c2,centre,35", "c2,north,35", 6, "facility", "listed twice"),
        ("costs_triplets.csv", "c2,centre,35", "c2,centre,inf", 6, "cost", "finite"),
        ("costs_triplets.csv", "c6,north,30\nc6,centre,12\n", "", None, "client", "no allowed facility"),
    ],
)
def test_bad_tables_name_file_row_and_field(tmp_path, table, old, new, row, field, words):
    inst = _copy_example(tmp_path)
    _edit(inst / table, old, new)
    err = _error(inst / ("sparse.toml" if table == "costs_triplets.csv" else "problem.toml"))
    assert Path(err.file).name == table
    assert err.row == row
    assert err.field == field
    assert words.lower() in err.message.lower()
    assert str(err).startswith(f"{err.file}:{'' if row is None else row}:{field}: ")


def test_byte_order_mark_and_semicolons(tmp_path):
    inst = _copy_example(tmp_path)
    text = (inst / "demands.csv").read_text()
    (inst / "demands.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_matrix_instance(inst).n_clients == 6
    (inst / "demands.csv").write_text(text.replace(",", ";"))
    err = _error(inst)
    assert err.field == "id" and "semicolon" in err.message


def test_dense_row_count_must_match_demands(tmp_path):
    inst = _copy_example(tmp_path)
    _edit(inst / "costs.csv", "c6,30,12,\n", "")
    err = _error(inst)
    assert Path(err.file).name == "costs.csv" and err.field == "client" and "6 clients" in err.message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("single_source = true", "single_source = 1", "problem.single_source"),
        ("single_source = true", "single_source = true\np = 0", "problem.p"),
        ("single_source = true", "single_source = true\np = 9", "problem.p"),
        ("single_source = true", "single_source = true\ncolour = 'red'", "problem.colour"),
        ('costs = "costs.csv"', 'costs = "nope.csv"', "tables.costs"),
    ],
)
def test_bad_manifest_names_the_key(tmp_path, old, new, field):
    inst = _copy_example(tmp_path)
    _edit(inst / "problem.toml", old, new)
    err = _error(inst)
    assert Path(err.file).name == "problem.toml"
    assert err.field == field


def test_invalid_toml_and_missing_path(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[problem\n")
    assert "malformed TOML" in _error(bad).message
    assert "no such file" in _error(tmp_path / "missing.toml").message


def test_infeasible_capacity_is_reported(tmp_path):
    inst = _copy_example(tmp_path)
    _edit(inst / "facilities.csv", "south,,220", "south,0,220")
    _edit(inst / "facilities.csv", "north,60,100", "north,50,100")  # 50 + 80 + 0 < 135
    with pytest.raises(InfeasibleError, match="below the total demand 135"):  # valid data, no solution: exit 3
        load_matrix_instance(inst)


# ---------------------------------------------------------------- Python API


def test_api_dense_matches_brute_force():
    rng = np.random.default_rng(7)
    demand = rng.integers(1, 10, 5).astype(float)
    capacity = np.array([15.0, 12.0, np.inf])
    fixed = np.array([10.0, 8.0, 30.0])
    cost = rng.integers(1, 20, (5, 3)).astype(float)
    problem = matrix_problem(demand, capacity, fixed, cost, single_source=True, name="api")
    assert problem.n_arcs == 15
    solution = _solve(problem)
    assert solution.objective == pytest.approx(_brute_force_single_source(demand, capacity, fixed, cost))


def test_api_sparse_matrix_stores_allowed_pairs_only():
    cost = sp.csr_matrix(([1.0, 0.0, 2.0], ([0, 1, 1], [0, 0, 1])), shape=(2, 2))
    problem = matrix_problem([1, 1], None, [1.0, 1.0], cost)
    assert problem.n_arcs == 3  # the explicit zero is an allowed zero-cost pair
    assert _solve(problem).objective == pytest.approx(2.0)  # open 0, serve both from it (1 + 0)


def test_api_inf_forbids_a_pair_and_p_and_required():
    cost = np.array([[1.0, np.inf], [5.0, 1.0], [5.0, 1.0]])
    problem = matrix_problem(np.ones(3), None, np.zeros(2), cost, p=1, required=[1])
    assert problem.n_arcs == 5
    # client 0 may only use facility 0, but exactly one facility opens and it must be facility 1
    assert solve_problem(problem, SolveOptions(time_limit_s=60)).status == "infeasible"
    free = matrix_problem(np.ones(3), None, np.zeros(2), cost, p=2)
    assert _solve(free).objective == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("kwargs", "field", "row"),
    [
        ({"demand": [1.0, -1.0]}, "demand", 2),
        ({"demand": [1.0, np.nan]}, "demand", 2),
        ({"capacity": [1.0, np.nan]}, "capacity", 2),
        ({"capacity": [1.0]}, "capacity", None),
        ({"fixed_cost": [1.0, np.inf]}, "fixed_cost", 2),
        ({"cost": np.array([[1.0, 2.0], [np.nan, 1.0]])}, "cost", 2),
        ({"cost": np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])}, "cost", None),
        ({"cost": np.array([[1.0, 2.0], [np.inf, np.inf]])}, "cost", 2),
        ({"cost": sp.csr_matrix(([1.0, np.inf], ([0, 1], [0, 1])), shape=(2, 2))}, "cost", 2),
        ({"p": 3}, "p", None),
        ({"client_ids": ["a", "a"]}, "client_ids", 2),
        ({"required": [True]}, "required", None),
    ],
)
def test_api_rejects_bad_arrays(kwargs, field, row):
    args = {"demand": [1.0, 2.0], "capacity": [5.0, 5.0], "fixed_cost": [1.0, 1.0], "cost": np.ones((2, 2))}
    args |= kwargs
    with pytest.raises(InputError) as info:
        matrix_problem(args.pop("demand"), args.pop("capacity"), args.pop("fixed_cost"), args.pop("cost"), **args)
    assert info.value.field == field
    assert info.value.row == row
