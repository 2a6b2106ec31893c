"""The versions a manifest records (``optimizer.output.tables.versions``): the loaded module's own ``__version__``
where it has one, the installed distribution's metadata otherwise — both must name the same version."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import pytest

from optimizer.output.tables import VERSIONED, versions


def test_versions_agree_with_the_installed_distributions() -> None:
    import numpy  # noqa: F401 - loaded, so versions() takes numpy.__version__
    import pandas  # noqa: F401

    got = versions()
    assert list(got) == ["python", *VERSIONED]
    for pkg in VERSIONED:
        try:
            expected = version(pkg)
        except PackageNotFoundError:
            expected = "not installed"
        assert got[pkg] == expected, pkg


def test_a_loaded_module_gives_its_own_version(monkeypatch: pytest.MonkeyPatch) -> None:
    class Loaded:
        __version__ = "9.9.9-loaded"

    monkeypatch.setitem(sys.modules, "pyogrio", Loaded())
    assert versions()["pyogrio"] == "9.9.9-loaded"
