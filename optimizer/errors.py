"""Every error the engine raises on purpose; the CLI turns each into one line and its exit code.

* :class:`InputError` (exit 2): bad input, located by file, row and field.
* :class:`InfeasibleError` (exit 3): the instance has no solution; the reasons are in the instance's terms.
* :class:`NoSolutionError` (exit 4): the time limit ran out before any feasible solution was found.
* :class:`VerificationError` (exit 5): a solution failed the independent check; nothing is written.
* :class:`ParetoError`: a point of a Pareto front could not be solved to optimality.
* :class:`StrategyError`: a solver strategy was asked for a problem outside the class it is made for.
"""

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


class InfeasibleError(Exception):
    """The instance has no solution; ``reasons`` are planner-readable sentences."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


class NoSolutionError(Exception):
    """The time limit ran out before the solver found any feasible solution."""


class VerificationError(Exception):
    """A solution breaks a constraint or its objective does not match the recomputed one."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        head = "; ".join(violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"verification failed: {head}{more}")


class ParetoError(Exception):
    """A point of the front could not be solved to optimality."""


class StrategyError(ValueError):
    """A solver strategy was asked for a problem it does not apply to (it never falls back silently)."""
