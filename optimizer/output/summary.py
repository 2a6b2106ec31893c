"""The one run manifest (``summary.json``) of every instance kind: its envelope, strict JSON and its kind.

Every result folder — named, matrix or chain instance — carries a ``summary.json`` with the same envelope
(:func:`envelope`): the format marker ``"format": "circular-siting/result"`` with its ``format_version``, the kind
of instance, what was solved (name, hash, parameters, overrides, assumptions), how it ended (status, objective
parts, bound, gap, verification) and how (solver, options, timings, versions). Each kind adds its own keys on
top; the schema is documented in ``docs/summary-schema.md``. The file is strict JSON (:func:`dumps`): no NaN or
Infinity (a missing figure is ``null``), no numpy types.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path

import numpy as np

from optimizer.atomic import RESULT_FORMAT as FORMAT  # the marker that lets siting replace and verify its own folders
from optimizer.atomic import RESULT_FORMAT_VERSION as FORMAT_VERSION
from optimizer.atomic import RESULT_MARKER as SUMMARY_NAME
from optimizer.settings import VERSION

KINDS = ("named", "matrix", "chain", "periods", "chain_periods")


def envelope(
    *,
    kind: str,
    instance: str,
    title: str,
    instance_path: str | Path | None,
    instance_hash: str,
    parameters: dict,
    overrides: dict,
    assumptions: dict,
    status: str,
    objective: dict,
    bound: float | None,
    gap: float | None,
    land_take_ha: float | None,
    facilities: int,
    size: dict,
    solver: str,
    solve_options: dict,
    timings_s: dict,
    verification: dict,
    crs: str | None,
) -> dict:
    """The keys every ``summary.json`` has, in the documented order (``docs/summary-schema.md``).

    ``objective`` holds ``total``, ``transport``, ``fixed``, ``land`` (in ``unit``); ``bound`` and ``gap`` are
    ``None`` when no bound was proven (never a silent 0). ``instance_path`` is the file or folder solved, which
    ``siting verify`` reloads (``None`` for an instance built in memory). ``crs`` is ``None`` for a result without
    coordinates (a matrix instance).
    """
    if kind not in KINDS:
        msg = f"unknown result kind {kind!r}"
        raise ValueError(msg)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "instance": instance,
        "title": title,
        "instance_path": None if instance_path is None else str(instance_path),
        "instance_hash": instance_hash,
        "parameters": parameters,
        "overrides": overrides,
        "assumptions": assumptions,
        "status": str(status),
        "optimal": str(status) == "optimal",
        "objective": objective,
        "bound": finite_or_none(bound),
        "gap": finite_or_none(gap),
        "land_take_ha": land_take_ha,
        "facilities": int(facilities),
        "size": size,
        "solver": solver,
        "solve_options": solve_options,
        "timings_s": {k: round(float(v), 4) for k, v in timings_s.items()},
        "verification": verification,
        "versions": versions(),
        "crs": crs,
    }


def instance_file(path: Path | None) -> str | None:
    """The manifest an instance was loaded from, as recorded in ``instance_path`` (``None``: built in memory)."""
    return str(Path(path).resolve()) if path is not None and Path(path).exists() else None


def finite_or_none(value: float | None) -> float | None:
    """A float, or ``None`` for a missing or non-finite one (JSON has no NaN or Infinity)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(value: object) -> object:
    """``value`` as plain JSON types: numpy scalars and arrays unwrapped, non-finite floats ``None``, paths and
    enums as text, tuples as lists, dict keys as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, Enum):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return finite_or_none(float(value))
    if isinstance(value, Enum):
        return json_safe(value.value)
    if value is None or value is _pd().NA or value is _pd().NaT:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _pd():  # noqa: ANN202 - pandas, imported when first needed (its NA and NaT markers)
    import pandas

    return pandas


def dumps(summary: dict) -> str:
    """Strict JSON text of a summary (``allow_nan=False``: a NaN that slipped through fails loudly here)."""
    return json.dumps(json_safe(summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def kind_of(summary: dict) -> str:
    """The kind of a result from its summary, also for the unversioned summaries written before the schema."""
    if summary.get("kind") in KINDS:
        return str(summary["kind"])
    if "facilities_per_echelon" in summary or "objective_eur_per_yr" in summary:
        return "chain"
    if "open_facilities" in summary or not isinstance(summary.get("objective", {}), dict):
        return "matrix"
    return "named"


def is_result_summary(data: object) -> bool:
    """Whether parsed JSON is a siting result summary of a known format version (the marker of issue 13)."""
    return (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("format_version"), int)
            and 1 <= data["format_version"] <= FORMAT_VERSION)


def versions() -> dict[str, str]:
    """Versions of Python, this package and the libraries that shape a result (the installed ones).

    A library this process has loaded gives its own version (``__version__``; for highspy the HiGHS library it
    carries), the others the installed distribution's metadata: the same figures either way, and a matrix solve,
    which loads numpy, pandas and highspy, reads the metadata of only the four others (issue 18, fixed costs).
    """
    import platform
    import sys

    found = {pkg: _module_version(sys.modules.get(pkg)) for pkg in LIBRARIES}
    missing = [pkg for pkg, v in found.items() if v is None]
    if missing:
        from importlib.metadata import PackageNotFoundError, version

        for pkg in missing:
            try:
                found[pkg] = version(pkg)
            except PackageNotFoundError:
                found[pkg] = "not installed"
    return {"python": platform.python_version(), "circular-siting": VERSION, **found}


# the libraries whose versions a manifest records, in this order
LIBRARIES = ("highspy", "pyomo", "numpy", "scipy", "pandas", "geopandas", "pyogrio")


def _module_version(module: object) -> str | None:
    """A loaded module's version: ``__version__``, or for highspy the HiGHS library's; ``None`` if not loaded."""
    if module is None:
        return None
    found = getattr(module, "__version__", None)
    if isinstance(found, str):
        return found
    parts = [getattr(module, f"HIGHS_VERSION_{p}", None) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(map(str, parts)) if all(isinstance(p, int) for p in parts) else None
