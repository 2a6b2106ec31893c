"""Numbers and ids as the loaders read them: local number formats, magnitudes the solver handles, id collisions.

Shared by the Flanders tables (:mod:`optimizer.data.tables`) and the matrix format
(:mod:`optimizer.data.matrix_files`), so both say the same thing about the same mistake.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.settings import MAX_MAGNITUDE

# 1.234,5 / 1,5 / 12 345 / 1'234 / 1.234.567 : written with a decimal comma or thousands separators
_LOCAL = re.compile(r"^[+-]?\d{1,3}([.\s\u00a0\u202f',]\d{3})+([.,]\d+)?$|^[+-]?\d+,\d+$")


def local_number_hint(text: object) -> str:
    """A hint for a value written in a local number format (decimal comma, thousands separators), else ``""``."""
    value = str(text).strip()
    if not _LOCAL.match(value):
        return ""
    return ("; it looks like a number with a decimal comma or thousands separators (a spreadsheet in a Dutch or "
            "French locale): write it with a decimal point and no separators, e.g. 1234.5")


def short(value: object, limit: int = 40) -> str:
    """``repr`` of a value, cut to ``limit`` characters: an error quotes the offending value, never a whole file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def magnitude_problem(values: np.ndarray) -> int | None:
    """Index of the first finite value beyond :data:`~optimizer.settings.MAX_MAGNITUDE` in size, or ``None``."""
    values = np.asarray(values, dtype=float)
    big = np.flatnonzero(np.isfinite(values) & (np.abs(values) > MAX_MAGNITUDE))
    return int(big[0]) if big.size else None


def magnitude_message(field: str, value: float) -> str:
    return (f"{field} {value:g} is beyond the range the solver handles reliably (|value| ≤ {MAX_MAGNITUDE:g}): "
            "give it in a larger unit (e.g. thousands) so that values stay below that")


def case_collision(ids: pd.Series) -> tuple[int, int] | None:
    """Positions ``(first, second)`` of two ids that differ only by letter case or surrounding whitespace."""
    folded = ids.astype(str).str.strip().str.casefold()
    dup = folded.duplicated().to_numpy()
    if not dup.any():
        return None
    second = int(np.flatnonzero(dup)[0])
    first = int(np.flatnonzero((folded == folded.iloc[second]).to_numpy())[0])
    return first, second


def csv_records(path: Path) -> tuple[int, list[tuple[int, int]]]:
    """The header's number of fields and, per data record, ``(line it starts on, number of fields)``.

    Blank lines are skipped but counted (header = line 1), so a row number is the line a text editor shows and,
    for files without blank lines, the row a spreadsheet shows.
    """
    records: list[tuple[int, int]] = []
    header = 0
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        previous = 0
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if not header:
                header = len(record)
                continue
            records.append((start, len(record)))
    return header, records


def short_row(path: Path) -> tuple[int, int, int] | None:
    """``(line, fields, header fields)`` of the first record with fewer fields than the header, or ``None``."""
    header, records = csv_records(path)
    for line, n in records:
        if n < header:
            return line, n, header
    return None
