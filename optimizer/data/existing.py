"""Existing facilities: the table of sites that are already there, read and validated once at the boundary.

A manifest names the table under ``[tables] existing = "flanders/existing_facilities.csv"`` (format and meaning in
``docs/existing-facilities.md``). Each row is one facility of one programme (for the plastics chain: one echelon,
``role``) at a candidate zone (``site_id``) or at a point (``x``, ``y`` in EPSG:31370 with the municipality code
``nis``), with its plot area, an optional capacity, and a status: ``fixed_open`` (kept open, its capacity used) or
``closable`` (may close at ``close_cost_eur``, saving ``close_saving_eur_per_yr``). Its land is already taken: an
existing facility takes no new land. A number the study does not give may be written as the *name* of an assumption
(``existing_kallo_plot_m2``), so every inferred figure stays named. A capacity may grow over time:
``"26000; 2028: 65000"`` is 26,000 t/yr until 2027 and 65,000 t/yr from 2028.

A facility at a point becomes a candidate row of its own (``EXIST-<facility_id>``, zone type ``existing``, no free
land), so every later layer finds its coordinates, municipality and access attributes like any site's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.programmes import Assumption
from optimizer.errors import InputError

STATUSES = ("fixed_open", "closable")
ROLES = ("sorting", "mechanical", "chemical")  # echelons of the plastics chain (optimizer.model.chain.ECHELONS)
STREAMS = ("PS", "PO")
EXISTING_ZONE_TYPE = "existing"
REQUIRED = ("facility_id", "name", "programme", "area_m2", "status", "source")
OPTIONAL = ("role", "stream", "site_id", "x", "y", "nis", "capacity_t", "close_cost_eur", "close_saving_eur_per_yr",
            "counts_toward_rule", "open_from", "open_until")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Schedule:
    """A figure that may change over time: ``(first_year, value)`` steps; the first step has no year."""

    steps: tuple[tuple[int | None, float], ...]

    def at(self, year: int | None) -> float:
        """The value in ``year``; ``None`` is the end state (the last step)."""
        if year is None:
            return self.steps[-1][1]
        value = self.steps[0][1]
        for first, v in self.steps[1:]:
            if first is not None and year >= first:
                value = v
        return value

    @property
    def constant(self) -> bool:
        return len(self.steps) == 1


def _number(text: str, assumptions: dict[str, Assumption], used: set[str]) -> float:
    """A number, or the name of a numeric assumption (recorded in ``used``)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if text not in assumptions:
        msg = f"{text!r} is neither a number nor a named assumption (models/*.toml)"
        raise ValueError(msg)
    used.add(text)
    return float(assumptions[text].value)


def parse_schedule(text: str, assumptions: dict[str, Assumption], used: set[str]) -> Schedule:
    """``"26000; 2028: 65000"`` → 26,000 until 2027, 65,000 from 2028 (values may be assumption names)."""
    steps: list[tuple[int | None, float]] = []
    for k, part in enumerate(p for p in text.split(";")):
        part = part.strip()
        if ":" in part:
            year_text, value_text = part.split(":", 1)
            try:
                year: int | None = int(year_text.strip())
            except ValueError as e:
                raise ValueError(f"{year_text.strip()!r} is not a year; write 'VALUE; YEAR: VALUE'") from e
            if k == 0:
                raise ValueError("the first value has no year; write 'VALUE; YEAR: VALUE'")
            if steps[-1][0] is not None and year <= steps[-1][0]:
                raise ValueError("the years of a schedule must increase")
        else:
            if k > 0:
                raise ValueError("every value after the first needs its first year; write 'VALUE; YEAR: VALUE'")
            year, value_text = None, part
        steps.append((year, _number(value_text, assumptions, used)))
    return Schedule(tuple(steps))


