"""What every check of a stored result shares: the findings, reading its tables, and its copies compared.

:mod:`optimizer.check.stored` runs the checks (``siting verify``); this module holds the :class:`StoredCheck`
findings, the table reader, the small number helpers, and :func:`check_copies`: every layer of ``result.gpkg``
against its CSV copy and the GeoPackage metadata against ``summary.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from optimizer.errors import InputError

if TYPE_CHECKING:
    from optimizer.data.instance import Instance

GPKG_NAME = "result.gpkg"
REL_TOL, ABS_TOL = 1e-6, 1e-6
ID_COLUMNS = {"facility_id", "programme", "site_id", "site_name", "zone_type", "nis", "region", "size", "land_kind",
              "demand_id", "municipality", "client", "facility", "kind", "from", "to", "name", "echelon", "source",
              "type_environment"}


@dataclass
class StoredCheck:
    """What :func:`verify_stored` found: the violations (empty when the result holds), notes and checks made."""

    folder: Path
    kind: str
    instance: str
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {"result": str(self.folder), "kind": self.kind, "instance": self.instance, "verified": self.ok,
                "violations": self.violations, "notes": self.notes, "checks": self.checks}

    def add_report(self, report: Report) -> None:
        """Take over a verifier's checks (marked as made on the stored tables) and its violations."""
        self.checks += [f"stored tables: {c}" for c in report.checks]
        self.violations += report.violations


class Report(Protocol):
    """What a verifier returns (:class:`optimizer.check.verify.VerificationReport` and the like)."""

    checks: list[str]
    violations: list[str]


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path.name} is missing; the result is incomplete", file=path.parent)
    frame = pd.read_csv(path, dtype={c: str for c in ID_COLUMNS}, keep_default_na=True)
    for col in ID_COLUMNS & set(frame.columns):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def read_layer(gpkg: Path, layer: str):  # noqa: ANN202 - GeoDataFrame
    import pyogrio

    return pyogrio.read_dataframe(gpkg, layer=layer)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= ABS_TOL + REL_TOL * max(abs(a), abs(b))


def number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hash_note(check: StoredCheck, recorded: object, current: str) -> None:
    check.checks.append("instance hash")
    if recorded != current:
        check.notes.append(f"the instance has changed since this result was written (hash {str(recorded)[:12]} then, "
                           f"{current[:12]} now): the result is checked against the instance as it is now")


def check_gap(summary: dict, objective: float, check: StoredCheck) -> None:
    bound, gap = number(summary.get("bound")), number(summary.get("gap"))
    check.checks.append("summary: status, bound and gap")
    if summary.get("status") not in ("optimal", "feasible"):
        check.violations.append(f"summary.json: status {summary.get('status')!r} is not a solved result")
    if bound is not None and gap is not None:
        want = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
        if abs(want - gap) > 1e-6 + 1e-6 * abs(want):
            check.violations.append(f"summary.json: gap {gap:.6g} does not follow from objective and bound ({want:.6g})")


def recorded_overrides(summary: dict) -> dict[str, str]:
    given = summary.get("overrides")
    if isinstance(given, dict):
        return {str(k): str(v) for k, v in given.items()}
    return {}


def load_stored_instance(summary: dict, source: str | Path, check: StoredCheck, *,
                         parameters_fallback: bool = False) -> Instance:
    """The instance a result was solved from, with the overrides it recorded; a changed instance becomes a note.

    ``parameters_fallback``: chain results written before overrides were recorded kept only their ``parameters``,
    which then stand in for the overrides.
    """
    from optimizer.data.instance import load_instance

    overrides = recorded_overrides(summary)
    if parameters_fallback and not overrides:
        overrides = {k: str(v) for k, v in (summary.get("parameters") or {}).items()}
    inst = load_instance(source, overrides)
    hash_note(check, summary.get("instance_hash"), inst.content_hash())
    return inst


def recorded_bound(summary: dict) -> float:
    """The lower bound ``summary.json`` records, ``-inf`` where it records none (as a solve without a bound says)."""
    bound = number(summary.get("bound"))
    return bound if bound is not None else -np.inf


def objective_total(summary: dict, check: StoredCheck) -> float:
    obj = summary.get("objective")
    total = number(obj.get("total")) if isinstance(obj, dict) else number(obj)
    if total is None:
        total = number(summary.get("objective_eur_per_yr"))
    if total is None:
        check.violations.append("summary.json: no objective recorded")
        return float("nan")
    return total


