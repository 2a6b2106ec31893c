"""The ``siting`` application, its consoles and exit codes, and the helpers every command group shares.

Exit codes: 0 solved (optimal, or feasible with its proven gap when the time limit was hit), 1 internal error,
2 bad input (one line naming file, row and field), 3 infeasible (with the reason in the instance's terms),
4 no feasible solution within the time limit, 5 a result failed independent verification (nothing written).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

app = typer.Typer(
    name="siting",
    help="circular-siting: where should Flanders put the infrastructure of its circular economy?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class LazyConsole:
    """A ``rich`` console made at its first use: a ``--quiet`` or ``--json`` run never imports rich (~40 ms of a
    whole-process solve, issue 18). Attribute access (``out.print``, ``out.status``) goes to the console; code that
    wants the console itself (a ``rich`` progress bar, ``with console:``) takes :attr:`console`."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    @property
    def console(self) -> Any:
        """The ``rich.console.Console``, made now if it was not yet."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole()
err = LazyConsole(stderr=True)

EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_VERIFY = 2, 3, 4, 5


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one line on stderr and the documented exit code (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from optimizer.errors import InfeasibleError, InputError, NoSolutionError, VerificationError

        restore = terminate_as_interrupt()  # SIGTERM (QGIS's Cancel, `kill PID`) cleans up like Ctrl-C
        try:
            return func(*args, **kwargs)
        except InputError as e:
            err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INPUT) from None
        except InfeasibleError as e:
            err.print("infeasible: the instance has no solution:", markup=False)
            for reason in e.reasons:
                err.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        except NoSolutionError as e:
            err.print(f"no solution: {e}", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_NO_SOLUTION) from None
        except VerificationError as e:
            err.print(f"{e} — nothing was written", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_VERIFY) from None
        except KeyboardInterrupt:
            err.print("interrupted — no result was written", markup=False)
            raise typer.Exit(130) from None
        finally:
            restore()

    return wrapper


def terminate_as_interrupt() -> Callable[[], None]:
    """Make SIGTERM (QGIS's Cancel, ``kill PID``) stop a run like Ctrl-C, so temporary folders are removed and
    nothing half-written is left; returns a function that restores the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return lambda: None
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


class nullcontext:
    """A context that does nothing (no spinner for --quiet and --json)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def gap_text(gap: float | None, digits: int = 3) -> str:
    """A gap as a percentage, or 'unknown' when no bound was proven (never a silent 0 %)."""
    if gap is None or not math.isfinite(gap):
        return "unknown (no bound proven)"
    return f"{100 * gap:.{digits}f}%"


def print_json(data: object) -> None:
    """Print ``data`` as strict JSON on stdout (no NaN or Infinity: a missing figure is null), for scripts."""
    from optimizer.output.summary import json_safe

    print(json.dumps(json_safe(data), indent=2, allow_nan=False, ensure_ascii=False))


def print_written(written: dict, *, quiet: bool, as_json: bool) -> None:
    """Report the files a command wrote: JSON for scripts, one line for people, nothing when quiet."""
    if as_json:
        print_json({k: str(v) for k, v in written.items()})
    elif not quiet:
        out.print("written " + ", ".join(str(p) for p in written.values()), markup=False)


def print_tensions(flags: list[dict]) -> None:
    """Rule tensions (optimizer.output.tension) as one yellow 'flag' line each."""
    from optimizer.output.tension import tension_lines

    for line in tension_lines(flags):
        out.print("[yellow]flag[/yellow]: ", end="")
        out.print(line, markup=False, highlight=False)


def check_solver_options(time_limit: float | None, mip_gap: float | None, threads: int | None) -> None:
    """``--time-limit``, ``--mip-gap`` and ``--threads`` before any work: finite, in range, else one line (exit 2)."""
    from optimizer.errors import InputError

    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise InputError(f"must be a positive number of seconds, got {time_limit!r}",
                         field="--time-limit")
    if mip_gap is not None and not (math.isfinite(mip_gap) and 0 <= mip_gap <= 1):
        raise InputError(f"must be a relative gap between 0 and 1 (0.01 = 1 %), got {mip_gap!r}",
                         field="--mip-gap")
    if threads is not None and threads < 0:
        raise InputError(f"must be 0 (the solver's default) or more, got {threads!r}",
                         field="--threads")
