"""The bad-input corpus: every case runs the real CLI and must fail cleanly.

Each case copies the small valid instance ``tests/corpus/base`` (Oostende + Veurne), breaks one thing (a cell, a
column, the manifest, a ``--set``, a GIS layer, a matrix-instance file) and runs ``siting solve`` on it. It must
exit with code 2, print exactly one line on stderr naming the file, the row (where there is one) and the field
and saying what to do, print no traceback and write no output folder (nor leave a temporary one behind).

The cases run in-process through click's ``CliRunner`` (the same ``app`` and ``_guard`` as the ``siting``
script; stderr captured separately); :func:`test_subprocess_end_to_end` runs a few of them as real processes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CORPUS, PROJECT_ROOT
from snapshot import changes, snapshot
from click.testing import CliRunner

from optimizer.cli import app


BASE = CORPUS / "base"
FILES = CORPUS / "files"
MATRIX = PROJECT_ROOT / "instances" / "matrix_example"
MANIFEST = "instance.toml"
DEMAND, CANDS = "municipalities.csv", "candidates.csv"
# words that tell the planner what to do (or which value would be right)
ACTION_WORDS = ("add", "remove", "rename", "map", "use", "correct", "save", "reproject", "check", "set", "give",
                "choose", "did you mean", "known", "must", "expected", "only seaports", "name the", "a table is",
                "takes key=value", "see `siting list`", "replace", "fill", "make", "raise", "try", "allowed",
                "copy", "write")

Mutation = Callable[[Path], None]


@dataclass
class Case:
    """One bad input: how to break the base instance, how to call the CLI, what the error line must name."""

    id: str
    mutate: Mutation
    file: str  # file name (or "--set") the error line must name
    field: str | None
    row: int | None = None
    text: str = ""  # a phrase the message must contain
    args: list[str] = field(default_factory=list)  # extra CLI arguments
    target: str = MANIFEST  # what to solve, relative to the case folder
    absent: str = ""  # text the message must not contain (the content of a file it should never have read)


# ---------------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------------
def nothing(_: Path) -> None:
    return None


def cell(table: str, row: int, col: str, value: object) -> Mutation:
    """Set one cell (``row`` 0-based data row; the error names CSV line ``row + 2``)."""

    def go(root: Path) -> None:
        frame = pd.read_csv(root / table, dtype=str, keep_default_na=False)
        frame.loc[row, col] = str(value)
        frame.to_csv(root / table, index=False)

    return go


def drop(table: str, col: str) -> Mutation:
    def go(root: Path) -> None:
        frame = pd.read_csv(root / table, dtype=str, keep_default_na=False)
        frame.drop(columns=[col]).to_csv(root / table, index=False)

    return go


def rename(table: str, old: str, new: str) -> Mutation:
    def go(root: Path) -> None:
        frame = pd.read_csv(root / table, dtype=str, keep_default_na=False)
        frame.rename(columns={old: new}).to_csv(root / table, index=False)

    return go


def header_only(table: str) -> Mutation:
    def go(root: Path) -> None:
        text = (root / table).read_text(encoding="utf-8")
        (root / table).write_text(text.splitlines()[0] + "\n", encoding="utf-8")

    return go


def cells(table: str, row: int, **values: object) -> Mutation:
    """Set several cells of one row (``row`` 0-based data row)."""

    def go(root: Path) -> None:
        for col, value in values.items():
            cell(table, row, col, value)(root)

    return go


def all_cells(table: str, col: str, value: object) -> Mutation:
    def go(root: Path) -> None:
        frame = pd.read_csv(root / table, dtype=str, keep_default_na=False)
        frame[col] = str(value)
        frame.to_csv(root / table, index=False)

    return go


def manifest(old: str, new: str) -> Mutation:
    def go(root: Path) -> None:
        text = (root / MANIFEST).read_text(encoding="utf-8")
        assert old in text, old
        (root / MANIFEST).write_text(text.replace(old, new, 1), encoding="utf-8")

    return go


def copy_file(name: str, to: str) -> Mutation:
    return lambda root: shutil.copy(FILES / name, root / to)


def write(name: str, data: bytes) -> Mutation:
    return lambda root: (root / name).write_bytes(data)


def remove(name: str) -> Mutation:
    return lambda root: (root / name).unlink()


def gis_candidates(kind: str, *, suffix: str = ".gpkg", crs: object = "EPSG:31370", spec: str = "",
                   broken_row: int | None = None, odd: str = "empty") -> Mutation:
    """Write the candidates as a GIS layer (points, polygons, lines, empty geometries) and point the manifest at it."""

    def go(root: Path) -> None:
        import geopandas as gpd
        import shapely

        frame = pd.read_csv(root / CANDS)
        x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
        if kind == "points":
            geoms = shapely.points(x, y)
        elif kind == "polygons":  # zones of 3 km² each: large enough to hold their free land
            geoms = shapely.buffer(shapely.points(x, y), 1000.0)
        elif kind == "lines":
            geoms = shapely.linestrings(np.stack([np.stack([x, y], 1), np.stack([x + 500, y + 500], 1)], 1))
        elif kind == "degrees":  # lon/lat numbers in a layer without CRS
            geoms = shapely.points(np.full(len(x), 2.9), np.full(len(x), 51.2))
        else:
            raise ValueError(kind)
        geoms = np.asarray(geoms, dtype=object)
        if broken_row is not None:
            geoms[broken_row] = (shapely.Point() if odd == "empty"
                                 else shapely.LineString([(x[0], y[0]), (x[0] + 100, y[0])]))
        gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=list(geoms), crs=crs)
        path = root / f"candidates{suffix}"
        with warnings.catch_warnings():  # shapefile column names are cut to 10 characters: not what is tested
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf.to_file(path, **({"layer": "zones"} if suffix == ".gpkg" else {}))
        table = spec or f'{{ path = "candidates{suffix}" }}'
        manifest('candidates = "candidates.csv"', f"candidates = {table}")(root)

    return go


def matrix(file: str, old: str | None = None, new: str | None = None, raw: bytes | None = None) -> Mutation:
    """Copy the matrix example into ``matrix/`` and break one of its files."""

    def go(root: Path) -> None:
        shutil.copytree(MATRIX, root / "matrix", ignore=shutil.ignore_patterns("*.py", "sparse.toml"))
        path = root / "matrix" / file
        if raw is not None:
            path.write_bytes(raw)
        else:
            text = path.read_text(encoding="utf-8")
            assert old in text, old
            path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return go


def both(*mutations: Mutation) -> Mutation:
    def go(root: Path) -> None:
        for m in mutations:
            m(root)

    return go


def blank_lines(name: str, after_header: int = 2) -> Mutation:
    """Insert blank lines after the header of a CSV file (row numbers must still be the lines an editor shows)."""

    def go(root: Path) -> None:
        path = root / name
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([lines[0], *[""] * after_header, *lines[1:]]) + "\n", encoding="utf-8")

    return go


def outside_table(how: str) -> Mutation:
    """A candidates table outside the instance's folder: by '..', by a symbolic link, by an absolute path."""

    def go(root: Path) -> None:
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        shutil.copy(root / CANDS, outside / CANDS)
        if how == "dotdot":
            manifest('"candidates.csv"', '"../outside/candidates.csv"')(root)
        elif how == "symlink":
            (root / "linked.csv").symlink_to(outside / CANDS)
            manifest('"candidates.csv"', '"linked.csv"')(root)
        else:
            manifest('"candidates.csv"', f'"{(outside / CANDS).as_posix()}"')(root)

    return go


