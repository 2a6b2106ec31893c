"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SITING_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
HAS_SHARED = (SHARED / "data" / "flanders").is_dir()

needs_shared = pytest.mark.skipif(not HAS_SHARED, reason="../shared is absent (a user's machine): raw-data test skipped")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not HAS_SHARED:
        pytest.skip("../shared is absent")
    return SHARED
