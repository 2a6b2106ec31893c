"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The suite is a gate: property tests draw the same examples on every run, so CI is reproducible and a red run
# is a real regression. To search new examples (and keep any failure found as a regression test), run
#   HYPOTHESIS_PROFILE=explore python -m pytest tests/test_highs_backend.py tests/test_properties.py
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SITING_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
HAS_SHARED = (SHARED / "data" / "flanders").is_dir()

needs_shared = pytest.mark.skipif(not HAS_SHARED, reason="../shared is absent (a user's machine): raw-data test skipped")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not HAS_SHARED:
        pytest.skip("../shared is absent")
    return SHARED