LATIN1_MANIFEST = (BASE / MANIFEST).read_text(encoding="utf-8").replace("Oostende + Veurne", "Oostende + Veurne café")


# ---------------------------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------------------------
CASES = [
    # --- manifests ---
    Case("toml-malformed", copy_file("malformed.toml", MANIFEST), MANIFEST, None, None, "malformed TOML"),
    Case("toml-not-utf8", copy_file("not_utf8.toml", MANIFEST), MANIFEST, None, None, "not UTF-8"),
    Case("manifest-missing", nothing, "nope.toml", None, None, "not found", target="nope.toml"),
    Case("instance-unknown-name", nothing, "-", None, None, "no instance named", target="no-such-instance"),
    Case("section-unknown", manifest("[parameters]", "[paramters]"), MANIFEST, "paramters", None, "unknown section"),
    Case("table-demand-not-named", manifest('demand = "municipalities.csv"', ""), MANIFEST, "tables.demand"),
    Case("table-file-missing", manifest('"candidates.csv"', '"zones.csv"'), MANIFEST, "tables.candidates", None,
         "not found"),
    Case("table-spec-wrong-type", manifest('demand = "municipalities.csv"', "demand = 5"), MANIFEST, "tables.demand"),
    Case("table-columns-not-in-table",
         manifest('demand = "municipalities.csv"', 'demand = { path = "municipalities.csv", columns = { population = "INW" } }'),
         MANIFEST, "tables.demand.columns", None, "not in the table"),
    Case("programme-unknown", manifest('["materialenbank"]', '["materiaalbank"]'), MANIFEST, "programmes.place", None,
         "unknown programme"),
    Case("programme-none", manifest('["materialenbank"]', "[]"), MANIFEST, "programmes.place"),
    Case("parameter-unknown", manifest("time_limit_s = 60", "time_limt_s = 60"), MANIFEST, "parameters.time_limt_s",
         None, "did you mean 'time_limit_s'"),
    Case("parameter-wrong-type", manifest("time_limit_s = 60", 'time_limit_s = "fast"'), MANIFEST,
         "parameters.time_limit_s", None, "expected a float"),
    Case("parameter-bad-choice", manifest("time_limit_s = 60", 'access_rules = "medium"'), MANIFEST,
         "parameters.access_rules", None, "must be one of"),
    Case("parameter-negative", manifest("time_limit_s = 60", "time_limit_s = -1"), MANIFEST, "parameters.time_limit_s",
         None, "must be ≥ 0"),
    Case("assumption-unknown", manifest("time_limit_s = 60", "time_limit_s = 60\n[assumptions]\nwood_per_inh = 1"),
         MANIFEST, "assumptions.wood_per_inh", None, "unknown assumption"),
    Case("assumption-not-number",
         manifest("time_limit_s = 60", 'time_limit_s = 60\n[assumptions]\naccess_circuity = "high"'),
         MANIFEST, "assumptions.access_circuity", None, "expected a float"),
    # --- --set ---
    Case("set-unknown-parameter", nothing, "--set", "size_varient", None, "did you mean 'size_variant'",
         ["--set", "size_varient=poster"]),
    Case("set-no-equals", nothing, "--set", "enforce_capacity", None, "key=value", ["--set", "enforce_capacity"]),
    Case("set-bad-bool", nothing, "--set", "single_source", None, "expected a bool", ["--set", "single_source=maybe"]),
    Case("set-unknown-assumption", nothing, "--set", "assumption.nope", None, "unknown assumption",
         ["--set", "assumption.nope=1"]),
    Case("set-unknown-size-variant", nothing, "--set", "size_variant", None, "no programme of this instance",
         ["--set", "size_variant=draft"]),
    Case("set-nan", nothing, "--set", "mip_gap", None, "expected a float", ["--set", "mip_gap=nan"]),
    Case("set-negative", nothing, "--set", "land_cost_eur_per_m2", None, "must be ≥ 0",
         ["--set", "land_cost_eur_per_m2=-1"]),
    Case("set-bad-choice", nothing, "--set", "size_rule", None, "must be one of", ["--set", "size_rule=huge"]),
    # --- demand table ---
    Case("demand-column-missing", drop(DEMAND, "population"), DEMAND, "population", None, "missing column"),
    Case("demand-column-misspelled", rename(DEMAND, "population", "popultion"), DEMAND, "population", None,
         "found 'popultion'"),
    Case("demand-not-number", cell(DEMAND, 3, "population", "many"), DEMAND, "population", 5, "not a number"),
    Case("demand-empty-value", cell(DEMAND, 4, "population", ""), DEMAND, "population", 6, "missing"),
    Case("demand-nan", cell(DEMAND, 2, "population", "NaN"), DEMAND, "population", 4, "missing"),
    Case("demand-inf", cell(DEMAND, 1, "population", "inf"), DEMAND, "population", 3, "infinite"),
    Case("demand-negative", cell(DEMAND, 0, "population", "-5"), DEMAND, "population", 2, "negative"),
    Case("demand-duplicate-id", cell(DEMAND, 5, "nis", "35002"), DEMAND, "nis", 7, "duplicate id"),
    Case("demand-empty-id", cell(DEMAND, 6, "nis", ""), DEMAND, "nis", 8, "empty"),
    Case("demand-empty-name", cell(DEMAND, 2, "name", " "), DEMAND, "name", 4, "empty"),
    Case("demand-degrees", cell(DEMAND, 3, "x", "2.91"), DEMAND, "x", 5, "degrees"),
    Case("demand-outside-flanders", cell(DEMAND, 4, "y", "20000"), DEMAND, "y", 6, "outside Flanders"),
    Case("demand-x-text", cell(DEMAND, 1, "x", "50.1 N"), DEMAND, "x", 3, "not a number"),
    Case("demand-region-empty", cell(DEMAND, 7, "arrondissement", ""), DEMAND, "arrondissement", 9, "empty"),
    Case("demand-region-column-missing", drop(DEMAND, "arrondissement"), DEMAND, "arrondissement", None,
         "arrondissement"),
    Case("demand-not-utf8", copy_file("municipalities_latin1.csv", DEMAND), DEMAND, None, None, "not UTF-8"),
    Case("demand-empty-file", write(DEMAND, b""), DEMAND, None, None, "empty"),
    Case("demand-header-only", header_only(DEMAND), DEMAND, None, None, "no rows"),
    Case("demand-ragged-csv", write(DEMAND, b"nis,name,population,x,y\n1,a,2,3\n4,b,5,6,7,8,9\n"), DEMAND, None, None,
         "CSV"),
    # --- candidate table ---
    Case("cand-free-negative", cell(CANDS, 2, "free_ha", "-3"), CANDS, "free_ha", 4, "negative"),
    Case("cand-free-blank", cell(CANDS, 3, "free_ha", ""), CANDS, "free_ha", 5, "free area missing"),
    Case("cand-free-text", cell(CANDS, 1, "free_ha", "veel"), CANDS, "free_ha", 3, "not a number"),
    Case("cand-seaport-no-area", cells(CANDS, 2, zone_type="seaport", free_ha="", total_ha=""), CANDS, "total_ha", 4,
         "seaport without free_ha needs its total area"),
    Case("cand-municipality-unknown", cell(CANDS, 5, "nis", "99999"), CANDS, "nis", 7, "not in the demand table"),
    Case("cand-duplicate-site", cell(CANDS, 4, "site_id", "EZ-35002"), CANDS, "site_id", 6, "duplicate id"),
    Case("cand-column-missing", drop(CANDS, "zone_type"), CANDS, "zone_type", None, "missing column"),
    Case("cand-empty-set", header_only(CANDS), CANDS, None, None, "no rows"),
    Case("cand-none-eligible", all_cells(CANDS, "zone_type", "seaport"), MANIFEST, "programmes.place", None,
         "no candidate site is eligible"),
    Case("cand-degrees", cell(CANDS, 0, "y", "51.12"), CANDS, "y", 2, "degrees"),
    # --- GIS layers ---
    Case("gis-no-crs", gis_candidates("points", suffix=".shp", crs=None), "candidates.shp", "crs", None, "no CRS"),
    Case("gis-degrees-as-lambert", gis_candidates("degrees", suffix=".shp", crs=None,
                                                  spec='{ path = "candidates.shp", crs = "EPSG:31370" }'),
         "candidates.shp", "x", 1, "degrees"),
    Case("gis-bad-crs-name", gis_candidates("points", suffix=".shp", crs=None,
                                            spec='{ path = "candidates.shp", crs = "EPSG:99999" }'),
         MANIFEST, "tables.candidates.crs", None, "CRS"),
    Case("gis-lines", gis_candidates("lines"), "candidates.gpkg", "geometry", 1, "LineString"),
    Case("gis-empty-geometry", gis_candidates("points", broken_row=3), "candidates.gpkg", "geometry", 4,
         "without geometry"),
    Case("gis-one-line-among-points", gis_candidates("points", broken_row=2, odd="line", suffix=".geojson"),
         "candidates.geojson",
         "geometry", 3, "LineString"),
    Case("gis-unreadable", lambda r: (write("candidates.gpkg", b"not a geopackage")(r),
                                      manifest('"candidates.csv"', '"candidates.gpkg"')(r)),
         "candidates.gpkg", None, None, "cannot read"),
    Case("gis-layer-missing", gis_candidates("points", spec='{ path = "candidates.gpkg", layer = "zonez" }'),
         "candidates.gpkg", "layer", None, "zones"),
    Case("gis-column-mapping", gis_candidates("polygons", spec='{ path = "candidates.gpkg", columns = { free_ha = "VRIJ" } }'),
         MANIFEST, "tables.candidates.columns", None, "VRIJ"),
    # --- matrix instances (optimizer/matrix.py) ---
    Case("matrix-negative-demand", matrix("demands.csv", "c2,35", "c2,-35"), "demands.csv", "demand", 3, "negative",
         target="matrix"),
    Case("matrix-missing-column", matrix("facilities.csv", "fixed_cost", "fixedcost"), "facilities.csv", "fixed_cost",
         None, "", target="matrix"),
    Case("matrix-duplicate-id", matrix("facilities.csv", "centre,80", "north,80"), "facilities.csv", "id", 3,
         "duplicate", target="matrix"),
    Case("matrix-nan-cost", matrix("costs.csv", "c1,10,40,90", "c1,10,nan,90"), "costs.csv", "centre", 2, "NaN",
         target="matrix"),
    Case("matrix-malformed-toml", matrix("problem.toml", "[tables]", "[tables"), "problem.toml", None, None,
         "TOML", target="matrix"),
    Case("matrix-not-utf8", matrix("demands.csv", raw="id,demand\ncaf\xe9,20\n".encode("latin-1")), "demands.csv",
         None, None, "UTF-8", target="matrix"),
    Case("matrix-unknown-key", matrix("problem.toml", "single_source = true", "singel_source = true"),
         "problem.toml", "problem.singel_source", None, "unknown key", target="matrix"),
    # --- issue 13, item 6: bad input that used to get through ---
    # a dense cost row with too few fields (the missing cells used to become forbidden pairs)
    Case("matrix-dense-row-short", matrix("costs.csv", "c1,10,40,90", "c1,10,40"), "costs.csv", None, 2,
         "the row has 3 fields, the header 4", target="matrix"),
    Case("demand-row-short", write(DEMAND, b"nis,name,population,x,y,arrondissement\n35002,Bredene,17000,52745.9\n"),
         DEMAND, None, 2, "the row has 4 fields"),
    # ids that differ only by letter case or surrounding whitespace (a zone's land used to count twice)
    Case("cand-id-case", cell(CANDS, 4, "site_id", "ez-35002"), CANDS, "site_id", 6, "only by letter case"),
    Case("cand-id-whitespace", cell(CANDS, 4, "site_id", " EZ-35002 "), CANDS, "site_id", 6, "duplicate id"),
    Case("demand-id-whitespace", cell(DEMAND, 5, "nis", " 35002"), DEMAND, "nis", 7, "duplicate id"),
    Case("demand-region-case", cell(DEMAND, 1, "arrondissement", "oostende"), DEMAND, "arrondissement", None,
         "only by letter case"),
    Case("matrix-id-case", matrix("demands.csv", "c2,35", "C1,35"), "demands.csv", "id", 3, "letter case",
         target="matrix"),
    Case("matrix-id-whitespace", matrix("demands.csv", "c2,35", " c1 ,35"), "demands.csv", "id", 3, "duplicate id",
         target="matrix"),
    Case("matrix-facility-id-case", matrix("facilities.csv", "centre,80", "NORTH,80"), "facilities.csv", "id", 3,
         "letter case", target="matrix"),
    # numbers in local formats, with a hint, in both loaders
    Case("demand-decimal-comma", cell(DEMAND, 3, "population", "12.345,5"), DEMAND, "population", 5,
         "decimal comma"),
    Case("demand-thousands-space", cell(DEMAND, 2, "population", "12 345"), DEMAND, "population", 4,
         "thousands separators"),
    Case("cand-free-decimal-comma", cell(CANDS, 1, "free_ha", "3,5"), CANDS, "free_ha", 3, "decimal comma"),
    Case("matrix-demand-decimal-comma", matrix("demands.csv", "c2,35", 'c2,"35,5"'), "demands.csv", "demand", 3,
         "decimal comma", target="matrix"),
    Case("matrix-fixed-cost-thousands", matrix("facilities.csv", "centre,80,140", 'centre,80,"1.140.000"'),
         "facilities.csv", "fixed_cost", 3, "thousands separators", target="matrix"),
    Case("matrix-cost-decimal-comma", matrix("costs.csv", "c1,10,40,90", 'c1,10,"40,5",90'), "costs.csv", "centre",
         2, "decimal comma", target="matrix"),
    # row numbers stay the lines an editor shows after blank lines
    Case("demand-row-after-blank-lines", both(cell(DEMAND, 3, "population", "-5"), blank_lines(DEMAND)), DEMAND,
         "population", 7, "negative"),
    Case("cand-row-after-blank-lines", both(cell(CANDS, 1, "free_ha", "veel"), blank_lines(CANDS, 1)), CANDS,
         "free_ha", 4, "not a number"),
    Case("matrix-row-after-blank-lines", both(matrix("demands.csv", "c2,35", "c2,-35"),
                                              blank_lines("matrix/demands.csv", 3)),
         "demands.csv", "demand", 6, "negative", target="matrix"),
    # TOML in Latin-1 (a BOM is accepted: tests/test_outputs.py)
    Case("toml-latin1", write(MANIFEST, LATIN1_MANIFEST.encode("latin-1")), MANIFEST, None, 5, "Latin-1"),
    Case("matrix-toml-latin1", matrix("problem.toml", raw="[problem]\nname = \"caf\xe9\"\n".encode("latin-1")),
         "problem.toml", None, 2, "Latin-1", target="matrix"),
    # unknown keys in every manifest section
    Case("instance-key-unknown", manifest("title = ", "titel = "), MANIFEST, "instance.titel", None,
         "did you mean 'title'"),
    Case("tables-key-unknown", manifest('candidates = "candidates.csv"', 'candidates = "candidates.csv"\nzones = 1'),
         MANIFEST, "tables.zones", None, "unknown key"),
    Case("table-entry-key-unknown",
         manifest('demand = "municipalities.csv"', 'demand = { path = "municipalities.csv", colums = {} }'),
         MANIFEST, "tables.demand.colums", None, "unknown key"),
    Case("programmes-key-unknown", manifest('place = ["materialenbank"]', 'place = ["materialenbank"]\nsize = 1'),
         MANIFEST, "programmes.size", None, "unknown key"),
    Case("section-not-a-table", manifest("[instance]", "generator = 5\n[instance]"), MANIFEST, "generator", None,
         "must be a table"),
    Case("matrix-table-entry-key-unknown",
         matrix("problem.toml", 'costs = "costs.csv"', 'costs = { path = "costs.csv", fromat = "dense" }'),
         "problem.toml", "tables.costs", None, "must be", target="matrix"),
    # --set, --crs, --geoparquet on a matrix instance (no parameters, no coordinates): refused, not ignored
    # a matrix instance is fixed by its files: --set takes only the solver's parameters; no coordinates for GIS
    Case("matrix-set-refused", matrix("demands.csv", "c1,20", "c1,20"), "--set", "size_variant", None,
         "a matrix instance has no parameter 'size_variant'", ["--set", "size_variant=poster"], target="matrix"),
    Case("matrix-crs-refused", matrix("demands.csv", "c1,20", "c1,20"), "-", "--crs", None,
         "--crs has no meaning for a matrix instance", ["--crs", "EPSG:4326"], target="matrix"),
    Case("matrix-geoparquet-refused", matrix("demands.csv", "c1,20", "c1,20"), "-", "--geoparquet", None,
         "--geoparquet has no meaning for a matrix instance", ["--geoparquet"], target="matrix"),
    # negative, NaN or infinite solver options
    Case("time-limit-negative", nothing, "-", "--time-limit", None, "positive number", ["--time-limit", "-1"]),
    Case("time-limit-nan", nothing, "-", "--time-limit", None, "positive number", ["--time-limit", "nan"]),
    Case("time-limit-inf", nothing, "-", "--time-limit", None, "positive number", ["--time-limit", "inf"]),
    Case("mip-gap-nan", nothing, "-", "--mip-gap", None, "between 0 and 1", ["--mip-gap", "nan"]),
    Case("mip-gap-negative", nothing, "-", "--mip-gap", None, "between 0 and 1", ["--mip-gap", "-0.1"]),
    Case("mip-gap-percent", nothing, "-", "--mip-gap", None, "0.01 = 1 %", ["--mip-gap", "5"]),
    Case("threads-negative", nothing, "-", "--threads", None, "0 (the solver's default) or more",
         ["--threads", "-2"]),
    Case("matrix-time-limit-nan", matrix("demands.csv", "c1,20", "c1,20"), "-", "--time-limit", None,
         "positive number", ["--time-limit", "nan"], target="matrix"),
    # magnitudes the solver cannot handle reliably: refused up front with the range
    Case("demand-population-huge", cell(DEMAND, 2, "population", "1e300"), DEMAND, "population", 4,
         "range the solver handles reliably (|value| ≤ 1e+12)"),
    Case("cand-free-huge", cell(CANDS, 1, "free_ha", "1e15"), CANDS, "free_ha", 3, "range the solver handles"),
    Case("matrix-demand-huge", matrix("demands.csv", "c2,35", "c2,1e15"), "demands.csv", "demand", 3,
         "range the solver handles", target="matrix"),
    Case("matrix-cost-huge", matrix("costs.csv", "c1,10,40,90", "c1,10,1e200,90"), "costs.csv", "centre", 2,
         "range the solver handles", target="matrix"),
    Case("matrix-capacity-huge", matrix("facilities.csv", "north,60,100", "north,1e14,100"), "facilities.csv",
         "capacity", 2, "range the solver handles", target="matrix"),
    # --- issue 13, item 5: inputs stay inside the instance (or a data root) ---
    Case("table-absolute-outside", manifest('"candidates.csv"', '"/etc/passwd"'), MANIFEST, "tables.candidates",
         None, "absolute path outside the instance's folder", absent="root:x:0"),
    Case("table-outside-copy-absolute", outside_table("absolute"), MANIFEST, "tables.candidates", None,
         "absolute path outside"),
    Case("table-dotdot-escape", outside_table("dotdot"), MANIFEST, "tables.candidates", None, "leaves with '..'"),
    Case("table-symlink-escape", outside_table("symlink"), MANIFEST, "tables.candidates", None,
         "symbolic link leading outside"),
    Case("table-path-long-value-truncated", manifest('"candidates.csv"', '"../' + "x" * 300 + '.csv"'), MANIFEST,
         "tables.candidates", None, "...'", absent="x" * 60),
    Case("generator-escape", manifest('[tables]\ndemand = "municipalities.csv"\ncandidates = "candidates.csv"',
                                      '[generator]\ndemand_points = 300\ncandidate_parcels = 10\nseed = 1\n'
                                      'municipalities = "/etc/passwd"'),
         MANIFEST, "generator.municipalities", None, "absolute path outside", absent="root:x:0"),
    Case("existing-table-escape", manifest('candidates = "candidates.csv"',
                                           'candidates = "candidates.csv"\nexisting = "/etc/passwd"'),
         MANIFEST, "tables.existing", None, "absolute path outside", absent="root:x:0"),
    Case("data-root-not-a-folder", manifest("[instance]\n", '[instance]\ndata_roots = ["nowhere"]\n'), MANIFEST,
         "instance.data_roots", None, "not a folder"),
    Case("matrix-table-escape", matrix("problem.toml", 'demands = "demands.csv"', 'demands = "../../outside.csv"'),
         "problem.toml", "tables.demands", None, "leaves with '..'", target="matrix"),
]


