"""QGIS styles for the result layers: QML built from the data, embedded in the GeoPackage and written as sidecars.

Each result layer gets a default style that makes the map readable the moment it is opened in QGIS:

============  =====================================================================================
facilities    categorized by programme and size (colour per programme, marker size per plot size)
allocations   graduated line width by ``tonnes`` (quantile classes)
candidates    categorized: chosen / eligible by knooppuntwaarde (high, medium, low) / not eligible
demand        graduated marker size by ``population``
networks      categorized: motorways dark grey, other main roads light grey, water blue by CEMT class (wider for
              larger ships), rail dashed (freight categories F1/F2 darker)
zones         categorized polygons: chosen zone, seaport zone, zone with free land, zone without free land
flows         a chain's flows between echelons: graduated line width by ``tonnes`` (as allocations)
============  =====================================================================================

The styles are stored the way QGIS itself stores them: rows in the GeoPackage's ``layer_styles`` table (registered
in ``gpkg_contents`` as an attributes table) with ``useAsDefault = 1``, so QGIS applies them when the layer is
added; the same QML is written next to the GeoPackage as ``result.<layer>.qml``. No QGIS is needed to write them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

QGIS_VERSION = "3.22.0"
STYLE_NAME = "circular-siting default"
# colour per programme (ColorBrewer Set1, colour-blind-safer order), then sizes by area
PROGRAMME_COLOURS = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999"]
MARKER_SIZES_MM = [5.5, 4.0, 3.0, 2.4]
CEMT_ORDER = ["I", "II", "III", "IV", "Va", "Vb", "VIa", "VIb", "VIc", "VII"]
N_CLASSES = 5
GEOMETRY_TYPES = {"point": 0, "line": 1, "polygon": 2}  # QGIS layerGeometryType

LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
    styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30),
    ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""


@dataclass(frozen=True)
class Symbol:
    """One class of a layer style: what it is called, how it is drawn and (for SLD) which features it takes."""

    label: str
    colour: str
    size: float  # marker diameter or line width, mm
    value: str | None = None  # category value (categorized renderer)
    lower: float | None = None  # class bounds (graduated renderer)
    upper: float | None = None
    shape: str = "circle"
    dashed: bool = False
    sld_filter: str = ""  # an OGC filter for the SLD rule


@dataclass(frozen=True)
class LayerStyle:
    """A complete default style of one layer: renderer kind, the attribute or expression and its classes."""

    layer: str
    geometry: str  # "point", "line" or "polygon"
    kind: str  # "categorized" or "graduated"
    attr: str  # column name or QGIS expression
    symbols: tuple[Symbol, ...]
    description: str

    def qml(self) -> str:
        """The style as a QGIS ``.qml`` document."""
        return _qml(self)

    def sld(self) -> str:
        """The style as an OGC Styled Layer Descriptor (a simpler rendering for non-QGIS clients)."""
        return _sld(self)


# ---------------------------------------------------------------------------------------------------------------
# Styles built from the data
# ---------------------------------------------------------------------------------------------------------------
def result_styles(layers: dict[str, pd.DataFrame]) -> dict[str, LayerStyle]:
    """Default styles for the result layers present in ``layers`` (name → table with the layer's columns)."""
    builders = {"facilities": facilities_style, "allocations": allocations_style, "candidates": candidates_style,
                "demand": demand_style, "networks": networks_style, "zones": zones_style, "flows": flows_style}
    return {name: builders[name](frame) for name, frame in layers.items() if name in builders and len(frame)}


def facilities_style(fac: pd.DataFrame) -> LayerStyle:
    """Categorized by programme and size: one colour per programme, larger markers for larger plots."""
    progs = list(dict.fromkeys(fac["programme"].astype(str)))
    area = fac.groupby(fac["size"].astype(str))["area_m2"].max().sort_values(ascending=False) if "area_m2" in fac \
        else pd.Series(1.0, index=list(dict.fromkeys(fac["size"].astype(str))))
    size_mm = {s: MARKER_SIZES_MM[min(i, len(MARKER_SIZES_MM) - 1)] for i, s in enumerate(area.index)}
    pairs = fac[["programme", "size"]].astype(str).drop_duplicates()
    pairs = pairs.assign(o1=pairs["programme"].map(progs.index), o2=pairs["size"].map(list(area.index).index))
    symbols = []
    for row in pairs.sort_values(["o1", "o2"]).itertuples():
        area_txt = f" ({area[row.size]:,.0f} m²)" if "area_m2" in fac else ""
        symbols.append(Symbol(
            label=f"{row.programme} — {row.size}{area_txt}", colour=PROGRAMME_COLOURS[row.o1 % len(PROGRAMME_COLOURS)],
            size=size_mm[row.size], value=f"{row.programme} {row.size}", shape="square",
            sld_filter=_and(_eq("programme", row.programme), _eq("size", row.size))))
    return LayerStyle("facilities", "point", "categorized", "\"programme\" || ' ' || \"size\"", tuple(symbols),
                      "facilities by programme (colour) and size (marker size)")


def allocations_style(alloc: pd.DataFrame, layer: str = "allocations",
                      description: str = "allocation lines, width by tonnes per year") -> LayerStyle:
    """Graduated line width by tonnes (quantile classes)."""
    bounds = _class_bounds(alloc["tonnes"].to_numpy(float))
    widths = np.linspace(0.25, 1.6, len(bounds) - 1)
    symbols = tuple(Symbol(label=f"{lo:,.0f} – {hi:,.0f} t/yr", colour="#8c2d04", size=float(w), lower=lo, upper=hi,
                           sld_filter=_between("tonnes", lo, hi))
                    for lo, hi, w in zip(bounds[:-1], bounds[1:], widths, strict=True))
    return LayerStyle(layer, "line", "graduated", "tonnes", symbols, description)


def flows_style(flows: pd.DataFrame) -> LayerStyle:
    """A chain's flows (collection, links between echelons, imports): graduated line width by tonnes."""
    return allocations_style(flows, "flows", "plastics-chain flows between echelons, width by tonnes per year")


def demand_style(dem: pd.DataFrame) -> LayerStyle:
    """Graduated marker size by population."""
    bounds = _class_bounds(dem["population"].to_numpy(float))
    sizes = np.linspace(1.0, 3.6, len(bounds) - 1)
    symbols = tuple(Symbol(label=f"{lo:,.0f} – {hi:,.0f} inhabitants", colour="#6baed6", size=float(s), lower=lo,
                           upper=hi, sld_filter=_between("population", lo, hi))
                    for lo, hi, s in zip(bounds[:-1], bounds[1:], sizes, strict=True))
    return LayerStyle("demand", "point", "graduated", "population", symbols, "municipalities, size by population")


def candidates_style(cand: pd.DataFrame) -> LayerStyle:
    """Categorized: chosen, eligible by knooppuntwaarde tercile (high/medium/low), not eligible."""
    elig_cols = [c for c in cand.columns if str(c).startswith("eligible_")]
    eligible = " OR ".join(f"\"{c}\"" for c in elig_cols) if elig_cols else "TRUE"
    has_kv = "knooppuntwaarde" in cand
    lo_t, hi_t = (np.nanquantile(cand["knooppuntwaarde"].to_numpy(float), [1 / 3, 2 / 3]) if has_kv else (0.0, 0.0))
    lo_t, hi_t = round(float(lo_t), 2), round(float(hi_t), 2)
    if has_kv:
        expr = (f"CASE WHEN \"chosen\" THEN 'chosen' WHEN NOT ({eligible}) THEN 'not eligible' "
                f"WHEN \"knooppuntwaarde\" >= {hi_t} THEN 'eligible high' "
                f"WHEN \"knooppuntwaarde\" >= {lo_t} THEN 'eligible medium' ELSE 'eligible low' END")
    else:
        expr = f"CASE WHEN \"chosen\" THEN 'chosen' WHEN NOT ({eligible}) THEN 'not eligible' ELSE 'eligible' END"
    chosen = _eq("chosen", "1")
    symbols = [Symbol("chosen site", "#d7301f", 4.2, value="chosen", shape="star", sld_filter=chosen)]
    if has_kv:
        symbols += [
            Symbol(f"eligible, knooppuntwaarde ≥ {hi_t:.2f}", "#08519c", 2.6, value="eligible high",
                   sld_filter=_and(_ne("chosen", "1"), _ge("knooppuntwaarde", hi_t))),
            Symbol(f"eligible, knooppuntwaarde {lo_t:.2f} – {hi_t:.2f}", "#4292c6", 2.1, value="eligible medium",
                   sld_filter=_and(_ne("chosen", "1"), _between("knooppuntwaarde", lo_t, hi_t))),
            Symbol(f"eligible, knooppuntwaarde < {lo_t:.2f}", "#9ecae1", 1.7, value="eligible low",
                   sld_filter=_and(_ne("chosen", "1"), _compare("LessThan", "knooppuntwaarde", lo_t))),
        ]
    else:
        symbols.append(Symbol("eligible", "#4292c6", 2.1, value="eligible", sld_filter=_ne("chosen", "1")))
    symbols.append(Symbol("not eligible", "#bdbdbd", 1.4, value="not eligible", shape="cross2"))
    return LayerStyle("candidates", "point", "categorized", expr, tuple(symbols),
                      "candidate sites: chosen, eligible by knooppuntwaarde, not eligible")


def networks_style(net: pd.DataFrame) -> LayerStyle:
    """Categorized: motorways dark grey, other main roads light grey, waterways blue by CEMT class, rail dashed."""
    symbols = [Symbol("motorway", "#525252", 0.9, value="road motorway",
                      sld_filter=_and(_eq("mode", "road"), _eq("road_class", "motorway"))),
               Symbol("main road (N, R)", "#bdbdbd", 0.45, value="road other",
                      sld_filter=_and(_eq("mode", "road"), _ne("road_class", "motorway")))]
    cemt = net.loc[net["mode"] == "water", "cemt_class"].fillna("").astype(str) if "cemt_class" in net else pd.Series()
    classes = sorted(set(cemt), key=lambda c: (CEMT_ORDER.index(c) if c in CEMT_ORDER else -1, c))
    blues = _ramp("#c6dbef", "#08306b", max(len(classes), 1))
    for i, c in enumerate(classes):
        symbols.append(Symbol(f"waterway CEMT {c or '?'}", blues[i], 0.5 + 1.6 * i / max(len(classes) - 1, 1),
                              value=f"water {c}", sld_filter=_and(_eq("mode", "water"), _eq("cemt_class", c))))
    if not classes:
        symbols.append(Symbol("waterway", "#2171b5", 1.0, value="water ", sld_filter=_eq("mode", "water")))
    symbols.append(Symbol("rail freight line (F1, F2)", "#54278f", 0.6, value="rail freight", dashed=True,
                          sld_filter=_and(_eq("mode", "rail"), "<ogc:Or>" + _eq("freight_cat", "F1")
                                          + _eq("freight_cat", "F2") + "</ogc:Or>")))
    symbols.append(Symbol("rail, other", "#9e9ac8", 0.35, value="rail other", dashed=True,
                          sld_filter=_and(_eq("mode", "rail"), _ne("freight_cat", "F1"), _ne("freight_cat", "F2"))))
    expr = ("CASE WHEN \"mode\" = 'water' THEN 'water ' || coalesce(\"cemt_class\", '') "
            "WHEN \"mode\" = 'road' THEN CASE WHEN \"road_class\" = 'motorway' THEN 'road motorway' "
            "ELSE 'road other' END "
            "WHEN \"freight_cat\" IN ('F1', 'F2') THEN 'rail freight' ELSE 'rail other' END")
    return LayerStyle("networks", "line", "categorized", expr, tuple(symbols),
                      "networks: motorways, main roads, water by CEMT class, rail by freight category")


def zones_style(zones: pd.DataFrame) -> LayerStyle:
    """Categorized polygons: chosen zone (red), seaport zone (blue), free land (green), no free land (grey)."""
    symbols = (
        Symbol("chosen zone", "#de2d26", 0.5, value="chosen", sld_filter=_eq("chosen", "1")),
        Symbol("seaport zone", "#6baed6", 0.3, value="seaport",
               sld_filter=_and(_ne("chosen", "1"), _eq("zone_type", "seaport"))),
        Symbol("zone with free land", "#a1d99b", 0.3, value="free",
               sld_filter=_and(_ne("chosen", "1"), _ne("zone_type", "seaport"), _gt("free_ha", 0))),
        Symbol("zone without free land", "#d9d9d9", 0.3, value="full"),
    )
    expr = ("CASE WHEN \"chosen\" THEN 'chosen' WHEN \"zone_type\" = 'seaport' THEN 'seaport' "
            "WHEN \"free_ha\" > 0 THEN 'free' ELSE 'full' END")
    return LayerStyle("zones", "polygon", "categorized", expr, symbols,
                      "candidate zones: chosen, seaport, with or without free land")


def _class_bounds(values: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    """Quantile class bounds, rounded to 2 significant digits inside, the data's range (to 1e-6) at the ends; at
    least one class."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.array([0.0, 1.0])
    inner = np.quantile(values, np.linspace(0, 1, n + 1)[1:-1])
    inner = np.array([float(f"{v:.2g}") for v in inner])
    # the QML keeps 6 decimals: round the ends outwards so that the smallest and largest feature stay inside
    lo, hi = np.floor(values.min() * 1e6) / 1e6, np.ceil(values.max() * 1e6) / 1e6
    bounds = np.unique(np.concatenate([[lo], inner, [hi]]))
    bounds = bounds[(bounds >= lo) & (bounds <= hi)]
    return bounds if bounds.size > 1 else np.array([lo, hi + 1.0])


def _ramp(start: str, end: str, n: int) -> list[str]:
    a, b = np.array(_rgb(start), float), np.array(_rgb(end), float)
    return ["#" + "".join(f"{round(float(v)):02x}" for v in a + (b - a) * t) for t in np.linspace(0, 1, n)]


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


# ---------------------------------------------------------------------------------------------------------------
# QML and SLD
# ---------------------------------------------------------------------------------------------------------------
def _options(props: dict[str, object]) -> str:
    items = "".join(f"<Option name={quoteattr(k)} value={quoteattr(str(v))} type=\"QString\"/>" for k, v in props.items())
    return f"<Option type=\"Map\">{items}</Option>"


def _symbol_xml(sym: Symbol, geometry: str, name: str) -> str:
    r, g, b = _rgb(sym.colour)
    if geometry == "polygon":
        props = {"color": f"{r},{g},{b},150", "outline_color": f"{max(r - 60, 0)},{max(g - 60, 0)},{max(b - 60, 0)},255",
                 "outline_width": f"{sym.size:.3g}", "outline_width_unit": "MM", "style": "solid",
                 "outline_style": "solid", "joinstyle": "miter"}
        layer = f"<layer class=\"SimpleFill\" enabled=\"1\" locked=\"0\" pass=\"0\">{_options(props)}</layer>"
        return (f"<symbol type=\"fill\" name={quoteattr(name)} alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">"
                f"{layer}</symbol>")
    if geometry == "point":
        props = {"name": sym.shape, "color": f"{r},{g},{b},255", "outline_color": "35,35,35,255",
                 "outline_width": "0.2", "outline_width_unit": "MM", "size": f"{sym.size:.3g}", "size_unit": "MM",
                 "angle": "0", "joinstyle": "miter", "outline_style": "solid", "scale_method": "diameter"}
        layer = f"<layer class=\"SimpleMarker\" enabled=\"1\" locked=\"0\" pass=\"0\">{_options(props)}</layer>"
        return (f"<symbol type=\"marker\" name={quoteattr(name)} alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">"
                f"{layer}</symbol>")
    props = {"line_color": f"{r},{g},{b},255", "line_width": f"{sym.size:.3g}", "line_width_unit": "MM",
             "line_style": "dash" if sym.dashed else "solid", "capstyle": "round", "joinstyle": "round",
             "offset": "0", "use_custom_dash": "0", "customdash": "5;2", "customdash_unit": "MM"}
    layer = f"<layer class=\"SimpleLine\" enabled=\"1\" locked=\"0\" pass=\"0\">{_options(props)}</layer>"
    return (f"<symbol type=\"line\" name={quoteattr(name)} alpha=\"{0.85 if sym.dashed else 0.9}\" "
            f"clip_to_extent=\"1\" force_rhr=\"0\">{layer}</symbol>")


def _qml(style: LayerStyle) -> str:
    symbols = "".join(_symbol_xml(s, style.geometry, str(i)) for i, s in enumerate(style.symbols))
    if style.kind == "categorized":
        classes = "".join(f"<category render=\"true\" symbol=\"{i}\" value={quoteattr(s.value or '')} "
                          f"label={quoteattr(s.label)}/>" for i, s in enumerate(style.symbols))
        renderer = (f"<renderer-v2 type=\"categorizedSymbol\" attr={quoteattr(style.attr)} symbollevels=\"0\" "
                    f"enableorderby=\"0\" forceraster=\"0\"><categories>{classes}</categories>"
                    f"<symbols>{symbols}</symbols></renderer-v2>")
    else:
        classes = "".join(f"<range render=\"true\" symbol=\"{i}\" lower=\"{s.lower:.6f}\" upper=\"{s.upper:.6f}\" "
                          f"label={quoteattr(s.label)}/>" for i, s in enumerate(style.symbols))
        method = "GraduatedSize"
        renderer = (f"<renderer-v2 type=\"graduatedSymbol\" attr={quoteattr(style.attr)} "
                    f"graduatedMethod=\"{method}\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">"
                    f"<ranges>{classes}</ranges><symbols>{symbols}</symbols>"
                    f"<source-symbol>{_symbol_xml(style.symbols[0], style.geometry, '0')}</source-symbol>"
                    "<classificationMethod id=\"Quantile\"/></renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f"<qgis version=\"{QGIS_VERSION}\" styleCategories=\"Symbology\">\n{renderer}\n"
            f"<layerGeometryType>{GEOMETRY_TYPES[style.geometry]}</layerGeometryType>\n</qgis>\n")


def _compare(op: str, field: str, literal: object) -> str:
    """An OGC comparison ``PropertyIs<op>`` of ``field`` with ``literal`` (a filter of an SLD rule)."""
    return (f"<ogc:PropertyIs{op}><ogc:PropertyName>{field}</ogc:PropertyName>"
            f"<ogc:Literal>{literal}</ogc:Literal></ogc:PropertyIs{op}>")


def _eq(field: str, value: object) -> str:
    return _compare("EqualTo", field, _xml_text(value))


def _ne(field: str, value: object) -> str:
    return _compare("NotEqualTo", field, _xml_text(value))


def _ge(field: str, value: float) -> str:
    return _compare("GreaterThanOrEqualTo", field, value)


def _gt(field: str, value: float) -> str:
    return _compare("GreaterThan", field, value)


def _between(field: str, lo: float, hi: float) -> str:
    return (f"<ogc:PropertyIsBetween><ogc:PropertyName>{field}</ogc:PropertyName>"
            f"<ogc:LowerBoundary><ogc:Literal>{lo}</ogc:Literal></ogc:LowerBoundary>"
            f"<ogc:UpperBoundary><ogc:Literal>{hi}</ogc:Literal></ogc:UpperBoundary></ogc:PropertyIsBetween>")


def _and(*parts: str) -> str:
    return f"<ogc:And>{''.join(parts)}</ogc:And>"


def _xml_text(value: object) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sld(style: LayerStyle) -> str:
    rules = []
    for s in style.symbols:
        if style.geometry == "polygon":
            symb = (f"<se:PolygonSymbolizer><se:Fill><se:SvgParameter name=\"fill\">{s.colour}</se:SvgParameter>"
                    "<se:SvgParameter name=\"fill-opacity\">0.6</se:SvgParameter></se:Fill><se:Stroke>"
                    f"<se:SvgParameter name=\"stroke\">{s.colour}</se:SvgParameter></se:Stroke></se:PolygonSymbolizer>")
        elif style.geometry == "point":
            shape = {"circle": "circle", "square": "square", "star": "star", "cross2": "x"}.get(s.shape, "circle")
            px = s.size * 3.78  # mm → px at 96 dpi
            symb = (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>{shape}</se:WellKnownName>"
                    f"<se:Fill><se:SvgParameter name=\"fill\">{s.colour}</se:SvgParameter></se:Fill>"
                    "<se:Stroke><se:SvgParameter name=\"stroke\">#232323</se:SvgParameter></se:Stroke></se:Mark>"
                    f"<se:Size>{px:.1f}</se:Size></se:Graphic></se:PointSymbolizer>")
        else:
            dash = "<se:SvgParameter name=\"stroke-dasharray\">7 3</se:SvgParameter>" if s.dashed else ""
            symb = (f"<se:LineSymbolizer><se:Stroke><se:SvgParameter name=\"stroke\">{s.colour}</se:SvgParameter>"
                    f"<se:SvgParameter name=\"stroke-width\">{s.size * 3.78:.1f}</se:SvgParameter>{dash}"
                    "</se:Stroke></se:LineSymbolizer>")
        filt = f"<ogc:Filter>{s.sld_filter}</ogc:Filter>" if s.sld_filter else "<se:ElseFilter/>"
        rules.append(f"<se:Rule><se:Name>{_xml_text(s.label)}</se:Name>{filt}{symb}</se:Rule>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<StyledLayerDescriptor xmlns=\"http://www.opengis.net/sld\" xmlns:ogc=\"http://www.opengis.net/ogc\" "
            "xmlns:se=\"http://www.opengis.net/se\" version=\"1.1.0\">"
            f"<NamedLayer><se:Name>{style.layer}</se:Name><UserStyle><se:Name>{STYLE_NAME}</se:Name>"
            f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>")


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def write_styles(gpkg: Path, styles: dict[str, LayerStyle], sidecar_dir: Path | None = None) -> list[Path]:
    """Store ``styles`` as the default styles in ``gpkg``'s ``layer_styles`` table; write ``.qml`` sidecars.

    Parameters
    ----------
    gpkg : Path
        GeoPackage whose layers the styles belong to (written with pyogrio: geometry column ``geom``).
    styles : dict of str to LayerStyle
        Layer name → style.
    sidecar_dir : Path, optional
        Folder for ``<gpkg stem>.<layer>.qml`` files (default: the GeoPackage's folder).

    Returns
    -------
    list of Path
        The sidecar files written.
    """
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    con = sqlite3.connect(gpkg)
    try:
        geom_col = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        con.execute(LAYER_STYLES_DDL)
        con.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, last_change)"
                    " VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', ?)", (now,))
        for layer, style in styles.items():
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'circular-siting', NULL, ?)",
                (layer, geom_col.get(layer, "geom"), STYLE_NAME, style.qml(), style.sld(), style.description, now))
        con.commit()
    finally:
        con.close()
    folder = sidecar_dir if sidecar_dir is not None else gpkg.parent
    written = []
    for layer, style in styles.items():
        path = folder / f"{gpkg.stem}.{layer}.qml"
        path.write_text(style.qml(), encoding="utf-8")
        written.append(path)
    return written


def style_geopackage(gpkg: Path, layers: Iterable[str] | None = None) -> list[Path]:
    """Read the layers of a written result GeoPackage, build their default styles and store them (see above)."""
    import pyogrio

    names = [str(n) for n in pyogrio.list_layers(gpkg)[:, 0] if str(n) != "layer_styles"]
    wanted = [n for n in names if layers is None or n in set(layers)]
    frames = {n: pyogrio.read_dataframe(gpkg, layer=n, read_geometry=False) for n in wanted}
    return write_styles(gpkg, result_styles(frames))
