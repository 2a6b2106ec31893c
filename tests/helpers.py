"""Helpers shared by tests in several folders (``tests/`` is on the import path through ``conftest.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from conftest import PROJECT_ROOT

FLANDERS = PROJECT_ROOT / "instances" / "flanders"
# 7 municipalities around Antwerpen and Mechelen: two centrumsteden, suburbs and rural ones
TINY_NIS = [11002, 11005, 11008, 12025, 12040, 12014, 13036]


def load_land_status_script() -> ModuleType:
    """``instances/flanders/build_land_status.py`` as a module: the tests rebuild its tables in memory and compare."""
    spec = importlib.util.spec_from_file_location("bls", FLANDERS / "build_land_status.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def points_manifest(folder: Path) -> Path:
    """``materialenbanken`` on the point candidates of ``candidates.csv``: the same inputs the located layers carry
    (``siting locate``, the QGIS plugin; the named instance itself places its banks on the candidate zones of
    zones.gpkg)."""
    flanders = (PROJECT_ROOT / "instances" / "flanders").as_posix()
    text = (PROJECT_ROOT / "instances" / "materialenbanken.toml").read_text(encoding="utf-8")
    text = text.replace('{ path = "flanders/zones/zones.gpkg", layer = ["zones", "aggregate_candidates"] }',
                        '"flanders/candidates.csv"').replace('"flanders/', f'"{flanders}/')
    path = folder / "materialenbanken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def tiny_manifest(tmp_path: Path, programmes: list[str], parameters: dict, extra: str = "",
                  nis: list[int] | None = None) -> Path:
    """A manifest over a 7-municipality cut of the Flanders tables (a stand-in partition included)."""
    nis = TINY_NIS if nis is None else nis
    m = pd.read_csv(FLANDERS / "municipalities.csv")
    m = m[m["nis"].isin(nis)].copy()
    m["service_area"] = np.where(m["arrondissement"] == "Antwerpen", "SA-A", "SA-B")
    m.loc[m["nis"] == 13036, "service_area"] = "SA-C"  # an area without a centrumstad
    m["service_area_poster"] = m["service_area"]
    c = pd.read_csv(FLANDERS / "candidates.csv")
    c = c[c["nis"].isin(nis) & (c["zone_type"] == "economic_zone")].copy()
    c["free_ha"] = 20.0
    m.to_csv(tmp_path / "m.csv", index=False)
    c.to_csv(tmp_path / "c.csv", index=False)
    params = "\n".join(f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower()}"
                       for k, v in parameters.items())
    path = tmp_path / "tiny.toml"
    path.write_text(f"""[instance]
name = "tiny"
title = "tiny"
[tables]
demand = "m.csv"
candidates = "c.csv"
[programmes]
place = {programmes!r}
[parameters]
{params}
{extra}
""".replace("'", '"'))
    return path
