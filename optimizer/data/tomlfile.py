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


MAX_TOML_BYTES = 16 * 2**20  # manifests are a few kB; anything this large is not one


def read_toml(path: str | PathLike[str]) -> dict[str, Any]:
    """Parse the TOML file at ``path``; raise :class:`InputError` if it is missing, not UTF-8 or malformed.

    A UTF-8 byte-order mark (which Windows editors add) is accepted; a file in another encoding (Latin-1,
    Windows-1252) is refused with the line of the first byte that is not UTF-8, never guessed.
    """
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_TOML_BYTES:
            raise InputError(f"{path.stat().st_size / 2**20:.0f} MB is far too large for a TOML manifest; check the "
                             "path", file=path)
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError("file not found", file=path) from e
    except IsADirectoryError as e:
        raise InputError("is a folder, not a TOML file", file=path) from e
    except OSError as e:  # no permission, ...
        raise InputError(f"cannot read ({e.strerror or e})", file=path) from e
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        guess = data[e.start: e.start + 1].decode("latin-1")
        msg = (f"not UTF-8 text (byte 0x{data[e.start]:02x}, {guess!r} in Latin-1/Windows-1252): save the file as "
               "UTF-8")
        raise InputError(msg, file=path, row=line) from e
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        first = str(e).splitlines()[0][:160]
        raise InputError(f"malformed TOML: {first}", file=path, row=getattr(e, "lineno", None)) from e


def peek_toml(path: str | PathLike[str]) -> dict[str, Any] | None:
    """:func:`read_toml`, or ``None`` for a file that cannot be read: for listings and dispatch, which leave the
    error to the full load that follows."""
    try:
        return read_toml(path)
    except InputError:
        return None