# Known gaps in other modules' messages go here as strict xfails (they flip when fixed).
KNOWN_GAPS: dict[str, str] = {}


def _make_case(tmp_path: Path, case: Case) -> Path:
    root = tmp_path / "case"
    shutil.copytree(BASE, root)
    case.mutate(root)
    return root


def _check_error_line(case: Case, code: int, stderr: str, out: Path,
                      before: dict | None = None) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code == 2, f"exit {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: "), line
    location, _, message = line.removeprefix("error: ").partition(": ")
    file, row, fld = location.rsplit(":", 2)
    assert Path(file).name == case.file or file == case.file, line
    if case.row is not None:
        assert row == str(case.row), line
    if case.field is not None:
        assert fld == case.field, line
    assert case.text in line, line
    assert not case.absent or case.absent not in line, f"the message quotes what it must not: {line}"
    assert len(line) < 600, f"not a one-line message: {line}"
    assert any(w in message.lower() for w in ACTION_WORDS) or "must" in message, f"no advice in: {line}"
    assert not out.exists(), "an output folder was written"
    assert not list(out.parent.glob(f".{out.name}.tmp-*")), "a temporary output folder was left behind"
    if before is not None:  # nothing written, nothing deleted, nothing changed anywhere in the case's folders
        assert changes(before, snapshot(out.parent)) == []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.xfail(reason=KNOWN_GAPS[c.id], strict=True))
                                  if c.id in KNOWN_GAPS else pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _make_case(tmp_path, case)
    monkeypatch.chdir(root)  # relative names (nope.toml, matrix) resolve in the case folder
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["solve", case.target, "--out", str(out), *case.args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"uncaught exception (a traceback for the planner):\n{tb}")
    _check_error_line(case, result.exit_code, result.stderr, out, before)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