def check_copies(folder: Path, tables: dict[str, pd.DataFrame], summary: dict, check: StoredCheck) -> None:
    """Every layer of ``result.gpkg`` that has a CSV copy holds the same rows, values and points."""
    import pyogrio

    gpkg = folder / GPKG_NAME
    if not gpkg.is_file():
        check.violations.append(f"{GPKG_NAME} is missing")
        return
    try:
        layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    except Exception as e:  # noqa: BLE001 - an unreadable GeoPackage is a finding, not a crash
        check.violations.append(f"{GPKG_NAME} cannot be read ({str(e)[:80]})")
        return
    for layer, csv in tables.items():
        check.checks.append(f"{GPKG_NAME} layer {layer} equals {layer}.csv")
        if layer not in layers:
            check.violations.append(f"{GPKG_NAME} has no layer {layer!r}")
            continue
        gdf = read_layer(gpkg, layer)
        if gdf.crs is not None and gdf.crs.to_epsg() != 31370:
            gdf = gdf.to_crs("EPSG:31370")
        check.violations += compare_layer(layer, gdf, csv)
    meta = (pyogrio.read_info(gpkg, layer=next(iter(tables))).get("dataset_metadata") or {})
    for key in ("instance_hash", "status"):
        if key in meta and key in summary and str(meta[key]) != str(summary[key]):
            check.violations.append(f"{GPKG_NAME} metadata says {key} {meta[key]!r}, summary.json {summary[key]!r}")
    obj = summary.get("objective")
    total = number(obj.get("total")) if isinstance(obj, dict) else None
    if "objective" in meta and total is not None and not close(float(meta["objective"]), total):
        check.violations.append(f"{GPKG_NAME} metadata says objective {meta['objective']}, summary.json {total:.6f}")


def check_copies_and_gap(folder: Path, tables: dict[str, pd.DataFrame], summary: dict, objective: float,
                         check: StoredCheck) -> None:
    """The last checks of every result with a GeoPackage: its layers equal the CSV ``tables``, then status and gap."""
    check_copies(folder, tables, summary, check)
    check_gap(summary, objective, check)


def as_text(values: pd.Series) -> np.ndarray:
    """Values as text, every spelling of a missing value (written by pandas or the GeoPackage) as ''."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.replace({"nan": "", "None": "", "<NA>": "", "NaN": ""}).to_numpy()


def compare_layer(layer: str, gdf, csv: pd.DataFrame) -> list[str]:  # noqa: ANN001 - GeoDataFrame
    name = f"{GPKG_NAME} layer {layer} and {layer}.csv"
    if len(gdf) != len(csv):
        return [f"{name} differ: {len(gdf)} rows in the GeoPackage, {len(csv)} in the CSV"]
    out: list[str] = []
    for col in [c for c in csv.columns if c in gdf.columns and c != "geometry"]:
        a, b = gdf[col], csv[col]
        if col in ID_COLUMNS or b.dtype == object:
            diff = np.flatnonzero(as_text(a) != as_text(b))
        else:
            x, y = pd.to_numeric(a, errors="coerce").to_numpy(float), pd.to_numeric(b, errors="coerce").to_numpy(float)
            diff = np.flatnonzero(~(np.isclose(x, y, rtol=1e-9, atol=1e-9) | (np.isnan(x) & np.isnan(y))))
        if diff.size:
            k = int(diff[0])
            out.append(f"{name} differ in row {k + 2}, column {col}: {str(a.iloc[k])[:40]!r} in the GeoPackage, "
                       f"{str(b.iloc[k])[:40]!r} in the CSV")
    if {"x", "y"} <= set(csv.columns) and len(gdf):
        geom = gdf.geometry
        start = geom.apply(lambda g: g.coords[0] if g is not None and not g.is_empty else (np.nan, np.nan))
        xy = np.array(list(start), dtype=float)
        far = np.flatnonzero(np.hypot(xy[:, 0] - csv["x"].to_numpy(float), xy[:, 1] - csv["y"].to_numpy(float)) > 1.0)
        if far.size:
            out.append(f"{name} differ in row {int(far[0]) + 2}: the geometry lies elsewhere than x/y")
    return out[:5]


