"""Command line (``siting``): thin commands by group — parse, call the engine, print.

Groups: :mod:`~optimizer.cli.instances` (list, programmes, show, validate), :mod:`~optimizer.cli.solve` (solve,
chain), :mod:`~optimizer.cli.locate` (locate: solve on GIS layers), :mod:`~optimizer.cli.studies` (pareto, sweep,
sensitivity), :mod:`~optimizer.cli.results` (map, report, compare), :mod:`~optimizer.cli.verify` (verify) and
:mod:`~optimizer.cli.bench`; the application, consoles,
exit codes and SIGTERM handling are in :mod:`~optimizer.cli.app`, machine-readable progress (``--progress jsonl``)
in :mod:`~optimizer.cli.progress`. The commands are written with click; the ``siting`` group imports a command's module
only when that command runs or is listed (``optimizer.cli.app.COMMANDS``), and heavy libraries are imported inside the
commands that use them, so ``siting --help`` and a small ``siting solve`` stay fast.

Exit codes: 0 solved (optimal, or feasible with its proven gap when the time limit was hit), 1 internal error,
2 bad input (one line naming file, row and field), 3 infeasible (with the reason in the instance's terms),
4 no feasible solution within the time limit, 5 a result failed independent verification (nothing written).
"""

from __future__ import annotations

from optimizer.cli.app import app  # the click group; each command's module is imported when it runs (COMMANDS)

__all__ = ["app", "main"]


def main() -> None:
    """Entry point for ``python -m optimizer.cli``."""
    app()
