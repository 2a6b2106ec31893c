"""The versions a manifest records (``optimizer.output.summary.versions``): the installed ones, whether a library
is loaded (its own version) or not (the distribution's metadata), so the same input gives the same manifest."""

from __future__ import annotations

import sys
from importlib.metadata import version

import pytest

from optimizer.output.summary import LIBRARIES, versions


def test_versions_are_the_installed_ones() -> None:
    import highspy  # noqa: F401 - loaded: versions() reads these from the modules
    import numpy  # noqa: F401

    got = versions()
    assert list(got) == ["python", "circular-siting", *LIBRARIES]
    assert got["circular-siting"] == version("circular-siting")  # pyproject reads optimizer.settings.VERSION
    for pkg in LIBRARIES:
        assert got[pkg] == version(pkg), pkg


def test_loaded_or_not_gives_the_same_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio  # noqa: F401

    loaded = versions()
    monkeypatch.delitem(sys.modules, "pyogrio")
    assert versions() == loaded


def test_a_loaded_module_is_asked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    class Loaded:
        __version__ = "9.9.9-loaded"

    monkeypatch.setitem(sys.modules, "pyogrio", Loaded())
    assert versions()["pyogrio"] == "9.9.9-loaded"