def _truthy(text: str, default: bool) -> bool:
    t = text.strip().lower()
    if not t:
        return default
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def load_existing(path: Path, candidates: pd.DataFrame, demand: pd.DataFrame, assumptions: dict[str, Assumption],
                  programme_ids: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate the existing-facility table at ``path``.

    Parameters
    ----------
    path
        CSV table (UTF-8, comma separated; columns in ``docs/existing-facilities.md``).
    candidates, demand
        The instance's validated candidate and demand tables (zone ids and municipality codes are checked
        against them).
    assumptions
        The named assumptions, for figures written as names.
    programme_ids
        Every programme defined in ``models/`` (a row may name a programme the instance does not place).

    Returns
    -------
    existing, extra_candidates
        One row per facility with resolved figures (``area_m2`` and ``capacity_t`` as floats, ``capacity`` a
        :class:`Schedule` or ``None``, ``site_id`` of its zone or point site, ``assumptions_used``), and the candidate
        rows of facilities given as points (zone type ``existing``, no free land).
    """
    zones = candidates.set_index("site_id")
    munis = set(demand["nis"].astype(str))
    rows, extra = [], []
    for r, text in read_existing(path, assumptions, programme_ids):
        line, fid = r["row"], r["facility_id"]

        def fail(field: str, message: str) -> InputError:
            return InputError(message, file=path, row=line, field=field)  # noqa: B023 - used at once

        site_id, xs, ys = text["site_id"].strip(), text["x"].strip(), text["y"].strip()
        if site_id and (xs or ys):
            raise fail("site_id", "give a zone (site_id) or a point (x, y), not both")
        if site_id:
            if site_id not in zones.index:
                raise fail("site_id", f"zone {site_id!r} is not in the instance's candidate table")
            zone = zones.loc[site_id]
            zone = zone.iloc[0] if isinstance(zone, pd.DataFrame) else zone
            x, y, nis = float(zone["x"]), float(zone["y"]), str(zone["nis"])
        else:
            try:
                x, y = float(xs), float(ys)
            except ValueError:
                raise fail("x" if not _is_float(xs) else "y",
                           "give a zone (site_id) or a point: x and y in metres, EPSG:31370 (Lambert 72)") from None
            nis = text["nis"].strip().removesuffix(".0")
            if nis not in munis:
                raise fail("nis", f"municipality code {nis!r} is not in the demand table; a point needs the NIS code "
                                  "of the municipality it lies in")
            site_id = f"EXIST-{fid}"
            extra.append({"site_id": site_id, "name": r["name"], "zone_type": EXISTING_ZONE_TYPE,
                          "aggregate": False, "nis": nis, "x": x, "y": y, "total_ha": r["area_m2"] / 1e4,
                          "occupied_ha": r["area_m2"] / 1e4, "free_ha": 0.0, "free_from_assumption": False})
        rows.append({**r, "site_id": site_id, "nis": nis, "x": x, "y": y})
    if extra:
        _check_points(pd.DataFrame(extra), path, [r["row"] for r in rows if r["site_id"].startswith("EXIST-")])
    existing = pd.DataFrame(rows, columns=["facility_id", "name", "programme", "role", "stream", "site_id", "nis", "x",
                                           "y", "area_m2", "capacity", "capacity_t", "status", "close_cost_eur",
                                           "close_saving_eur_per_yr", "counts_toward_rule", "open_from", "open_until",
                                           "source", "assumptions_used", "row"])
    return existing, pd.DataFrame(extra)


def read_existing(path: Path, assumptions: dict[str, Assumption], programme_ids: set[str]
                  ) -> list[tuple[dict, dict[str, str]]]:
    """The rows of the existing-facility table with every figure checked and resolved, not yet placed on a site.

    Returns ``(facility, text)`` per row: the facility's resolved fields (``facility_id``, ``programme``, figures,
    ``capacity`` :class:`Schedule`, window, ``assumptions_used``, ``row``: its CSV line) and the row's raw text,
    whose ``site_id`` / ``x``, ``y``, ``nis`` :func:`load_existing` places against the candidate and demand tables.
    ``siting show`` lists the facilities from these rows without reading those tables.
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason}); save the file as UTF-8", file=path) from e
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise InputError(f"not a readable CSV table ({str(e).strip()})", file=path) from e
    for col in REQUIRED:
        if col not in raw.columns:
            raise InputError(f"missing column {col!r} (columns: docs/existing-facilities.md)", file=path, field=col)
    for col in OPTIONAL:
        if col not in raw.columns:
            raw[col] = ""
    rows: list[tuple[dict, dict[str, str]]] = []
    for i, r in enumerate(raw.to_dict("records")):
        line = i + 2  # header is line 1

        def fail(field: str, message: str) -> InputError:
            return InputError(message, file=path, row=line, field=field)  # noqa: B023 - used at once

        fid = r["facility_id"].strip()
        if not _ID.match(fid):
            raise fail("facility_id", "give an id of letters, digits, '-', '_' or '.' (no spaces)")
        if any(row["facility_id"] == fid for row, _ in rows):
            raise fail("facility_id", f"facility_id {fid!r} is used twice; ids must be unique")
        prog = r["programme"].strip()
        if prog not in programme_ids:
            raise fail("programme", f"unknown programme {prog!r}; known: {', '.join(sorted(programme_ids))}")
        role, stream = r["role"].strip(), r["stream"].strip()
        if prog == "plastics_chain" and role not in ROLES:
            raise fail("role", f"a plastics_chain row needs role = one of {', '.join(ROLES)}")
        if prog != "plastics_chain" and role:
            raise fail("role", "role is for plastics_chain rows (the echelon); leave it empty")
        if stream and stream not in STREAMS:
            raise fail("stream", f"stream must be one of {', '.join(STREAMS)} or empty")
        if stream and role != "chemical":
            raise fail("stream", "only a chemical-recycling plant takes one stream (PS or PO); leave it empty")
        status = r["status"].strip()
        if status not in STATUSES:
            raise fail("status", f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        used: set[str] = set()
        figures: dict[str, float] = {}
        for col, default in (("area_m2", None), ("close_cost_eur", 0.0), ("close_saving_eur_per_yr", 0.0)):
            text = r[col].strip()
            if not text:
                if default is None:
                    raise fail(col, "give the plot area in m² (a number or an assumption name)")
                figures[col] = default
                continue
            try:
                figures[col] = _number(text, assumptions, used)
            except ValueError as e:
                raise fail(col, str(e)) from None
            if not math.isfinite(figures[col]) or figures[col] < 0:
                raise fail(col, "must be a finite number ≥ 0")
        if figures["area_m2"] <= 0:
            raise fail("area_m2", "the plot area must be > 0 m²")
        if status == "fixed_open" and (figures["close_cost_eur"] or figures["close_saving_eur_per_yr"]):
            raise fail("close_cost_eur", "a fixed_open facility never closes: leave the closing figures empty")
        capacity = None
        if r["capacity_t"].strip():
            try:
                capacity = parse_schedule(r["capacity_t"], assumptions, used)
            except ValueError as e:
                raise fail("capacity_t", str(e)) from None
            if any(not math.isfinite(v) or v <= 0 for _, v in capacity.steps):
                raise fail("capacity_t", "capacities must be > 0 t/yr")
        try:
            counts = _truthy(r["counts_toward_rule"], default=True)
        except ValueError as e:
            raise fail("counts_toward_rule", str(e)) from None
        window = {}
        for col in ("open_from", "open_until"):
            text = r[col].strip()
            try:
                window[col] = int(text) if text else None
            except ValueError:
                raise fail(col, f"a year, e.g. 2030; got {text!r}") from None
        if window["open_from"] and window["open_until"] and window["open_until"] < window["open_from"]:
            raise fail("open_until", "open_until is before open_from")
        rows.append(({"facility_id": fid, "name": r["name"].strip(), "programme": prog, "role": role, "stream": stream,
                      "area_m2": figures["area_m2"], "capacity": capacity,
                      "capacity_t": capacity.at(None) if capacity else np.nan, "status": status,
                      "close_cost_eur": figures["close_cost_eur"],
                      "close_saving_eur_per_yr": figures["close_saving_eur_per_yr"], "counts_toward_rule": counts,
                      "open_from": window["open_from"], "open_until": window["open_until"],
                      "source": r["source"].strip(), "assumptions_used": tuple(sorted(used)), "row": line}, r))
    return rows


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_points(points: pd.DataFrame, path: Path, lines: list[int]) -> None:
    """Points lie in Flanders' Lambert 72 extent (catches degrees given as metres)."""
    from optimizer.data.tables import FLANDERS_BOUNDS_M

    x0, y0, x1, y1 = FLANDERS_BOUNDS_M
    bad = ~((points["x"] >= x0) & (points["x"] <= x1) & (points["y"] >= y0) & (points["y"] <= y1))
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError("point outside Flanders: x and y are metres in EPSG:31370 (Lambert 72), not degrees",
                         file=path, row=lines[k], field="x")


def in_window(existing: pd.DataFrame, year: int | None) -> np.ndarray:
    """Which rows exist in ``year``; ``None`` is the end state (rows with an ``open_until`` are gone by then)."""
    if year is None:
        return existing["open_until"].isna().to_numpy()
    start = existing["open_from"].fillna(-10**9).to_numpy(float)
    until = existing["open_until"].fillna(10**9).to_numpy(float)
    return (start <= year) & (year <= until)