# a GIS layer, a matrix file and a path escaping the data roots, each in a new process (a bad --set in a new
# process: tests/cli/test_cli.py::test_end_to_end_bad_input_and_list)
SUBPROCESS_CASES = ["gis-no-crs", "matrix-negative-demand", "table-symlink-escape"]


@pytest.mark.slow
@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_subprocess_end_to_end(case_id: str, tmp_path: Path) -> None:
    """The same checks with the real ``python -m optimizer.cli`` process (real stderr, real exit code)."""
    case = next(c for c in CASES if c.id == case_id)
    root = _make_case(tmp_path, case)
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", case.target, "--out", str(out), *case.args],
                          capture_output=True, text=True, cwd=root, timeout=300, check=False)
    _check_error_line(case, proc.returncode, proc.stderr, out, before)


@pytest.mark.parametrize("kind", ["polygons", "points"])
def test_gis_polygons_and_points_are_accepted(kind: str, tmp_path: Path) -> None:
    """Points and polygons are both candidates: a polygon is a zone, its facility point lies inside it."""
    root = tmp_path / "case"
    shutil.copytree(BASE, root)
    gis_candidates(kind, crs="EPSG:31370")(root)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["solve", str(root / MANIFEST), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert (out / "result.gpkg").exists()
    csv = pd.read_csv(root / CANDS)
    import pyogrio

    fac = pyogrio.read_dataframe(out / "result.gpkg", layer="candidates")
    got = fac.set_index("site_id").loc[csv["site_id"]]
    dist = np.hypot(got.geometry.x.to_numpy() - csv["x"].to_numpy(), got.geometry.y.to_numpy() - csv["y"].to_numpy())
    assert (dist <= (1.0 if kind == "points" else 1000.0)).all()
