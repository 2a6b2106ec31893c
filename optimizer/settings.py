"""Project-wide settings: locations and the coordinate reference system."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:31370"  # Belgian Lambert 72, metres
# Above this many allowed client x option pairs the formulation builds k-nearest arcs and the solve certifies the
# sparse optimum against the dense one (optimizer/sparsify.py); --set sparsify=on|off overrides. Basis (measured,
# benchmarks/perf/README.md "Fine-grained Flanders instances"): on fine-10k-3k (1.47 M pairs) the dense arcs cost
# 5.6 s to compile and 1.0 GB peak memory, k-nearest arcs with the certificate 1.2 s + 1.2 s and 0.41 GB; the
# 285-municipality instances (< 0.1 M pairs) stay dense.
SPARSIFY_MIN_PAIRS = 1_000_000
