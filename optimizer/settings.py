"""Project-wide settings: locations and the coordinate reference system."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:31370"  # Belgian Lambert 72, metres
