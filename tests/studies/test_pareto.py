"""Transport vs land take (``siting pareto``): the ε-constraint front on a tiny instance against brute force."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bruteforce import brute_force
from conftest import siting as run_cli
from helpers import tiny_manifest

from optimizer.studies import pareto
from optimizer.data.instance import load_instance
from optimizer.model.formulation import compile_instance
from optimizer.settings import M2_PER_HA
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

# Antwerpen, Boom, Brasschaat, Essen, Lier, Mechelen, Zoersel: all near-urban, so every site may take a centre
NEAR_URBAN = [11002, 11005, 11008, 11016, 12021, 12025, 11055]
PARAMS = {"access_rules": "none", "enforce_capacity": False, "single_source": False, "size_variant": "open",
          "time_limit_s": 60}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sorting centres with an open count (3..28) on 7 near-urban municipalities: land take 12..28 ha."""
    return tiny_manifest(tmp_path_factory.mktemp("pareto"), ["sorteercentrum"], PARAMS, nis=NEAR_URBAN)


@pytest.fixture(scope="module")
def front(tiny: Path) -> pd.DataFrame:
    return pareto.trace(load_instance(tiny), 5)


@pytest.fixture(scope="module")
def siting(tiny: Path):
    return compile_instance(load_instance(tiny))


def test_front_is_monotone(front: pd.DataFrame) -> None:
    ordered = front.sort_values("land_take_ha")
    assert (np.diff(ordered["transport"].to_numpy()) <= 1e-6 * ordered["transport"].abs().max()).all()
    assert (np.diff(front["land_take_ha"].to_numpy()) <= 1e-9).all(), "points run from most to least land"
    assert ordered["land_take_ha"].nunique() >= 3, "the tiny front is not degenerate"
    assert ordered["transport"].iloc[0] > ordered["transport"].iloc[-1], "less land must cost transport here"


def test_min_transport_end_matches_the_single_objective_solve(front: pd.DataFrame, siting) -> None:
    base = dataclasses.replace(siting.problem, land_cost_per_m2=0.0)
    alone = solve_problem(base, SolveOptions(mip_gap=0.0))
    assert alone.status == "optimal"
    assert front["transport"].iloc[0] == pytest.approx(alone.objective, rel=1e-6)
    assert front["transport"].iloc[0] == pytest.approx(brute_force(base), rel=1e-6)


def test_min_land_end_matches_the_least_land_solve(front: pd.DataFrame, siting) -> None:
    # least land: brute force with zero transport and land weighted 1 EUR/m²
    land_only = dataclasses.replace(siting.problem, arc_cost=np.zeros_like(siting.problem.arc_cost),
                                    land_cost_per_m2=1.0)
    min_land_m2 = brute_force(land_only)
    assert front["land_take_ha"].iloc[-1] == pytest.approx(min_land_m2 / M2_PER_HA)
    assert min_land_m2 / M2_PER_HA == pytest.approx(3 * 4.0)  # 3 centres (today's Flemish count) × 40,000 m²


def test_every_point_is_the_brute_force_optimum_at_its_epsilon(front: pd.DataFrame, siting) -> None:
    base = dataclasses.replace(siting.problem, land_cost_per_m2=0.0)
    for row in front.itertuples():
        assert row.land_take_ha <= row.epsilon_ha + 1e-9
        capped = pareto._with_rows(base, epsilon_m2=row.epsilon_ha * M2_PER_HA, land_weight=0.0)
        assert row.transport == pytest.approx(brute_force(capped), rel=1e-6), row.point
    assert front["verified"].all() and (front["status"] == "optimal").all()
    assert front["land_sorteercentrum_ha"].to_numpy() == pytest.approx(front["land_take_ha"].to_numpy())


def test_non_monotone_front_is_rejected() -> None:
    bad = pd.DataFrame({"land_take_ha": [10.0, 20.0, 30.0], "transport": [100.0, 120.0, 90.0]})
    with pytest.raises(pareto.ParetoError, match="not monotone"):
        pareto.check_monotone(bad)


def test_plot_and_table_are_written(front: pd.DataFrame, tmp_path: Path) -> None:
    files = pareto.write(front, tmp_path / "out", "tiny: transport vs land take")
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files["png"].stat().st_size > 10_000
    table = pd.read_csv(files["csv"])
    assert len(table) == len(front)
    assert {"land_take_ha", "transport", "facilities", "epsilon_ha", "verified"} <= set(table.columns)


def test_too_few_points_is_an_error(tiny: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        pareto.trace(load_instance(tiny), 1)


def test_cli_pareto_writes_table_and_plot(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    proc = run_cli("pareto", tiny, "--points", "3", "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "pareto.csv")
    assert len(table) == 3
    assert table["land_take_ha"].iloc[0] == pytest.approx(table["land_take_ha"].max())
    assert (out / "pareto.png").stat().st_size > 10_000
    assert "every point verified" in proc.stdout
    proc = run_cli("pareto", tiny, "--points", "2", "--out", tmp_path / "json", "--json")
    assert proc.returncode == 0, proc.stderr
    front = json.loads(proc.stdout)["front"]
    assert len(front) == 2 and front[0]["land_take_ha"] >= front[1]["land_take_ha"]
