"""The shipped neighbourhood table (instances/flanders/neighbourhoods.csv) and its population rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import needs_shared

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "instances" / "flanders" / "neighbourhoods.csv"


def load_script(relative: str):
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hoods() -> pd.DataFrame:
    return pd.read_csv(TABLE, dtype={"neighbourhood_id": str, "nis2024": str, "nis2025": str})


@pytest.fixture(scope="module")
def munis() -> pd.DataFrame:
    return pd.read_csv(ROOT / "instances" / "flanders" / "municipalities.csv", dtype={"nis": str}).set_index("nis")


def test_every_flemish_neighbourhood_once(hoods, munis):
    assert len(hoods) == 2526
    assert hoods["neighbourhood_id"].is_unique
    assert set(hoods["nis2025"]) == set(munis.index)  # all 285 municipalities, nothing outside Flanders
    assert hoods["name"].notna().all()
    assert (hoods["area_km2"] > 0).all()


def test_populations_sum_exactly_to_the_municipal_totals(hoods, munis):
    assert pd.api.types.is_integer_dtype(hoods["population"])
    assert (hoods["population"] >= 0).all()
    per_muni = hoods.groupby("nis2025")["population"].sum()
    assert (per_muni == munis["population"].reindex(per_muni.index)).all()
    assert hoods["population"].sum() == 6_629_143
    shares = hoods.groupby("nis2025")["population_share"].sum()
    assert np.allclose(shares, 1.0, atol=1e-6)


def test_population_follows_the_urban_fabric_rule(hoods):
    urban = hoods["clc111_ha"] + hoods["clc112_ha"]
    assert (hoods.loc[hoods["population"] > 0, "clc111_ha"] + hoods.loc[hoods["population"] > 0, "clc112_ha"] > 0).all()
    assert (hoods.loc[urban == 0, "population"] == 0).all()  # no municipality fell back to area
    # within one 2019-2024 municipality, more urban-fabric cells never means fewer residents (up to rounding by 1)
    for _, g in hoods.groupby("nis2024"):
        order = np.argsort(urban.loc[g.index].to_numpy(), kind="stable")
        pop = g["population"].to_numpy()[order]
        assert (np.diff(pop) >= -1).all()


def test_points_lie_in_flanders_in_lambert72(hoods):
    assert hoods["x"].between(20_000, 260_000).all()
    assert hoods["y"].between(150_000, 250_000).all()


@given(st.integers(0, 10**6), st.lists(st.integers(0, 1000), min_size=1, max_size=30).filter(lambda w: sum(w) > 0))
def test_largest_remainder_sums_exactly_and_stays_within_one(total, weights):
    build = load_script("instances/flanders/build_neighbourhoods.py")
    w = np.array(weights, float)
    got = build.largest_remainder(total, w)
    assert got.sum() == total
    assert (np.abs(got - total * w / w.sum()) < 1.0).all()


@needs_shared
def test_rebuilding_from_shared_gives_the_shipped_table(shared_dir, hoods):
    pytest.importorskip("rasterio", reason="rasterio (pip install -e '.[build]') reads CORINE; the shipped table needs none")
    build = load_script("instances/flanders/build_neighbourhoods.py")
    fresh = build.build(shared_dir)
    shipped = hoods.copy()
    for col in ("neighbourhood_id", "nis2024", "nis2025"):
        fresh[col] = fresh[col].astype(str)
    pd.testing.assert_frame_equal(fresh.reset_index(drop=True), shipped[fresh.columns], check_dtype=False, atol=1e-6)
