"""Project-wide settings: locations, the coordinate reference system and every ``SITING_*`` environment variable.

The environment is read here and nowhere else, when a setting is asked for (not at import), so a test or a
sweep worker that sets a variable sees it take effect.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:31370"  # Belgian Lambert 72, metres
M2_PER_HA = 10_000.0
# Above this many allowed client x option pairs the formulation builds k-nearest arcs and the solve certifies the
# sparse optimum against the dense one (optimizer/solver/sparsified.py); --set sparsify=on|off overrides. Why this
# threshold: dense arcs of fine-10k-3k (1.47 M pairs) cost several times the compile time and memory of k-nearest
# ones (benchmarks/perf/README.md, "Fine-grained Flanders instances"), while the 285-municipality instances
# (< 0.1 M pairs) stay dense.
SPARSIFY_MIN_PAIRS = 1_000_000

THREADS_ENV = "SITING_THREADS"
CACHE_DIR_ENV = "SITING_CACHE_DIR"
BENCHMARKS_DIR_ENV = "SITING_BENCHMARKS_DIR"


def solver_threads() -> int | None:
    """Solver threads from ``$SITING_THREADS`` (``None`` when unset: the solver's default)."""
    value = os.environ.get(THREADS_ENV)
    return int(value) if value else None


def cache_dir() -> Path:
    """Matrix cache folder: ``$SITING_CACHE_DIR`` or ``~/.cache/circular-siting``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env) if env else Path.home() / ".cache" / "circular-siting"


def benchmarks_dir() -> Path:
    """Folder holding the benchmark libraries: ``$SITING_BENCHMARKS_DIR`` or ``PROJECT_ROOT/../shared/benchmarks``."""
    env = os.environ.get(BENCHMARKS_DIR_ENV)
    return Path(env) if env else (PROJECT_ROOT.parent / "shared" / "benchmarks").resolve()
