"""Progress of a run for people (a rich spinner) and for programs (``--progress jsonl``: JSON lines on stderr).

``--progress jsonl`` prints one JSON object per line on stderr: ``{"event": "stage", "stage": ..., "percent": ...,
"elapsed_s": ...}`` when a stage starts and ``{"event": "note", "message": ...}`` for something worth knowing that
is not an error. The QGIS plugin (``qgis_plugin/``) streams these into the Processing log and progress bar.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from optimizer.cli.app import err

# rough share of a run's wall time at the start of each stage, for a progress bar (the solve dominates)
STAGE_PERCENT = (("reading layers", 2), ("writing the instance", 8), ("loading instance", 10),
                 ("distances and model arrays", 15), ("solving", 30), ("verifying", 85), ("writing results", 92),
                 ("done", 100))
PROGRESS_FORMATS = ("none", "jsonl")


class Progress:
    """Stage and note reporting: a rich spinner for people, JSON lines on stderr for programs (``jsonl``)."""

    def __init__(self, mode: str, *, quiet: bool, status: Any = None) -> None:
        self.mode, self.quiet, self.status, self.t0 = mode, quiet, status, time.perf_counter()

    def _emit(self, event: dict) -> None:
        event["elapsed_s"] = round(time.perf_counter() - self.t0, 3)
        sys.stderr.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stderr.flush()

    def stage(self, text: str) -> None:
        """A new stage of the run (``solving (285 clients, ...)``)."""
        if self.mode == "jsonl":
            percent = next((p for key, p in STAGE_PERCENT if text.startswith(key)), None)
            self._emit({"event": "stage", "stage": text, "percent": percent})
        elif self.status is not None:
            self.status.update(text)

    def note(self, text: str) -> None:
        """Something the user should know that is not an error (a CRS converted, a default taken)."""
        if self.mode == "jsonl":
            self._emit({"event": "note", "message": text})
        elif not self.quiet:
            err.print(f"note: {text}", markup=False, highlight=False, soft_wrap=True)


def progress_option(value: str) -> str:
    """Validate ``--progress``."""
    if value not in PROGRESS_FORMATS:
        from optimizer.errors import InputError

        raise InputError(f"must be one of {', '.join(PROGRESS_FORMATS)}", file="--progress", field=value)
    return value
