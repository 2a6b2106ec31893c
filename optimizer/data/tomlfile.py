"""The one TOML reader: manifests, programmes, assumptions, access rules, sweeps and matrix instances.

Every way a TOML file can fail to load becomes one :class:`~optimizer.errors.InputError` naming the file (and the
line of a syntax error) with what to do about it, so all readers report the same problem the same way.
"""

from __future__ import annotations

import tomllib
from os import PathLike
from pathlib import Path
from typing import Any

from optimizer.errors import InputError


def read_toml(path: str | PathLike[str]) -> dict[str, Any]:
    """Parse the TOML file at ``path``; raise :class:`InputError` if it is missing, not UTF-8 or malformed."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as e:
        raise InputError("file not found", file=path) from e
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start}): save the file as UTF-8", file=path) from e
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"malformed TOML: {e}", file=path, row=getattr(e, "lineno", None)) from e
    except OSError as e:  # a folder, no permission, ...
        raise InputError(f"cannot read: {e}", file=path) from e


def peek_toml(path: str | PathLike[str]) -> dict[str, Any] | None:
    """:func:`read_toml`, or ``None`` for a file that cannot be read: for listings and dispatch, which leave the
    error to the full load that follows."""
    try:
        return read_toml(path)
    except InputError:
        return None
