"""The one result of every instance kind: GIS layers, tables and the run manifest — solved now or read back.

:class:`Result` is what :func:`optimizer.solve` returns and what ``siting map``, ``report`` and ``compare`` read
(:func:`read_result`): named, matrix and chain instances alike. Its layers are GeoDataFrames in EPSG:31370
(Belgian Lambert 72, metres); a matrix instance has no coordinates, so its tables are plain DataFrames and the
GIS outputs (GeoPackage, maps) refuse it with one clear line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError
from optimizer.output.summary import SUMMARY_NAME, kind_of
from optimizer.problem import Status
from optimizer.settings import CRS

GPKG_NAME = "result.gpkg"
LINE_LAYERS = ("allocations", "flows")  # demand → facility lines: a location instance's allocations, a chain's flows
MATRIX_FILES = {"facilities": "facilities.csv", "allocations": "assignments.csv"}


@dataclass
class Result:
    """A verified result: layers (GeoDataFrames, EPSG:31370), the manifest, and where it was written.

    Attributes
    ----------
    summary
        The run manifest, the same dict as ``summary.json`` (schema: ``docs/summary-schema.md``).
    layers
        Layer name → table: ``facilities`` (open facilities), ``allocations`` (demand → facility lines; a chain's
        ``flows`` between echelons), ``demand``, and per kind ``candidates`` and ``networks``. GeoDataFrames in
        EPSG:31370, except for a matrix instance (plain DataFrames: no coordinates).
    folder
        The result folder it was written to or read from (``None`` until written).
    csv
        File name → table for the CSV files of the result folder.
    model, solution, tables
        For a result solved in this process: the compiled problem, the solver's solution and the kind's own
        tables (``None`` for a result read from a folder).
    """

    summary: dict
    layers: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None
    csv: dict[str, pd.DataFrame] = field(default_factory=dict)
    model: Any = None
    solution: Any = None
    tables: Any = None

    # -- what it is ----------------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"named"``, ``"matrix"`` or ``"chain"``."""
        return kind_of(self.summary)

    @property
    def name(self) -> str:
        """The instance's name."""
        return str(self.summary.get("instance") or (self.folder.name if self.folder else "result"))

    @property
    def status(self) -> Status:
        """How the solve ended (:class:`~optimizer.problem.Status`: optimal, or feasible with a proven gap)."""
        return Status(self.summary["status"])

    @property
    def has_geometry(self) -> bool:
        """Whether the result has coordinates (every kind but a matrix instance)."""
        return any(hasattr(t, "geometry") and "geometry" in t for t in self.layers.values())

    # -- its layers ----------------------------------------------------------------------------------------------
    @property
    def facilities(self):  # noqa: ANN201 - GeoDataFrame
        """The open facilities: one row per facility, points in EPSG:31370."""
        return self.layers["facilities"]

    @property
    def allocations(self):  # noqa: ANN201 - GeoDataFrame
        """Who is served from where: lines demand → facility (a chain: every flow between its echelons)."""
        return next((self.layers[n] for n in LINE_LAYERS if n in self.layers), None)

    @property
    def demand(self):  # noqa: ANN201 - GeoDataFrame
        """The demand units with the facility that serves each (per programme), points in EPSG:31370."""
        return self.layers.get("demand")

    @property
    def candidates(self):  # noqa: ANN201 - GeoDataFrame
        """The candidate sites with whether they were chosen (named instances)."""
        return self.layers.get("candidates")

    # -- writing and looking at it -------------------------------------------------------------------------------
    @property
    def out_dir(self) -> Path | None:
        """Where the result was written (as :attr:`folder`; the name the pipeline's result had before)."""
        return self.folder

    def write(self, folder: str | Path, *, geoparquet: bool = False, crs: str | None = None,
              extra_dirs: dict[str, Path] | None = None) -> Path:
        """Write the result folder (``result.gpkg`` with QGIS styles, CSV, ``summary.json``) atomically; return it.

        ``crs`` reprojects the GIS layers (default EPSG:31370) and is recorded as the summary's ``crs``;
        ``geoparquet`` also writes each layer as GeoParquet; ``extra_dirs`` (name → folder) are copied in as
        sub-folders in the same atomic move. The result itself is not changed.
        """
        from optimizer.output.export import write_folder

        if (crs is not None or geoparquet) and not self.has_geometry:
            flag = "--crs" if crs is not None else "--geoparquet"
            raise InputError(f"{flag} has no meaning for a {self.kind} instance: it has no coordinates "
                             "(its result is CSV and summary.json)", field=flag)
        gis = self.layers if self.has_geometry else {}
        summary = {**self.summary, "crs": (crs or CRS) if gis else None}
        return write_folder(Path(folder), layers=gis, csv=self.csv, summary=summary, geoparquet=geoparquet, crs=crs,
                            extra_dirs=extra_dirs)

    def to_gpkg(self, path: str | Path, *, crs: str | None = None) -> Path:
        """Write the layers, with their QGIS default styles, as one GeoPackage; atomic.

        An existing file is replaced only when siting wrote it; a file siting did not write is refused (an
        :class:`~optimizer.errors.InputError`), never overwritten. A matrix instance has no layers to write.
        """
        from optimizer.output.export import write_gpkg

        gis = self.layers if self.has_geometry else {}
        return write_gpkg(Path(path), gis, self.summary, crs=crs)

    def explore(self, boundaries=None):  # noqa: ANN001, ANN201 - GeoDataFrame in, folium.Map out
        """An interactive folium map of the result (displayed inline in a notebook)."""
        from optimizer.output.maps import folium_map

        require_geometry(self, "explore")
        return folium_map(self, boundaries)

    def __repr__(self) -> str:
        gap = self.summary.get("gap")
        gap_txt = "unknown" if gap is None else f"{100 * gap:.4f} %"
        sizes = ", ".join(f"{n} {len(t)}" for n, t in self.layers.items())
        return f"<Result {self.kind} {self.name!r}: {self.summary.get('status')}, gap {gap_txt}; {sizes}>"


