"""Behaviour unchanged: fast cases of the regression baseline solve to the recorded figures.

The baseline (``tests/regression/baseline.json``) was recorded by ``benchmarks/regression/record.py`` on the code
before a restructuring; every case there is re-solved by ``record.py --compare``. This test re-solves the cases
that take a few seconds at most (:data:`record.FAST_CASES`) and compares objective (relative 1e-9), land take per
programme and chosen sites (site, programme, size) exactly; a named case reads the result folder the session's
``solved_named`` fixture wrote through the pipeline ``siting solve`` runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("regression_record", ROOT / "benchmarks" / "regression" / "record.py")
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)
BASELINE = json.loads(record.BASELINE.read_text(encoding="utf-8"))["cases"]


def _available(case: str) -> bool:
    if case.startswith("named:"):
        return True
    from optimizer.bench.readers import benchmarks_available

    return benchmarks_available()


@pytest.mark.parametrize("case", record.FAST_CASES)
def test_fast_case_unchanged(case: str, solved_named) -> None:  # noqa: ANN001
    """A named case is solved as ``siting solve NAME --out`` solves it (once per session: the other tests that need
    the same instance read the same result); a benchmark case as ``record.py`` solves it."""
    if not _available(case):
        pytest.skip("benchmark data (../shared/benchmarks) absent")
    kind, _, name = case.partition(":")
    after = record.named_figures(solved_named(name).folder) if kind == "named" else record.solve_case(case)
    assert record.differences(BASELINE[case], after) == []


def test_fast_cases_are_in_the_baseline() -> None:
    assert set(record.FAST_CASES) <= set(BASELINE)
    assert all(BASELINE[c]["status"] == "optimal" for c in record.FAST_CASES)


def test_differences_detects_a_change() -> None:
    before = BASELINE[record.FAST_CASES[0]]
    moved = {**before, "sites": before["sites"][1:], "objective": before["objective"] * (1 + 1e-6)}
    found = record.differences(before, moved)
    assert any(d.startswith("objective") for d in found) and any(d.startswith("sites") for d in found)
