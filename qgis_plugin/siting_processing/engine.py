"""Find and run the ``siting`` engine as a subprocess (no QGIS imports: plain Python, testable anywhere).

QGIS's Python never imports the engine or its dependencies (HiGHS, geopandas, ...): like QGIS's GRASS and SAGA
providers, the plugin starts the engine's own executable from the user's environment and talks to it through
its command line, its exit code, JSON on stdout and JSON progress lines on stderr (``--progress jsonl``).
"""

from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

ENV_VARIABLE = "SITING_EXECUTABLE"
CANCEL_GRACE_S = 3.0  # after SIGTERM, how long the engine may take to clean up before it is killed
POLL_S = 0.1
# variables of QGIS's own Python and GDAL/PROJ that would break another Python environment's libraries
SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONUSERBASE", "VIRTUAL_ENV",
                "CONDA_PREFIX", "PROJ_LIB", "PROJ_DATA", "GDAL_DATA", "GDAL_DRIVER_PATH", "QT_PLUGIN_PATH")
EXIT_MEANING = {1: "internal error of the engine", 2: "bad input", 3: "infeasible", 4: "no solution within the time limit",
                5: "a result failed verification (nothing was written)", 130: "interrupted"}


class EngineError(Exception):
    """The engine could not be found or run, or it reported an error (``message`` is one line for the user)."""

    def __init__(self, message: str, *, exit_code: int | None = None, details: str = "") -> None:
        super().__init__(message)
        self.message, self.exit_code, self.details = message, exit_code, details


class Cancelled(EngineError):
    """The user cancelled; the engine was stopped and wrote nothing."""


def _executable_name() -> str:
    return "siting.exe" if os.name == "nt" else "siting"


def _bin(env_dir: str) -> str:
    return os.path.join(env_dir, "Scripts" if os.name == "nt" else "bin", _executable_name())


def search_locations() -> list[str]:
    """Where auto-detection looks for the engine, in order (documented in docs/qgis.md).

    1. the ``SITING_EXECUTABLE`` environment variable; 2. ``siting`` on the PATH; 3. virtual environments in the
    usual places: ``~/.venv``, ``~/venv``, ``~/.virtualenvs/*``, ``~/venvs/*``, ``~/.local/pipx/venvs/circular-siting``,
    a ``.venv`` in ``~/circular-siting``, ``~/src/circular-siting``, ``~/git/circular-siting``,
    ``~/projects/circular-siting``, ``~/code/circular-siting``, conda environments (``~/miniconda3``,
    ``~/anaconda3``, ``~/miniforge3``, ``~/mambaforge``: the base and ``envs/*``), and ``~/.local/bin``.
    """
    home = os.path.expanduser("~")
    found: list[str] = []
    if os.environ.get(ENV_VARIABLE):
        found.append(os.environ[ENV_VARIABLE])
    on_path = shutil.which(_executable_name())
    if on_path:
        found.append(on_path)
    envs = [os.path.join(home, ".venv"), os.path.join(home, "venv")]
    envs += sorted(glob.glob(os.path.join(home, ".virtualenvs", "*"))) + sorted(glob.glob(os.path.join(home, "venvs", "*")))
    envs.append(os.path.join(home, ".local", "pipx", "venvs", "circular-siting"))
    for parent in ("", "src", "git", "projects", "code"):
        envs.append(os.path.join(home, parent, "circular-siting", ".venv"))
    for conda in ("miniconda3", "anaconda3", "miniforge3", "mambaforge"):
        envs.append(os.path.join(home, conda))
        envs += sorted(glob.glob(os.path.join(home, conda, "envs", "*")))
    found += [_bin(e) for e in envs]
    found.append(os.path.join(home, ".local", "bin", _executable_name()))
    return list(dict.fromkeys(found))


def is_executable(path: str) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_engine(configured: str | None = None) -> tuple[str | None, list[str]]:
    """The engine to use: the configured path if it is executable, else the first hit of :func:`search_locations`.

    Returns the path (or ``None``) and the list of places tried, for the error message.
    """
    tried = []
    if configured:
        configured = os.path.expanduser(configured.strip())
        if is_executable(configured):
            return configured, [configured]
        tried.append(f"{configured} (configured; not an executable file)")
    for path in search_locations():
        if is_executable(path):
            return path, tried + [path]
        tried.append(path)
    return None, tried


def clean_environment() -> dict[str, str]:
    """QGIS's environment without the variables that point another Python at QGIS's libraries."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="120", TERM="dumb")
    return env


@dataclass
class EngineResult:
    """What a finished engine run produced."""

    exit_code: int
    stdout: str
    stderr_lines: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    pid: int = 0

    def json(self) -> object:
        """stdout parsed as JSON (commands run with ``--json``)."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise EngineError(f"the engine printed no JSON ({e}); its output: {self.stdout[-300:]!r}") from e