def require_geometry(result: Result, what: str) -> None:
    """Refuse a result without coordinates (a matrix instance) for a GIS output, in one clear line."""
    if not result.has_geometry:
        msg = (f"{what} needs coordinates, and a {result.kind} instance has none; its result is the tables "
               "facilities.csv and assignments.csv and summary.json")
        raise InputError(msg, file=result.folder)


def read_result(path: str | Path) -> Result:
    """Read a result folder (or its ``result.gpkg``): every layer and ``summary.json``.

    Parameters
    ----------
    path : str or Path
        The folder ``siting solve --out`` wrote (any instance kind), or the GeoPackage inside it.

    Returns
    -------
    Result
        Layers in EPSG:31370 (the ``layer_styles`` table is not a layer) and the parsed summary; a matrix result's
        tables from its CSV files.
    """
    import geopandas as gpd
    import pyogrio

    from optimizer.output.export import no_gdal_sidecars

    no_gdal_sidecars()  # reading a result must not write a .aux.xml into it
    path = Path(path)
    folder = path.parent if path.suffix.lower() == ".gpkg" else path
    gpkg = path if path.suffix.lower() == ".gpkg" else path / GPKG_NAME
    summary_path = folder / SUMMARY_NAME
    summary = _read_summary(summary_path)
    if not gpkg.exists():
        if summary is not None and kind_of(summary) == "matrix":
            return Result(summary, _matrix_layers(folder), folder.resolve())
        msg = f"no result found: {gpkg} does not exist; give the folder that `siting solve --out` wrote"
        raise InputError(msg, file=path)
    names = [str(n) for n, geom in pyogrio.list_layers(gpkg) if geom is not None]
    layers = {n: gpd.read_file(gpkg, layer=n) for n in names}
    for n, gdf in layers.items():
        if gdf.crs is not None and gdf.crs.to_epsg() != 31370:
            layers[n] = gdf.to_crs(CRS)
    return Result(summary or {}, layers, folder.resolve())


def _read_summary(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InputError(f"not a readable summary ({e}); was the folder written by `siting solve`?", file=path) from e
    if not isinstance(data, dict):
        raise InputError("not a result summary (a JSON object is expected)", file=path)
    return data


def _matrix_layers(folder: Path) -> dict[str, pd.DataFrame]:
    """A matrix result's tables from its CSV files, in the shape of :func:`optimizer.output.matrix.matrix_tables`."""
    fac = pd.read_csv(folder / MATRIX_FILES["facilities"], dtype={"facility": str})
    alloc = pd.read_csv(folder / MATRIX_FILES["allocations"], dtype={"client": str, "facility": str})
    if "open" in fac:
        fac = fac[fac["open"].astype(str).str.lower().isin(["true", "1"])]
    fac = fac.rename(columns={"facility": "facility_id"}).reset_index(drop=True)
    alloc = alloc.rename(columns={"facility": "facility_id"})
    return {"facilities": fac, "allocations": alloc}
