"""Maps of a written result: a static PNG (matplotlib, EPSG:31370) and an interactive HTML map (folium, WGS84).

Both read the result folder that ``siting solve`` wrote (``result.gpkg`` + ``summary.json``); nothing is solved
again. The PNG is what goes into reports and slides; the HTML map is for exploring (the web map is reprojected to
WGS84 for display only; the result itself stays in Lambert 72).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.output.result import Result, read_result, require_geometry
from optimizer.output.styles import PROGRAMME_COLOURS
from optimizer.settings import CRS

WEB_CRS = "EPSG:4326"
MODE_STYLE = {"road": {"color": "#969696", "lw": 0.7, "ls": "-"}, "water": {"color": "#2171b5", "lw": 1.1, "ls": "-"},
              "rail": {"color": "#54278f", "lw": 0.6, "ls": (0, (4, 2))}}
SIZE_MARKER_PT2 = [150.0, 80.0, 45.0, 30.0]  # marker area (points²) per size, largest plot first


def read_boundaries(path: str | Path):
    """A planner's boundary layer (any CRS with one, e.g. municipalities), reprojected to EPSG:31370.

    Refused with one line (exit 2): a file that is not a GIS layer (a CSV table: no geometries), a layer without a
    CRS, and a layer that does not reach Flanders once reprojected (wrong CRS, or latitude and longitude swapped).
    """
    import geopandas as gpd
    import numpy as np

    from optimizer.data.tables import FLANDERS_BOUNDS_M

    path = Path(path)
    where = dict(file=path, field="--boundaries")
    if not path.exists():
        raise InputError("boundary layer not found; check the path", **where)
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise InputError("is a folder; give the boundary layer's file (GeoPackage, Shapefile, GeoJSON)", **where)
    if path.suffix.lower() in (".csv", ".txt", ".xlsx", ".xls"):
        raise InputError("a table is not a boundary layer: give polygons in a GIS file (GeoPackage, Shapefile, "
                         "GeoJSON) with a CRS", **where)
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # noqa: BLE001 - any reader failure is an input problem
        raise InputError(f"cannot read the boundary layer ({str(e).splitlines()[0][:100]}); give a GIS file "
                         "(GeoPackage, Shapefile, GeoJSON)", **where) from None
    if "geometry" not in gdf or gdf.geometry.isna().all() or gdf.geometry.is_empty.all():
        raise InputError("the file holds no geometries: give polygons in a GIS file (GeoPackage, Shapefile, GeoJSON)",
                         **where)
    if gdf.crs is None:
        raise InputError("the boundary layer has no CRS; save it with one (e.g. EPSG:31370)", **where)
    try:
        projected = gdf.to_crs(CRS)
    except Exception as e:  # noqa: BLE001 - pyproj cannot transform it
        raise InputError(f"cannot reproject the boundary layer from {gdf.crs.to_string()} to {CRS} ({str(e)[:80]}); "
                         "check its CRS", **where) from None
    xmin, ymin, xmax, ymax = projected.total_bounds
    fx0, fy0, fx1, fy1 = FLANDERS_BOUNDS_M
    if not np.all(np.isfinite([xmin, ymin, xmax, ymax])) or xmax < fx0 or xmin > fx1 or ymax < fy0 or ymin > fy1:
        raise InputError(f"the boundary layer does not reach Flanders once reprojected from {gdf.crs.to_string()}; "
                         "check its CRS and the axis order (x = longitude/easting, y = latitude/northing)", **where)
    return projected


def programme_colours(result: Result) -> dict[str, str]:
    """The colour of each programme, the same as in the QGIS style."""
    fac = result.layers.get("facilities")
    progs = list(dict.fromkeys(fac["programme"].astype(str))) if fac is not None else []
    return {p: PROGRAMME_COLOURS[i % len(PROGRAMME_COLOURS)] for i, p in enumerate(progs)}


def _size_order(fac: pd.DataFrame) -> list[str]:
    if "area_m2" in fac:
        return list(fac.groupby(fac["size"].astype(str))["area_m2"].max().sort_values(ascending=False).index)
    return list(dict.fromkeys(fac["size"].astype(str)))


# ---------------------------------------------------------------------------------------------------------------
# Static map
# ---------------------------------------------------------------------------------------------------------------
def render_png(result: Result, out: Path, boundaries=None, title: str | None = None,
               dpi: int = 150, banner: str | None = None) -> Path:
    """Draw the result as a static map (PNG) in EPSG:31370 with legend, scale bar and north arrow.

    Parameters
    ----------
    result : Result
        From :func:`read_result`.
    out : Path
        PNG file to write.
    boundaries : GeoDataFrame, optional
        Municipality (or other) boundaries in EPSG:31370, drawn as thin outlines; without them the shipped outline
        of Flanders (:func:`optimizer.data.outline.flanders_outline`) is drawn.
    title : str, optional
        Map title (default: the instance title and its status).
    banner : str, optional
        A warning line above the title (e.g. UNVERIFIED).
    dpi : int
        Resolution; the figure is 11 × 7 inches.

    Returns
    -------
    Path
        ``out``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    L = result.layers
    fig, ax = plt.subplots(figsize=(11, 7))
    handles: list = []
    if boundaries is not None:
        boundaries.boundary.plot(ax=ax, color="#bdbdbd", linewidth=0.4, zorder=1)
        handles.append(Line2D([], [], color="#bdbdbd", lw=0.8, label="boundaries"))
    else:  # the shipped outline of Flanders as a backdrop (not part of the map's extent)
        from optimizer.data.outline import flanders_outline

        outline = flanders_outline()
        if outline is not None:
            import geopandas as gpd

            gpd.GeoSeries([outline], crs=CRS).boundary.plot(ax=ax, color="#525252", linewidth=0.8, zorder=1)
            handles.append(Line2D([], [], color="#525252", lw=0.8, label="Flanders outline"))
    if "zones" in L and len(L["zones"]):
        from matplotlib.patches import Patch

        z = L["zones"]
        chosen = z["chosen"].astype(bool) if "chosen" in z else pd.Series(False, index=z.index)
        port = (z["zone_type"] == "seaport") if "zone_type" in z else pd.Series(False, index=z.index)
        for sel, colour, label in ((~chosen & ~port, "#c7e9c0", "candidate zone"),
                                   (~chosen & port, "#c6dbef", "seaport zone"), (chosen, "#de2d26", "chosen zone")):
            if sel.any():
                z[sel].plot(ax=ax, color=colour, edgecolor=colour, linewidth=0.6, zorder=2.5)
                handles.append(Patch(facecolor=colour, edgecolor=colour, label=label))
    if "networks" in L and len(L["networks"]):
        net = L["networks"]
        motorway = net["road_class"].eq("motorway") if "road_class" in net else pd.Series(True, index=net.index)
        parts = [("road", net["mode"].eq("road") & motorway, "motorway"),
                 ("road", net["mode"].eq("road") & ~motorway, "main road"),
                 ("water", net["mode"].eq("water"), "waterway"), ("rail", net["mode"].eq("rail"), "rail")]
        for mode, mask, label in parts:
            st = MODE_STYLE[mode]
            sel = net[mask]
            if len(sel):
                lw = st["lw"] * (0.5 if label == "main road" else 1.0)
                sel.plot(ax=ax, color=st["color"], linewidth=lw, linestyle=st["ls"], alpha=0.8, zorder=2)
                handles.append(Line2D([], [], color=st["color"], lw=lw + 0.4, ls=st["ls"], label=label))
    if "candidates" in L and len(L["candidates"]):
        c = L["candidates"]
        ax.scatter(c.geometry.x, c.geometry.y, s=7, marker="o", facecolor="none", edgecolor="#737373", lw=0.5,
                   zorder=3)
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="#737373", ms=4, label="candidate site"))
    if result.allocations is not None and len(result.allocations):
        a = result.allocations
        t = a["tonnes"].to_numpy(float)
        widths = 0.3 + 2.2 * np.sqrt(t / max(t.max(), 1e-9))
        a.plot(ax=ax, color="#8c2d04", linewidth=widths, alpha=0.55, zorder=4)
        handles.append(Line2D([], [], color="#8c2d04", lw=1.5, alpha=0.7,
                              label=f"{'flow' if result.kind == 'chain' else 'allocation'} (width: t/yr)"))
    if "demand" in L and len(L["demand"]):
        d = L["demand"]
        pop = d["population"].to_numpy(float)
        ax.scatter(d.geometry.x, d.geometry.y, s=2 + 40 * pop / max(pop.max(), 1), color="#6baed6", alpha=0.8,
                   edgecolor="white", lw=0.3, zorder=5)
        handles.append(Line2D([], [], marker="o", ls="", color="#6baed6", ms=5, label="municipality (size: inhabitants)"))
    colours = programme_colours(result)
    if "facilities" in L and len(L["facilities"]):
        f = L["facilities"]
        sizes = _size_order(f)
        area = {s: SIZE_MARKER_PT2[min(i, len(SIZE_MARKER_PT2) - 1)] for i, s in enumerate(sizes)}
        for (prog, size), grp in f.groupby([f["programme"].astype(str), f["size"].astype(str)], sort=False):
            ax.scatter(grp.geometry.x, grp.geometry.y, s=area[size], marker="s", color=colours[prog],
                       edgecolor="black", lw=0.7, zorder=6)
            handles.append(Line2D([], [], marker="s", ls="", color=colours[prog], mec="black",
                                  ms=np.sqrt(area[size]), label=f"{prog} — {size} ({len(grp)})"))
    ax.set_aspect("equal")
    # frame the study area (demand and candidates), not the whole network, which runs into Wallonia
    core = [L[n] for n in ("demand", "candidates", "facilities") if n in L and len(L[n])]
    if boundaries is not None:
        core.append(boundaries)
    if core:
        xmin, ymin = min(g.total_bounds[0] for g in core), min(g.total_bounds[1] for g in core)
        xmax, ymax = max(g.total_bounds[2] for g in core), max(g.total_bounds[3] for g in core)
        pad = 0.04 * max(xmax - xmin, ymax - ymin)
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymin - pad, ymax + pad)
    km = FuncFormatter(lambda v, _: f"{v / 1000:.0f}")
    ax.xaxis.set_major_formatter(km)
    ax.yaxis.set_major_formatter(km)
    ax.set_xlabel("x (km, Belgian Lambert 72, EPSG:31370)")
    ax.set_ylabel("y (km, EPSG:31370)")
    ax.tick_params(labelsize=8)
    ax.grid(color="#eeeeee", lw=0.5, zorder=0)
    ax.add_artist(AnchoredSizeBar(ax.transData, 20_000, "20 km", loc="lower left", pad=0.6, sep=4,
                                  frameon=True, size_vertical=800, fontproperties={"size": 9}))
    ax.annotate("N", xy=(0.04, 0.95), xytext=(0.04, 0.84), xycoords="axes fraction", ha="center", va="center",
                fontsize=13, fontweight="bold", arrowprops={"facecolor": "black", "width": 4, "headwidth": 11})
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8,
              frameon=False)
    s = result.summary
    if title is None:
        status = s.get("status", "?")
        gap = s.get("gap")
        gap_txt = f", gap {100 * gap:.3f}%" if gap is not None else ""
        land = s.get("land_take_ha")
        land_txt = f"; {'new ' if result.kind == 'chain' else ''}land take {land:.1f} ha" if land is not None else ""
        title = f"{s.get('title') or result.name}\n{status}{gap_txt}{land_txt}"
    if banner:
        title = f"{banner}\n{title}"
    ax.set_title(title, fontsize=10.5, color="#a50f15" if banner else "black")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Interactive map
