"""What a whole-process solve imports: a matrix instance needs neither scipy nor the geography stack (issue 18).

``siting solve DIR`` on a small matrix instance is timed against a minimal highspy script
(``benchmarks/perf/fixed_costs.py --parts process``); importing ``scipy.sparse`` alone costs it 0.3–0.4 s, more than
reading, solving, verifying and writing the instance. These tests fail if a module on that path starts importing
scipy (or geopandas, shapely, networkx) at module level again, or if the small-problem path builds its model with
scipy, so the gain cannot silently regress. The CLI is written on click directly: typer and its pydantic cost a
whole-process solve about 0.2 s (benchmarks/perf/README.md), so neither may come back, and the ``siting`` group
imports only the module of the command that runs (``optimizer.cli.app.COMMANDS``), not those of locate, the studies
or the result commands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "instances" / "matrix_example"
HEAVY = ("scipy", "geopandas", "shapely", "networkx", "pyproj", "pyomo", "typer", "pydantic")

_PROBE = """
import json, sys
from optimizer.cli import app
sys.argv = ["siting", "solve", sys.argv[1], "--out", sys.argv[2], "--quiet"]
try:
    app()
except SystemExit as e:
    code = e.code
else:
    code = 0
print(json.dumps({"exit": code, "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules),
                  "cli": sorted(m for m in sys.modules if m.startswith("optimizer.cli."))}))
"""


def _solve_and_list_imports(instance: Path | str, out: Path) -> dict:
    ran = subprocess.run([sys.executable, "-c", _PROBE.replace("{HEAVY!r}", repr(HEAVY)), str(instance), str(out)],
                         capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.strip().splitlines()[-1])


def _uncapacitated_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "uncapacitated"
    shutil.copytree(EXAMPLE, folder)
    lines = (folder / "facilities.csv").read_text().splitlines()
    rows = [lines[0]] + [",".join([r.split(",")[0], "", *r.split(",")[2:]]) for r in lines[1:]]
    (folder / "facilities.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("kind", ["capacitated", "uncapacitated", "triplets"])
def test_matrix_solve_imports_no_scipy(tmp_path: Path, kind: str) -> None:
    instance = {"capacitated": EXAMPLE, "triplets": EXAMPLE / "sparse.toml"}.get(kind) or _uncapacitated_copy(tmp_path)
    out = tmp_path / "result"
    probe = _solve_and_list_imports(instance, out)
    assert probe["exit"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["verification"]["passed"]
    if kind == "capacitated":
        assert summary["objective"]["total"] == pytest.approx(362.0)  # the brute-forced optimum (problem.toml)
    assert probe["loaded"] == [], f"a matrix-instance solve imported {probe['loaded']}"
    from optimizer.cli.app import COMMANDS

    others = {f"optimizer.cli.{spec.split(':')[0]}" for spec in COMMANDS.values()} - {"optimizer.cli.solve"}
    assert {"optimizer.cli.locate", "optimizer.cli.studies", "optimizer.cli.results"} <= others
    assert "optimizer.cli.solve" in probe["cli"], probe["cli"]
    assert not others & set(probe["cli"]), f"siting solve imported other commands: {sorted(others & set(probe['cli']))}"