class Feedback:
    """The part of ``QgsProcessingFeedback`` the runner uses (a plain stand-in for tests and scripts)."""

    def isCanceled(self) -> bool:  # noqa: N802 - Qt naming
        return False

    def setProgress(self, percent: float) -> None:  # noqa: N802
        pass

    def setProgressText(self, text: str) -> None:  # noqa: N802
        pass

    def pushInfo(self, text: str) -> None:  # noqa: N802
        print(text)

    def pushConsoleInfo(self, text: str) -> None:  # noqa: N802
        print(text)

    def pushWarning(self, text: str) -> None:  # noqa: N802
        print(text, file=sys.stderr)

    def reportError(self, text: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        print(text, file=sys.stderr)


def _reader(stream, name: str, lines: queue.Queue) -> None:  # noqa: ANN001
    for raw in iter(stream.readline, ""):
        lines.put((name, raw.rstrip("\r\n")))
    stream.close()
    lines.put((name, None))


def _signal(proc: subprocess.Popen, *, kill: bool) -> bool:
    """Ask (SIGTERM) or force (SIGKILL) the engine's process group to end (on Windows the process itself);
    ``False`` when it is already gone."""
    try:
        if os.name == "nt":
            proc.kill() if kill else proc.terminate()
        else:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop(proc: subprocess.Popen, feedback) -> None:  # noqa: ANN001
    """SIGTERM to the engine's process group (it cleans up like Ctrl-C); SIGKILL if it is still there after
    :data:`CANCEL_GRACE_S`. The engine writes results atomically, so either way nothing half-written remains."""
    if not _signal(proc, kill=False):
        return
    deadline = time.monotonic() + CANCEL_GRACE_S
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        feedback.pushInfo(f"the engine did not stop within {CANCEL_GRACE_S:g} s: killing it")
        _signal(proc, kill=True)
    proc.wait()


def run_engine(executable: str, args: list[str], feedback=None, *, rename: dict[str, str] | None = None,  # noqa: ANN001
               cwd: str | None = None) -> EngineResult:
    """Run ``executable args`` and stream its progress into ``feedback``; stop it when ``feedback`` is cancelled.

    Parameters
    ----------
    executable
        Path of the ``siting`` executable.
    args
        Command-line arguments (``["locate", "--demand", ...]``).
    feedback
        A ``QgsProcessingFeedback`` (or :class:`Feedback`): JSON progress lines set its progress bar and text,
        notes and other stderr lines go to its log; ``isCanceled()`` is polled every 0.1 s.
    rename
        Paths to replace in the engine's messages (a temporary export of a layer -> the layer's name).

    Returns
    -------
    EngineResult
        With exit code 0.

    Raises
    ------
    Cancelled
        ``feedback`` was cancelled: the engine was stopped (SIGTERM, then SIGKILL after a grace period).
    EngineError
        The engine could not start or exited with an error; ``message`` is its one-line explanation.
    """
    feedback = feedback or Feedback()
    rename = rename or {}

    def readable(text: str) -> str:
        for path, name in rename.items():
            text = text.replace(path, name)
        return text

    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
    else:
        kwargs["start_new_session"] = True  # its own process group: Cancel stops the engine and any child it runs
    try:
        proc = subprocess.Popen([executable, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                env=clean_environment(), cwd=cwd, **kwargs)
    except OSError as e:
        raise EngineError(f"cannot start the engine {executable}: {e}") from e
    feedback.pushInfo(f"engine (process {proc.pid}): {executable} {' '.join(args)}")
    lines: queue.Queue = queue.Queue()
    for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
        threading.Thread(target=_reader, args=(stream, name, lines), daemon=True).start()
    stdout: list[str] = []
    stderr: list[str] = []
    events: list[dict] = []
    open_streams = 2
    cancelled = False
    while open_streams:
        if feedback.isCanceled() and not cancelled:
            cancelled = True
            feedback.pushInfo("cancelled: stopping the engine")
            _stop(proc, feedback)
        try:
            name, line = lines.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if line is None:
            open_streams -= 1
            continue
        if name == "stdout":
            stdout.append(line)
            continue
        event = _event(line)
        if event is None:
            stderr.append(readable(line))
            if line.strip() and not line.startswith("error:"):  # the error line becomes the exception's message
                feedback.pushConsoleInfo(readable(line))
            continue
        events.append(event)
        if event.get("event") == "stage":
            if event.get("percent") is not None:
                feedback.setProgress(float(event["percent"]))
            feedback.setProgressText(f"{event.get('stage', '')} [{event.get('elapsed_s', 0):.1f} s]")
        elif event.get("event") == "note":
            feedback.pushWarning(f"note: {readable(str(event.get('message', '')))}")
    code = proc.wait()
    if cancelled:
        raise Cancelled("cancelled: the engine was stopped; no result was written (a previous result is untouched)",
                        exit_code=code)
    result = EngineResult(code, "\n".join(stdout), stderr, events, proc.pid)
    if code != 0:
        raise EngineError(_failure(code, stderr), exit_code=code, details="\n".join(stderr[-40:]))
    return result


def _event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def _failure(code: int, stderr: list[str]) -> str:
    """The engine's own explanation: its 'error:' line (exit 2), the infeasibility reasons (3), or the last line."""
    text = [ln for ln in stderr if ln.strip()]
    errors = [ln for ln in text if ln.startswith("error:")]
    if errors:
        return errors[-1]
    if code == 3:
        reasons = [ln.strip().lstrip("- ") for ln in text if ln.startswith("  - ")]
        return "infeasible: " + ("; ".join(reasons) if reasons else "the rules cannot all hold")
    meaning = EXIT_MEANING.get(code, f"exit code {code}")
    last = text[-1] if text else "(no message)"
    return f"the engine failed ({meaning}): {last}"
