"""The versions a manifest records (``optimizer.output.tables.versions``): the loaded module's own version, the
same as the installed distribution's; a library the run never imported is recorded as not loaded."""

from __future__ import annotations

import sys
from importlib.metadata import version

import pytest

from optimizer.output.tables import LIBRARIES, versions


def test_loaded_libraries_give_the_installed_versions() -> None:
    import highspy  # noqa: F401 - loaded, so versions() reads them from the modules
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    got = versions()
    assert list(got) == ["python", "circular-siting", *LIBRARIES]
    assert got["circular-siting"] == version("circular-siting")  # pyproject's version is optimizer.__version__
    for pkg in ("highspy", "numpy", "pandas"):
        assert got[pkg] == version(pkg), pkg
    for pkg in LIBRARIES:
        if pkg in sys.modules:
            assert got[pkg] == version(pkg), pkg


def test_a_library_the_run_did_not_import_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "pyogrio", raising=False)
    assert versions()["pyogrio"] == "not loaded"