# ---------------------------------------------------------------------------------------------------------------
def render_html(result: Result, out: Path, boundaries=None, banner: str | None = None) -> Path:
    """Write an interactive folium map (WGS84 for display) with a layer control and a legend.

    The background tiles come from OpenStreetMap when the file is opened online; every result layer is embedded
    in the file. ``banner``: a warning shown above the map (e.g. UNVERIFIED).
    """
    import html as html_text

    from branca.element import Element

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    m = folium_map(result, boundaries)
    if banner:
        m.get_root().html.add_child(Element(
            "<div style='position:fixed;top:0;left:50px;right:50px;z-index:9999;background:#a50f15;color:white;"
            f"padding:.4em .8em;font:bold 14px sans-serif'>{html_text.escape(banner)}</div>"))
    m.save(str(out))
    return out


def folium_map(result: Result, boundaries=None):  # noqa: ANN001, ANN201 - folium.Map
    """The interactive map of a result (folium, WGS84 for display): layers, tooltips, layer control, legend."""
    import folium
    from branca.element import Element

    L = {k: v.to_crs(WEB_CRS) for k, v in result.layers.items()}
    bounds = (L["demand"] if "demand" in L else next(iter(L.values()))).total_bounds
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if boundaries is not None:
        folium.GeoJson(boundaries.to_crs(WEB_CRS)[["geometry"]], name="boundaries",
                       style_function=lambda _: {"color": "#969696", "weight": 0.8, "fill": False}).add_to(m)
    if "networks" in L:
        net = L["networks"][[c for c in ("mode", "road_ref", "cemt_class", "freight_cat", "geometry")
                             if c in L["networks"]]]
        folium.GeoJson(net, name="networks", show=False, style_function=lambda f: {
            "color": MODE_STYLE.get(f["properties"]["mode"], MODE_STYLE["road"])["color"], "weight": 1.5,
            "dashArray": "4 3" if f["properties"]["mode"] == "rail" else None},
            tooltip=folium.GeoJsonTooltip([c for c in ("mode", "road_ref", "cemt_class", "freight_cat")
                                           if c in net])).add_to(m)
    lines = next((n for n in ("allocations", "flows") if n in L), None)
    if lines is not None:
        a = L[lines]
        tmax = max(float(a["tonnes"].max()), 1e-9)
        a = a.assign(weight=1 + 5 * np.sqrt(a["tonnes"] / tmax))
        tips = [c for c in (("kind", "from", "to") if lines == "flows" else ("municipality", "facility_id"))
                + ("tonnes", "km") if c in a]
        cols = [*tips, "weight", "geometry"]
        folium.GeoJson(a[cols], name=lines, style_function=lambda f: {
            "color": "#8c2d04", "weight": f["properties"]["weight"], "opacity": 0.6},
            tooltip=folium.GeoJsonTooltip(tips, localize=True)).add_to(m)
    if "candidates" in L:
        group = folium.FeatureGroup(name="candidate sites", show=False)
        for row in L["candidates"].itertuples():
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=3, color="#737373", weight=1,
                                fill=False, tooltip=f"{row.site_id}: {row.name}").add_to(group)
        group.add_to(m)
    if "demand" in L:
        group = folium.FeatureGroup(name="municipalities")
        d = L["demand"]
        pmax = max(float(d["population"].max()), 1.0)
        for row in d.itertuples():
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=2 + 8 * np.sqrt(row.population / pmax),
                                color="#6baed6", fill=True, fill_opacity=0.7, weight=0.5,
                                tooltip=f"{row.name}: {row.population:,.0f} inhabitants").add_to(group)
        group.add_to(m)
    colours = programme_colours(result)
    legend_rows = [("#8c2d04", "allocation (width: t/yr)"), ("#6baed6", "municipality"),
                   ("#737373", "candidate site")]
    if "facilities" in L:
        f = L["facilities"]
        sizes = _size_order(f)
        group = folium.FeatureGroup(name="facilities")
        for row in f.itertuples():
            radius = 12 - 3 * min(sizes.index(str(row.size)), 2)
            util = float(getattr(row, "utilisation", float("nan")))  # load / assumed capacity (output.tension)
            tip = (f"<b>{row.site_name}</b><br>{row.programme} — {row.size}<br>region {row.region}<br>"
                   f"load {row.load_t:,.0f} t/yr" + (f", utilisation {100 * util:.0f}%" if np.isfinite(util) else ""))
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=radius, color="black", weight=1,
                                fill=True, fill_color=colours[str(row.programme)], fill_opacity=0.95,
                                tooltip=tip).add_to(group)
        group.add_to(m)
        legend_rows = [(colours[p], f"{p} (larger marker: larger plot)") for p in colours] + legend_rows
    legend_rows += [(st["color"], f"{mode} network") for mode, st in MODE_STYLE.items()]
    items = "".join(f"<div><span style='display:inline-block;width:12px;height:12px;background:{c};"
                    f"margin-right:6px;border:1px solid #333'></span>{label}</div>" for c, label in legend_rows)
    legend = (f"<div style='position:fixed;bottom:30px;left:10px;z-index:9999;background:white;padding:8px 10px;"
              f"border:1px solid #999;border-radius:4px;font:12px sans-serif'><b>{result.name}</b>{items}</div>")
    m.get_root().html.add_child(Element(legend))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def make_maps(path: str | Path, out_dir: Path | None = None, boundaries=None,  # noqa: ANN001 - path or GeoDataFrame
              png: bool = True, html: bool = True, banner: str | None = None) -> dict[str, Path]:
    """Read a result and write ``map.png`` and/or ``map.html`` (default: into the result folder).

    ``boundaries`` is a layer path or an already read GeoDataFrame (:func:`read_boundaries`). Files are written
    only where siting may write (:func:`optimizer.atomic.write_output_file`). ``banner``: a warning on both maps
    (a result drawn although it fails ``siting verify``).
    """
    from optimizer.atomic import write_output_file

    result = read_result(path)
    require_geometry(result, "a map")
    bnd = read_boundaries(boundaries) if isinstance(boundaries, (str, Path)) else boundaries
    target = Path(out_dir) if out_dir is not None else result.folder
    written: dict[str, Path] = {}
    if png:
        written["png"] = write_output_file(target, "map.png",
                                           lambda p: render_png(result, p, boundaries=bnd, banner=banner))
    if html:
        written["html"] = write_output_file(target, "map.html",
                                            lambda p: render_html(result, p, boundaries=bnd, banner=banner))
    return written
