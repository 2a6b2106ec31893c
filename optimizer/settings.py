"""Project-wide settings: locations, the coordinate reference system and every ``SITING_*`` environment variable.

The environment is read here and nowhere else, when a setting is asked for (not at import), so a test or a
sweep worker that sets a variable sees it take effect.
"""

from __future__ import annotations

import os
from pathlib import Path

VERSION = "0.1.0"  # the package version, in one place: pyproject.toml reads it (dynamic version)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:31370"  # Belgian Lambert 72, metres
M2_PER_HA = 10_000.0
# Above this many allowed client x option pairs the formulation builds k-nearest arcs and the solve certifies the
# sparse optimum against the dense one (optimizer/solver/sparsified.py); --set sparsify=on|off overrides. Why this
# threshold: dense arcs of fine-10k-3k (1.47 M pairs) cost several times the compile time and memory of k-nearest
# ones (benchmarks/perf/README.md, "Fine-grained Flanders instances"), while the 285-municipality instances
# (< 0.1 M pairs) stay dense.
SPARSIFY_MIN_PAIRS = 1_000_000
# Distances (km) of the equity figures' "share of demand within" in every result (issue 16): walking and cycling
# reach (1, 2, 5 km) up to a materialenbank's region (10, 20 km). A run changes them with --set
# equity_within_km=...; a coverage programme's own service distance is always added.
EQUITY_WITHIN_KM = (1.0, 2.0, 5.0, 10.0, 20.0)

# `siting sensitivity` without --vary: each programme's tonnage per inhabitant and throughput per m² and the road
# cost per t·km, one at a time, at this share below and above their values (docs/sensitivity.md). A study setting,
# not a model figure: ±25 % spans the range the assumptions' own bases give (e.g. PMD 16-20 kg/inhabitant around
# 18 kg, road freight 0.08-0.12 EUR/t·km around 0.10; models/assumptions.toml, models/access.toml).
SENSITIVITY_DEFAULT_RANGE = 0.25
# Robust-site classes of the sensitivity map: chosen in at least ROBUST of the solved variants, or in fewer than RARE.
SENSITIVITY_ROBUST_SHARE = 0.8
SENSITIVITY_RARE_SHARE = 0.5
# Largest size of an input number (demand, population, capacity, cost, area): HiGHS treats 1e20 as infinite and
# works to absolute tolerances around 1e-7 to 1e-9, so values far beyond 1e12 leave no room for the products the
# model forms (tonnes x km x EUR) and end in "verification failed" or a stalled solve; refused when read.
MAX_MAGNITUDE = 1e12

THREADS_ENV = "SITING_THREADS"
CACHE_DIR_ENV = "SITING_CACHE_DIR"
BENCHMARKS_DIR_ENV = "SITING_BENCHMARKS_DIR"
DATA_ROOTS_ENV = "SITING_DATA_ROOTS"


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


def data_roots() -> list[Path]:
    """Folders an instance's tables may be read from besides the instance's own folder: the project's
    ``instances/`` (shipped tables, ``instances/flanders/...``) and each folder in ``$SITING_DATA_ROOTS``
    (separated by ``os.pathsep``), e.g. a shared GIS drive."""
    roots = [PROJECT_ROOT / "instances"]
    for part in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return roots
