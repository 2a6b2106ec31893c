"""The spopt LSCP bisection of the coverage parity benchmark finds the p-center optimum (brute force on tiny cases)."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "coverage" / "run_parity.py"


def _parity_module():
    spec = importlib.util.spec_from_file_location("run_parity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _brute_force_pcenter(dist: np.ndarray, p: int) -> float:
    return min(float(dist[:, list(s)].min(axis=1).max()) for s in itertools.combinations(range(dist.shape[1]), p))


@pytest.mark.parametrize(("n", "m", "seed", "p"), [(30, 8, 3000, 2), (25, 9, 7, 3), (12, 6, 11, 1)])
def test_lscp_bisection_equals_brute_force(n: int, m: int, seed: int, p: int) -> None:
    pytest.importorskip("pulp", reason="the spopt parity benchmark comes with the [bench] extra")
    pytest.importorskip("spopt", reason="the spopt parity benchmark comes with the [bench] extra")
    parity = _parity_module()
    dist, _, _, _ = parity.instance("pcenter", n, m, seed)
    found = parity.spopt_pcenter_by_lscp(dist, p, time_limit=60.0)
    assert found["status"] == "optimal"
    assert found["value"] == pytest.approx(_brute_force_pcenter(dist, p), rel=1e-12)
    assert found["reported"] == pytest.approx(found["value"], rel=1e-12)
