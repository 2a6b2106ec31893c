"""The ``siting`` application, its consoles and exit codes, and the helpers every command group shares.

Exit codes: 0 solved (optimal, or feasible with its proven gap when the time limit was hit), 1 internal error,
2 bad input (one line naming file, row and field), 3 infeasible (with the reason in the instance's terms),
4 no feasible solution within the time limit, 5 a result failed independent verification (nothing written).

Written with click directly: typer's layer on top of it (pydantic, a converter built per parameter at every call)
cost a whole-process ``siting solve`` about 0.2 s (issue 18). :class:`LazyGroup` imports a command's module when the
command runs or is listed; a usage error click refuses is one line and exit 2, like any other bad input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from click.exceptions import Exit

# Every command, in the order `siting --help` lists them: name -> "module:attribute" in optimizer.cli. A command's
# module is imported only when the command is run or listed (LazyGroup), so `siting solve` imports optimizer.cli.solve
# and not the modules of locate, the studies or the result commands.
COMMANDS = {
    "list": "instances:list_cmd",
    "programmes": "instances:programmes",
    "show": "instances:show",
    "validate": "instances:validate",
    "solve": "solve:solve",
    "locate": "locate:locate",
    "pareto": "studies:pareto",
    "sweep": "studies:sweep",
    "sensitivity": "studies:sensitivity",
    "map": "results:map_cmd",
    "report": "results:report",
    "compare": "results:compare",
    "verify": "verify:verify",
    "chain": "solve:chain",
    "bench": "bench:bench",
}


class CommandLineError(click.ClickException):
    """A command line click refused (an unknown option, a value of the wrong type, a missing argument): one line on
    stderr and exit 2, like every other bad input, instead of click's usage block."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def _one_line(e: click.UsageError) -> CommandLineError:
    """``e`` as one line that names the command and where its options are listed."""
    text = " ".join(e.format_message().split()).rstrip(".")
    text = text[:1].lower() + text[1:]
    where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
    return CommandLineError(f"{text}{where}")


class LazyGroup(click.Group):
    """A group whose commands live in other modules, imported only when a command is run or listed: click's
    "lazily loading subcommands" pattern. ``siting --help`` lists every command with the first paragraph of its help,
    in the order of ``lazy_commands``."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(dict.fromkeys([*self.lazy_commands, *self.commands]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            from importlib import import_module

            module, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(import_module(f"optimizer.cli.{module}"), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"optimizer.cli.{module}.{attribute} is not a click command")
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                first = command.short_help or (command.help or "").partition("\n\n")[0]
                rows.append((name, " ".join(first.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    # click's usage errors (the group's own options, an unknown command, a command's options) as one line
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError as e:  # `siting` alone: the help on stdout (exit 2, as before)
            click.echo(e.ctx.get_help())
            raise Exit(2) from None
        except click.UsageError as e:
            raise _one_line(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:
            raise _one_line(e) from None


class PanelOption(click.Option):
    """An option listed under a heading of its command's help (``panel="demand"``); see :class:`Command`."""

    def __init__(self, *args: Any, panel: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.panel = panel


class Command(click.Command):
    """A ``siting`` command: its options listed under their headings (``--help`` of ``siting locate`` groups 33
    options by demand, candidates, regions and rules), the ones without a heading first under "Options"."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                sections.setdefault(getattr(param, "panel", None) or "Options", []).append(record)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def command(name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Command]:
    """``@command()``: a ``siting`` command (:class:`Command`), its help the function's docstring."""
    return click.command(name, cls=Command, **kwargs)


def option(*decls: str, panel: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
    """``@option("--out", "out_dir", ...)``: :func:`click.option`, optionally under a heading of the help."""
    return click.option(*decls, cls=PanelOption, panel=panel, **kwargs)


PATH = click.Path(path_type=Path)  # a path, given to the command as a pathlib.Path

app = LazyGroup(
    name="siting",
    help="circular-siting: where should Flanders put the infrastructure of its circular economy?",
    lazy_commands=COMMANDS,
    no_args_is_help=True,
    context_settings={"show_default": True, "max_content_width": 120},  # help as wide as the terminal, up to 120
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
            raise Exit(EXIT_INPUT) from None
        except InfeasibleError as e:
            err.print("infeasible: the instance has no solution:", markup=False)
            for reason in e.reasons:
                err.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
            raise Exit(EXIT_INFEASIBLE) from None
        except NoSolutionError as e:
            err.print(f"no solution: {e}", markup=False, soft_wrap=True)
            raise Exit(EXIT_NO_SOLUTION) from None
        except VerificationError as e:
            err.print(f"{e} — nothing was written", markup=False, soft_wrap=True)
            raise Exit(EXIT_VERIFY) from None
        except KeyboardInterrupt:
            err.print("interrupted — no result was written", markup=False)
            raise Exit(130) from None
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
