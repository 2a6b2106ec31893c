"""Errors raised for bad user input, located by file, row and field."""

from __future__ import annotations

from os import PathLike


class InputError(Exception):
    """A problem with an input file, reported as one line ``file:row:field: message``.

    Parameters
    ----------
    message
        What is wrong and, where possible, how to fix it.
    file
        The file that holds the problem (``None`` when not tied to a file).
    row
        Row (1-based line or feature number) of the problem, if known.
    field
        Column, key or attribute of the problem, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike[str] | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field

    def __str__(self) -> str:
        file = self.file if self.file is not None else "-"
        row = "" if self.row is None else str(self.row)
        field = "" if self.field is None else self.field
        return f"{file}:{row}:{field}: {self.message}"
