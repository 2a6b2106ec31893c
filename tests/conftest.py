"""Shared test fixtures: where ../shared is (skipping cleanly when it is absent), the CLI run in process, and the
results that many tests read — solved once per session, not once per module."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# The suite is a gate: property tests draw the same examples on every run, so CI is reproducible and a red run
# is a real regression. To search new examples (and keep any failure found as a regression test), run
#   HYPOTHESIS_PROFILE=explore python -m pytest tests/solver
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# the CLI's rich consoles take their width from COLUMNS when they are created: tests read the CLI's tables as a planner
# sees them in a wide terminal, whatever terminal (or none, under pytest-xdist) runs the suite
os.environ.setdefault("COLUMNS", "200")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TESTS = PROJECT_ROOT / "tests"
CORPUS = TESTS / "corpus"
SHARED = Path(os.environ.get("SITING_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
HAS_SHARED = (SHARED / "data" / "flanders").is_dir()

needs_shared = pytest.mark.skipif(not HAS_SHARED, reason="../shared is absent (a user's machine): raw-data test skipped")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not HAS_SHARED:
        pytest.skip("../shared is absent")
    return SHARED


# ---------------------------------------------------------------------------------------------------------------
# The CLI, in process (click's CliRunner): the same code path as `siting ...`, without a new Python each time
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Ran:
    """What a command did: exit code, stdout, stderr (and the exception, for a traceback a planner would see)."""

    returncode: int
    stdout: str
    stderr: str
    exception: BaseException | None


def siting(*args: str) -> Ran:
    """``siting ARGS`` in this process; an uncaught exception (a traceback for the planner) fails the test."""
    from click.testing import CliRunner

    from optimizer.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"siting {' '.join(map(str, args))}: uncaught exception (a traceback for the planner):\n{tb}")
    return Ran(result.exit_code, result.stdout, result.stderr, result.exception)


# ---------------------------------------------------------------------------------------------------------------
# Results solved once per session
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def solved_named(tmp_path_factory: pytest.TempPathFactory):
    """``solved_named(NAME, overrides)``: the instance solved and written as ``siting solve NAME --set ... --out``
    does, once per session whichever tests ask for it (the regression figures, the study's figures, the shipped
    sweeps, the CLI's files); read-only. An infeasible or unsolvable instance raises its error on every call."""
    from optimizer.pipeline import run

    cache: dict = {}

    def solved(name: str, overrides: dict | None = None):  # noqa: ANN202 - optimizer.output.result.Result
        key = (str(name), tuple(sorted((overrides or {}).items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(Path(str(name)).stem) / Path(str(name)).stem
            try:
                cache[key] = run(name, overrides=overrides, out_dir=folder)
            except Exception as e:  # noqa: BLE001 - the same answer for the next test that asks
                cache[key] = e
        if isinstance(cache[key], Exception):
            raise cache[key]
        return cache[key]

    return solved


@pytest.fixture(scope="session")
def mb_result(solved_named):  # noqa: ANN001
    """``siting solve materialenbanken`` (the default instance), solved and written once; read-only for tests."""
    return solved_named("materialenbanken")


@pytest.fixture(scope="session")
def mb_folder(mb_result) -> Path:  # noqa: ANN001
    return mb_result.folder


# A plastics chain small enough to solve in a second: the municipalities of the arrondissements Antwerpen,
# Mechelen, Sint-Niklaas and Halle-Vilvoorde (where the existing Indaver sites lie) with their candidate zones, and
# 2 new sorting centres instead of 14 (a test copy of models/plastics_chain.toml; the other models/ files as is).
CHAIN_ARRONDISSEMENTS = (11000, 12000, 23000, 46000)
CHAIN_NEW_SORTING = 2


@pytest.fixture(scope="session")
def tiny_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the small chain: ``chain.toml``, its tables (candidate zones as ``zones.gpkg``) and
    ``models/plastics_chain.toml``."""
    import geopandas as gpd
    import pandas as pd

    root = tmp_path_factory.mktemp("tiny-chain")
    flanders = PROJECT_ROOT / "instances" / "flanders"
    towns = pd.read_csv(flanders / "municipalities.csv")
    towns = towns[towns["arr_nis"].isin(CHAIN_ARRONDISSEMENTS)]
    towns.to_csv(root / "municipalities.csv", index=False)
    for layer in ("zones", "aggregate_candidates"):  # the candidate zones of these municipalities (issue 12)
        zones = gpd.read_file(flanders / "zones" / "zones.gpkg", layer=layer)
        zones[zones["nis"].astype(int).isin(towns["nis"])].to_file(root / "zones.gpkg", layer=layer, driver="GPKG")
    existing = pd.read_csv(flanders / "existing_facilities.csv", dtype=str, keep_default_na=False)
    existing = existing[existing["programme"].isin(["plastics_chain", "sorteercentrum"])]  # the Indaver sites
    existing.to_csv(root / "existing_facilities.csv", index=False)
    (root / "models").mkdir()
    spec = (PROJECT_ROOT / "models" / "plastics_chain.toml").read_text(encoding="utf-8")
    spec, n = re.subn(r"^new_count = 14\b", f"new_count = {CHAIN_NEW_SORTING}", spec, flags=re.MULTILINE)
    assert n == 1, "models/plastics_chain.toml changed: update the tiny chain fixture"
    (root / "models" / "plastics_chain.toml").write_text(spec, encoding="utf-8")
    manifest = (PROJECT_ROOT / "instances" / "s2b-plastics-chain.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('"flanders/municipalities.csv"', '"municipalities.csv"').replace(
        '"flanders/zones/zones.gpkg"', '"zones.gpkg"').replace(
        '"flanders/existing_facilities.csv"', '"existing_facilities.csv"').replace('name = "s2b-plastics-chain"',
                                                                                 'name = "tiny-chain"')
    (root / "chain.toml").write_text(manifest, encoding="utf-8")
    return root


def chain_models(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Let the instance loader find the tiny chain's programme in ``folder/models`` (the others in ``models/``)."""
    import optimizer.data.instance as instance
    import optimizer.data.programmes as programmes

    def load(programme_id: str, models_dir: Path = programmes.MODELS_DIR):  # noqa: ANN202
        own = folder / "models" / f"{programme_id}.toml"
        return programmes.load_programme(programme_id, models_dir=own.parent if own.exists() else models_dir)

    monkeypatch.setattr(instance, "load_programme", load)


@pytest.fixture
def tiny_chain_models(tiny_chain: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny chain's manifest, with its programme on the loader's path for this test."""
    chain_models(monkeypatch, tiny_chain)
    return tiny_chain / "chain.toml"


@pytest.fixture(scope="session")
def chain_result(tiny_chain: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny chain solved and written once (``siting solve chain.toml``); read-only for tests."""
    from optimizer.pipeline import run

    with pytest.MonkeyPatch.context() as mp:
        chain_models(mp, tiny_chain)
        return run(tiny_chain / "chain.toml", out_dir=tmp_path_factory.mktemp("chain") / "chain")


@pytest.fixture(scope="session")
def corpus_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small corpus instance (tests/corpus/base) solved once through the CLI; read-only, tests copy it."""
    from click.testing import CliRunner

    from optimizer.cli import app

    out = tmp_path_factory.mktemp("corpus") / "result"
    result = CliRunner().invoke(app, ["solve", str(CORPUS / "base" / "instance.toml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def matrix_result(tmp_path_factory: pytest.TempPathFactory):
    """The hand-checked matrix example (optimum 362 EUR/yr), solved and written once."""
    from optimizer.pipeline import run

    return run(PROJECT_ROOT / "instances" / "matrix_example", out_dir=tmp_path_factory.mktemp("matrix") / "m")
