"""The four Processing algorithms. Each builds a ``siting`` command line, runs it through :mod:`.engine` and turns
the engine's files into Processing outputs (styled layers, tables, HTML)."""

import base64
import csv
import html
import json
import os
import shutil
import time

from qgis.core import (
    NULL,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsLayerTree,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
    QgsProject,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant
from qgis.PyQt.QtGui import QIcon

from . import engine
from .provider import ICON, resolve_engine

RESULT_LAYERS = ("facilities", "allocations", "demand", "candidates", "networks", "flows")  # drawing order, top first
GIS_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb"]
NO_ENGINE = "(engine not found: set its path in the Processing options)"
_KEEP_ALIVE = []  # layer post-processors must outlive the algorithm run (Processing does not own Python objects)


class StyleLayer(QgsProcessingLayerPostProcessorInterface):
    """Once a result layer is loaded: apply the result's own QGIS style (``result.<layer>.qml``, also stored in the
    GeoPackage) and keep the run's layers in drawing order (facilities on top, networks at the bottom); Processing
    in QGIS 3.22 adds them in the alphabetical order of their sources."""

    def __init__(self, qml, rank, run_id):
        super().__init__()
        self.qml, self.rank, self.run_id = qml, rank, run_id

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if not isinstance(layer, QgsVectorLayer):
            return
        if self.qml and os.path.exists(self.qml):
            message, ok = layer.loadNamedStyle(self.qml)
            if not ok:
                feedback.pushWarning(f"style {self.qml} not applied: {message}")
        layer.setCustomProperty("siting/run", self.run_id)
        layer.setCustomProperty("siting/rank", self.rank)
        project = context.project() or QgsProject.instance()
        node = project.layerTreeRoot().findLayer(layer.id())
        if node is not None and node.parent() is not None:
            _reorder(node.parent(), self.run_id)
        layer.triggerRepaint()


def _reorder(parent, run_id):
    """Sort the run's layer nodes under ``parent`` by rank, keeping them where the first of them is."""
    children = parent.children()
    mine = [(i, c) for i, c in enumerate(children) if QgsLayerTree.isLayer(c) and c.layer() is not None
            and c.layer().customProperty("siting/run") == run_id]
    ranked = sorted(mine, key=lambda ic: int(ic[1].layer().customProperty("siting/rank", 99)))
    if [i for i, _ in ranked] == [i for i, _ in mine]:
        return
    first = mine[0][0]
    clones = [c.clone() for _, c in ranked]
    parent.insertChildNodes(first, clones)  # the clones first, so the layers never leave the project
    for _, node in mine:
        parent.removeChildNode(node)


# -----------------------------------------------------------------------------------------------------------------
# Shared behaviour
# -----------------------------------------------------------------------------------------------------------------
class SitingAlgorithm(QgsProcessingAlgorithm):
    """Common parts: the engine, overrides, result layers and the summary."""

    def __init__(self, catalogue=None):
        super().__init__()
        self.catalogue = catalogue or {"instances": [], "programmes": []}

    def createInstance(self):  # noqa: N802
        return type(self)(self.catalogue)

    def group(self):
        return "circular-siting"

    def groupId(self):  # noqa: N802
        return "siting"

    def icon(self):
        return QIcon(ICON)

    def tr(self, text):
        return text

    # -- the engine --------------------------------------------------------------------------------------------
    def engine_path(self):
        executable, tried = resolve_engine()
        if executable is None:
            raise QgsProcessingException(
                "the siting engine was not found; set 'Path to the siting executable' in Settings ▸ Options ▸ "
                "Processing ▸ Providers ▸ circular-siting (see docs/qgis.md). Tried: " + "; ".join(tried[:6])
                + (f" and {len(tried) - 6} more" if len(tried) > 6 else ""))
        return executable

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """No engine, no run: say so (and where to set it) before Processing complains about a parameter."""
        executable, _ = resolve_engine()
        if executable is None:
            try:
                self.engine_path()
            except QgsProcessingException as e:
                return False, str(e)
        return super().checkParameterValues(parameters, context)

    def run_engine(self, args, feedback, rename=None):
        """Run the engine; any failure becomes a QgsProcessingException with the engine's one-line message."""
        try:
            return engine.run_engine(self.engine_path(), args, feedback, rename=rename)
        except engine.Cancelled as e:
            raise QgsProcessingException(e.message) from None
        except engine.EngineError as e:
            if e.exit_code == 1 and e.details:
                feedback.pushConsoleInfo(e.details)
            raise QgsProcessingException(e.message) from None

    # -- parameters shared by several algorithms ---------------------------------------------------------------
    def add_instance_parameters(self):
        names = [row["name"] for row in self.catalogue.get("instances", [])] or [NO_ENGINE]
        param = QgsProcessingParameterEnum("INSTANCE", "Named instance (siting list)", options=names,
                                           defaultValue=("materialenbanken" if "materialenbanken" in names
                                                         else names[0]), optional=True)
        param.setUsesStaticStrings(True)
        self.addParameter(param)
        self.addParameter(QgsProcessingParameterFile("MANIFEST", "…or a manifest file (instead of the named "
                                                     "instance, e.g. OUT/instance/NAME.toml of a located run)",
                                                     extension="toml", optional=True))

    def add_set_parameter(self):
        param = QgsProcessingParameterMatrix("SET", "Overrides (--set): parameter or assumption.NAME, value",
                                             numberRows=0, hasFixedNumberRows=False, headers=["key", "value"],
                                             optional=True)
        param.setFlags(param.flags() | QgsProcessingParameterMatrix.FlagAdvanced)
        self.addParameter(param)

    def instance_argument(self, parameters, context):
        manifest = self.parameterAsFile(parameters, "MANIFEST", context)
        if manifest:
            return manifest
        name = self.parameterAsEnumString(parameters, "INSTANCE", context)
        if not name or name == NO_ENGINE:
            raise QgsProcessingException("choose a named instance or give a manifest file")
        return name

    def set_arguments(self, parameters, context):
        matrix = self.parameterAsMatrix(parameters, "SET", context) or []
        values = ["" if v is None or v == NULL else str(v).strip() for v in matrix]
        if not any(values):
            return []
        if len(values) % 2:
            raise QgsProcessingException("overrides come in pairs: key, value")
        args = []
        for key, value in zip(values[::2], values[1::2]):
            if key:
                args += ["--set", f"{key}={value}"]
            elif value:
                raise QgsProcessingException(f"override value {value!r} has no key")
        return args

    # -- results -------------------------------------------------------------------------------------------------
    def load_result_layers(self, folder, context, label):
        """Queue the result GeoPackage's layers for loading, each with its style; return {layer name: uri}."""
        gpkg = os.path.join(folder, "result.gpkg")
        names = geopackage_layers(gpkg)
        names = [n for n in RESULT_LAYERS if n in names] + [n for n in names if n not in RESULT_LAYERS]
        uris = {}
        run_id = f"{folder}@{time.time()}"
        for rank, name in enumerate(names):
            uri = f"{gpkg}|layername={name}"
            details = QgsProcessingContext.LayerDetails(f"{label} — {name}", context.project(), name)
            post = StyleLayer(os.path.join(folder, f"result.{name}.qml"), rank, run_id)
            _KEEP_ALIVE.append(post)
            details.setPostProcessor(post)
            context.addLayerToLoadOnCompletion(uri, details)
            uris[name] = uri
        return uris

    def report_summary(self, folder, feedback):
        """Read summary.json and report the headline figures; return the outputs it gives."""
        path = os.path.join(folder, "summary.json")
        with open(path, encoding="utf-8") as fh:
            summary = json.load(fh)
        objective = summary.get("objective") or {}
        total = objective.get("total") if isinstance(objective, dict) else summary.get("objective_eur_per_yr")
        if total is None:
            total = summary.get("objective_eur_per_yr")
        gap = summary.get("gap")
        status = summary.get("status", "")
        if status != "optimal":
            feedback.pushWarning(f"NOT OPTIMAL: status {status}, proven gap "
                                 + (f"{100 * gap:.3f} %" if gap is not None else "unknown"))
        unit = objective.get("unit", "EUR/yr") if isinstance(objective, dict) else "EUR/yr"
        feedback.pushInfo(f"status {status}, objective {total:,.2f} {unit}, land take "
                          f"{summary.get('land_take_ha', summary.get('new_land_take_ha', 0.0)):.1f} ha; verified")
        for pid, prog in (summary.get("programmes") or {}).items():
            sizes = ", ".join(f"{v} {k}" for k, v in sorted(prog.get("count_per_size", {}).items()))
            feedback.pushInfo(f"  {pid}: {prog.get('facilities')} facilities ({sizes}), "
                              f"{prog.get('land_take_ha', 0):.1f} ha")
        return {"SUMMARY": path, "OBJECTIVE": total, "STATUS": status, "GAP": gap}

    def add_result_outputs(self):
        for name in ("facilities", "allocations", "demand", "candidates", "networks"):
            self.addOutput(QgsProcessingOutputVectorLayer(name.upper(), f"Result layer {name}"))
        self.addOutput(QgsProcessingOutputFile("SUMMARY", "Run manifest (summary.json)"))
        self.addOutput(QgsProcessingOutputNumber("OBJECTIVE", "Objective (EUR/yr or t·km/yr)"))
        self.addOutput(QgsProcessingOutputNumber("GAP", "Proven relative gap"))
        self.addOutput(QgsProcessingOutputString("STATUS", "Solver status"))

    def result_outputs(self, folder, context, feedback, label):
        outputs = {"OUTPUT_FOLDER": folder}
        outputs.update(self.report_summary(folder, feedback))
        for name, uri in self.load_result_layers(folder, context, label).items():
            outputs[name.upper()] = uri
        return outputs


def geopackage_layers(gpkg):
    """Names of the feature tables of a GeoPackage (its ``gpkg_contents``), in the file's order."""
    import sqlite3

    if not os.path.exists(gpkg):
        return []
    db = sqlite3.connect(gpkg)
    try:
        rows = db.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'").fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _help(text):
    return text.strip().replace("\n\n", "<br><br>").replace("\n", " ")


# -----------------------------------------------------------------------------------------------------------------
# Solve a named instance
# -----------------------------------------------------------------------------------------------------------------
class SolveInstance(SitingAlgorithm):
    """``siting solve NAME``."""

    def name(self):
        return "solve"

    def displayName(self):  # noqa: N802
        return "Solve a named instance"

    def shortHelpString(self):  # noqa: N802
        return _help("""
Solves a named instance of circular-siting (the study's scenarios, `siting list`) or a manifest file, verifies the
result independently and loads it styled: facilities, allocations, demand, candidate sites and the strategic networks
(EPSG:31370).

Overrides are `--set key=value` pairs: a run parameter (size_variant, size_rule, assignment, enforce_capacity,
land_cost_eur_per_m2, access_rules, ...; `siting show NAME` lists them) or a named assumption
(assumption.access_circuity).

The result folder holds result.gpkg, CSV tables and summary.json (the run manifest). It must be new, empty or a
previous result, which is then kept as FOLDER.previous: siting never replaces a folder it did not write. Cancel
stops the engine; a previous result in the folder stays as it was.

Command line: siting solve NAME --out FOLDER [--time-limit S] [--set key=value ...]
""")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_instance_parameters()
        self.addParameter(QgsProcessingParameterNumber("TIME_LIMIT", "Time limit (s; empty: the instance's)",
                                                       QgsProcessingParameterNumber.Double, optional=True, minValue=0))
        self.addParameter(QgsProcessingParameterNumber("MIP_GAP", "Relative MIP gap (empty: the instance's)",
                                                       QgsProcessingParameterNumber.Double, optional=True, minValue=0))
        self.add_set_parameter()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Result folder"))
        self.add_result_outputs()

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        instance = self.instance_argument(parameters, context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        args = ["solve", instance, "--out", folder, "--progress", "jsonl", "--quiet"]
        if parameters.get("TIME_LIMIT") not in (None, ""):
            args += ["--time-limit", repr(self.parameterAsDouble(parameters, "TIME_LIMIT", context))]
        if parameters.get("MIP_GAP") not in (None, ""):
            args += ["--mip-gap", repr(self.parameterAsDouble(parameters, "MIP_GAP", context))]
        args += self.set_arguments(parameters, context)
        self.run_engine(args, feedback)
        label = os.path.splitext(os.path.basename(instance))[0]
        return self.result_outputs(folder, context, feedback, label)


# -----------------------------------------------------------------------------------------------------------------
# Locate facilities from layers
# -----------------------------------------------------------------------------------------------------------------
ENUMS = {
    "WEIGHT_UNIT": ["inhabitants", "t"],
    "FREE_AREA_UNIT": ["ha", "m2"],
    "SIZE_VARIANT": ["final", "poster"],
    "SIZE_RULE": ["programme", "free"],
    "ASSIGNMENT": ["programme", "own_region", "any"],
    "ACCESS_RULES": ["strict", "loose", "none"],
}


class LocateFromLayers(SitingAlgorithm):
    """``siting locate``: the user's demand and candidate-zone layers instead of a manifest."""

    def name(self):
        return "locate"

    def displayName(self):  # noqa: N802
        return "Locate facilities from layers"

    def shortHelpString(self):  # noqa: N802
        return _help("""
Places the facilities of a programme (models/: materialenbank, sorteercentrum, cluster, ...) on your candidate
zones so that the transport from your demand is cheapest, under the programme's rules: sizes, 'large where the
region holds a centrumstad', the count per region, capacity, free land and multimodal access. Every result is
verified independently before it is written.

Demand: points or polygons (their representative point) with a numeric weight — inhabitants, turned into tonnes
by the programme's named assumption, or tonnes per year. Candidate zones: polygons or points with their free land
(ha or m²). Regions ('one facility per region'): a field of the demand layer or a polygon layer. Each zone belongs
to the demand unit it lies in (or the nearest one, or the one a field names).

Any CRS is converted to EPSG:31370; a layer without a CRS, an empty layer, a missing or non-numeric weight,
an invalid polygon are refused with the layer, feature and field named.

The result folder holds result.gpkg (styled), CSVs, summary.json and instance/NAME.toml with the two tables the
engine read: `siting solve FOLDER/instance/NAME.toml --out OTHER` repeats the run from the command line.

Command line: siting locate --demand FILE --weight FIELD --candidates FILE --free-area FIELD --programme NAME
[--region-field F | --regions FILE] --out FOLDER (siting locate --help)
""")

    def initAlgorithm(self, config=None):  # noqa: N802
        point_poly = [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]
        adv = QgsProcessingParameterField.FlagAdvanced

        def add(param, advanced=False):
            if advanced:
                param.setFlags(param.flags() | adv)
            self.addParameter(param)

        def enum(key, label, default, advanced=False):
            param = QgsProcessingParameterEnum(key, label, options=ENUMS[key], defaultValue=default)
            param.setUsesStaticStrings(True)
            add(param, advanced)

        def field(key, label, parent, numeric=False, optional=True, advanced=False):
            kind = QgsProcessingParameterField.Numeric if numeric else QgsProcessingParameterField.Any
            add(QgsProcessingParameterField(key, label, parentLayerParameterName=parent, type=kind,
                                            optional=optional), advanced)

        add(QgsProcessingParameterFeatureSource("DEMAND", "Demand layer (points or polygons)", point_poly))
        field("WEIGHT", "Weight field", "DEMAND", optional=False)
        enum("WEIGHT_UNIT", "Weight is", "inhabitants")
        field("DEMAND_ID", "Demand id field (empty: feature number)", "DEMAND")
        field("DEMAND_NAME", "Demand name field", "DEMAND")
        field("REGION_FIELD", "Region field of the demand layer (one facility per region)", "DEMAND")
        field("DEMAND_CENTRUMSTAD", "Centrumstad field (yes/no; 'large where the region holds a centrumstad')", "DEMAND")
        field("DEMAND_AREA", "Demand area field, km² (empty: polygon area)", "DEMAND", advanced=True)
        field("DEMAND_UITRUSTINGSGRAAD", "Uitrustingsgraad class field (type environments)", "DEMAND", advanced=True)
        add(QgsProcessingParameterFeatureSource("CANDIDATES", "Candidate-zone layer (polygons or points)", point_poly))
        field("FREE_AREA", "Free area field", "CANDIDATES", optional=False)
        enum("FREE_AREA_UNIT", "Free area unit", "ha")
        field("CANDIDATE_ID", "Zone id field (empty: feature number)", "CANDIDATES")
        field("CANDIDATE_NAME", "Zone name field", "CANDIDATES")
        field("ZONE_TYPE", "Zone type field (economic_zone, seaport, ...; empty: the programme's)", "CANDIDATES",
              advanced=True)
        field("TOTAL_AREA", "Total area field (a seaport may leave its free area empty)", "CANDIDATES", advanced=True)
        field("CANDIDATE_DEMAND", "Field naming the demand unit of each zone (empty: by location)", "CANDIDATES",
              advanced=True)
        add(QgsProcessingParameterFeatureSource("REGIONS", "…or a region layer (polygons)",
                                                [QgsProcessing.TypeVectorPolygon], optional=True))
        field("REGIONS_NAME", "Region name field", "REGIONS")
        programmes = [p["id"] for p in self.catalogue.get("programmes", []) if p.get("locate")] or [NO_ENGINE]
        param = QgsProcessingParameterEnum("PROGRAMME", "Programme (models/)", options=programmes,
                                           defaultValue="materialenbank" if "materialenbank" in programmes
                                           else programmes[0])
        param.setUsesStaticStrings(True)
        add(param)
        enum("SIZE_VARIANT", "Size variant", "final")
        enum("SIZE_RULE", "Size rule", "programme")
        enum("ASSIGNMENT", "Assignment", "programme", advanced=True)
        add(QgsProcessingParameterBoolean("CAPACITY", "Enforce capacity (t/yr of each facility)", defaultValue=True))
        add(QgsProcessingParameterNumber("LAND_COST", "Land cost in the objective (EUR per m² per year)",
                                         QgsProcessingParameterNumber.Double, defaultValue=0.0, minValue=0))
        enum("ACCESS_RULES", "Multimodal access rules", "strict", advanced=True)
        add(QgsProcessingParameterNumber("TIME_LIMIT", "Time limit (s)", QgsProcessingParameterNumber.Double,
                                         defaultValue=300.0, minValue=0))
        add(QgsProcessingParameterBoolean("REPAIR", "Repair invalid polygons (make_valid) instead of refusing them",
                                          defaultValue=False), advanced=True)
        self.add_set_parameter()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Result folder"))
        self.add_result_outputs()
        self.addOutput(QgsProcessingOutputFile("MANIFEST", "Generated instance (repeat with siting solve)"))

    def layer_argument(self, parameters, key, context, feedback, rename):
        """The layer as FILE::LAYER for the engine: its own file when OGR can read it as it is, else (memory
        layers, selections, other providers) a temporary GeoPackage; the temporary path is renamed in messages."""
        path, layer_name = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, key, context, GIS_FORMATS, "gpkg", feedback)
        source = self.parameterAsSource(parameters, key, context)
        if path.startswith(QgsProcessingUtils.tempFolder()) and source is not None:
            rename[path] = f"layer '{source.sourceName()}'"
        return f"{path}::{layer_name}" if layer_name else path

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        rename = {}
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        programme = self.parameterAsEnumString(parameters, "PROGRAMME", context)
        if not programme or programme == NO_ENGINE:
            raise QgsProcessingException("choose a programme (the list comes from the engine: set its path)")
        args = ["locate", "--demand", self.layer_argument(parameters, "DEMAND", context, feedback, rename),
                "--candidates", self.layer_argument(parameters, "CANDIDATES", context, feedback, rename),
                "--programme", programme, "--out", folder, "--progress", "jsonl", "--quiet"]
        fields = {"WEIGHT": "--weight", "DEMAND_ID": "--demand-id", "DEMAND_NAME": "--demand-name",
                  "REGION_FIELD": "--region-field", "DEMAND_CENTRUMSTAD": "--demand-centrumstad",
                  "DEMAND_AREA": "--demand-area", "DEMAND_UITRUSTINGSGRAAD": "--demand-uitrustingsgraad",
                  "FREE_AREA": "--free-area", "CANDIDATE_ID": "--candidate-id", "CANDIDATE_NAME": "--candidate-name",
                  "ZONE_TYPE": "--zone-type", "TOTAL_AREA": "--total-area", "CANDIDATE_DEMAND": "--candidate-demand",
                  "REGIONS_NAME": "--regions-name"}
        for key, option in fields.items():
            chosen = self.parameterAsFields(parameters, key, context)
            if chosen:
                args += [option, chosen[0]]
        if parameters.get("REGIONS") not in (None, ""):
            args += ["--regions", self.layer_argument(parameters, "REGIONS", context, feedback, rename)]
        options = {"WEIGHT_UNIT": "--weight-unit", "FREE_AREA_UNIT": "--free-area-unit",
                   "SIZE_VARIANT": "--size-variant", "SIZE_RULE": "--size-rule", "ASSIGNMENT": "--assignment",
                   "ACCESS_RULES": "--access-rules"}
        for key, option in options.items():
            args += [option, self.parameterAsEnumString(parameters, key, context)]
        args.append("--capacity" if self.parameterAsBoolean(parameters, "CAPACITY", context) else "--no-capacity")
        args += ["--land-cost", repr(self.parameterAsDouble(parameters, "LAND_COST", context)),
                 "--time-limit", repr(self.parameterAsDouble(parameters, "TIME_LIMIT", context))]
        if self.parameterAsBoolean(parameters, "REPAIR", context):
            args.append("--repair-geometry")
        args += self.set_arguments(parameters, context)
        self.run_engine(args, feedback, rename)
        outputs = self.result_outputs(folder, context, feedback, f"{programme} from layers")
        manifests = [f for f in os.listdir(os.path.join(folder, "instance")) if f.endswith(".toml")]
        if manifests:
            outputs["MANIFEST"] = os.path.join(folder, "instance", manifests[0])
            feedback.pushInfo(f"instance written: {outputs['MANIFEST']} — repeat from the command line with "
                              f"siting solve {outputs['MANIFEST']} --out ANOTHER_FOLDER")
        return outputs


# -----------------------------------------------------------------------------------------------------------------
# Transport vs land take
# -----------------------------------------------------------------------------------------------------------------
def _typed_columns(rows, names):
    """QGIS field types for CSV columns: integer, double or text, whichever every value fits."""
    kinds = {}
    for name in names:
        values = [r[name] for r in rows if r.get(name, "") != ""]
        kind = QVariant.Int
        for v in values:
            try:
                int(v)
                continue
            except ValueError:
                pass
            try:
                float(v)
                kind = QVariant.Double if kind in (QVariant.Int, QVariant.Double) else kind
            except ValueError:
                kind = QVariant.String
                break
        kinds[name] = kind
    return kinds


def _convert(value, kind):
    if value in ("", None):
        return None
    return int(value) if kind == QVariant.Int else float(value) if kind == QVariant.Double else str(value)


def _html_page(title, body):
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
            f"</style></head><body><h2>{html.escape(title)}</h2>{body}</body></html>")


def _html_table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class TradeOff(SitingAlgorithm):
    """``siting pareto``: the transport vs land-take front."""

    def name(self):
        return "pareto"

    def displayName(self):  # noqa: N802
        return "Transport vs land-take trade-off"

    def shortHelpString(self):  # noqa: N802
        return _help("""
Traces how transport cost rises as less land may be taken (ε-constraint): the two end points (least transport;
least land take) and points in between, each a full solve verified independently. Gives a table (one row per
point: land take in ha, transport, facilities) and a chart (HTML with the PNG, which is also written next to it).

Works on a named instance or a manifest file (e.g. FOLDER/instance/NAME.toml of a 'Locate facilities from layers'
run). Each point is a full solve: with many points or a fine instance this takes a while; Cancel stops it.

Command line: siting pareto NAME --points N --out FOLDER
""")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_instance_parameters()
        self.addParameter(QgsProcessingParameterNumber("POINTS", "Points on the front (end points included)",
                                                       QgsProcessingParameterNumber.Integer, defaultValue=5,
                                                       minValue=2, maxValue=50))
        self.addParameter(QgsProcessingParameterNumber("TIME_LIMIT", "Time limit per solve (s; empty: the "
                                                       "instance's)", QgsProcessingParameterNumber.Double,
                                                       optional=True, minValue=0))
        self.add_set_parameter()
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Trade-off table", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination("CHART", "Trade-off chart", "HTML files (*.html)"))
        self.addOutput(QgsProcessingOutputFile("CHART_PNG", "Trade-off chart (PNG)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        instance = self.instance_argument(parameters, context)
        work = QgsProcessingUtils.generateTempFilename("siting-pareto")
        args = ["pareto", instance, "--points", str(self.parameterAsInt(parameters, "POINTS", context)),
                "--out", work]
        if parameters.get("TIME_LIMIT") not in (None, ""):
            args += ["--time-limit", repr(self.parameterAsDouble(parameters, "TIME_LIMIT", context))]
        args += self.set_arguments(parameters, context)
        self.run_engine(args, feedback)
        with open(os.path.join(work, "pareto.csv"), encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            names, rows = list(reader.fieldnames or []), list(reader)
        kinds = _typed_columns(rows, names)
        fields = QgsFields()
        for name in names:
            fields.append(QgsField(name, kinds[name]))
        sink, dest = self.parameterAsSink(parameters, "OUTPUT", context, fields, QgsWkbTypes.NoGeometry)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, "OUTPUT"))
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes([_convert(row[n], kinds[n]) for n in names])
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        chart = self.parameterAsFileOutput(parameters, "CHART", context)
        png = os.path.splitext(chart)[0] + ".png"
        shutil.copyfile(os.path.join(work, "pareto.png"), png)
        with open(png, "rb") as fh:
            image = base64.b64encode(fh.read()).decode("ascii")
        title = f"{os.path.splitext(os.path.basename(instance))[0]}: transport vs land take"
        body = (f"<img alt='trade-off chart' src='data:image/png;base64,{image}'>"
                + _html_table(names, [[row[n] for n in names] for row in rows]))
        with open(chart, "w", encoding="utf-8") as fh:
            fh.write(_html_page(title, body))
        return {"OUTPUT": dest, "CHART": chart, "CHART_PNG": png}


# -----------------------------------------------------------------------------------------------------------------
# Compare two results
# -----------------------------------------------------------------------------------------------------------------
class CompareResults(SitingAlgorithm):
    """``siting compare A B``: a table of what changed."""

    def name(self):
        return "compare"

    def displayName(self):  # noqa: N802
        return "Compare two results"

    def shortHelpString(self):  # noqa: N802
        return _help("""
What changed from result A to result B (two result folders of circular-siting): status and gap, the objective
parts, t·km and land take; per programme the land take and the counts per size; per region the facility that
moved or changed size; the municipalities (demand units) assigned to another site.

One table, one row per change: section (figure, programme, region, reassigned), programme, item, A, B, change.
Also as an HTML report.

Command line: siting compare A B [--markdown FILE]
""")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("RESULT_A", "Result A (before): a result folder",
                                                     behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterFile("RESULT_B", "Result B (after): a result folder",
                                                     behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Changes", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Comparison report", "HTML files (*.html)",
                                                                optional=True, createByDefault=True))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        a = self.parameterAsFile(parameters, "RESULT_A", context)
        b = self.parameterAsFile(parameters, "RESULT_B", context)
        diff = self.run_engine(["compare", a, b, "--json", "--quiet"], feedback).json()
        rows = changes_table(diff)
        fields = QgsFields()
        for name in ("section", "programme", "item", "a", "b", "change"):
            fields.append(QgsField(name, QVariant.String))
        sink, dest = self.parameterAsSink(parameters, "OUTPUT", context, fields, QgsWkbTypes.NoGeometry)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, "OUTPUT"))
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes(list(row))
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        feedback.pushInfo("no facility moved or changed size and no demand unit was reassigned" if diff.get("same")
                          else f"{sum(r[0] != 'figure' for r in rows)} changes in facilities and assignments")
        outputs = {"OUTPUT": dest}
        report = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report:
            with open(report, "w", encoding="utf-8") as fh:
                fh.write(_html_page(f"A: {a} → B: {b}", _html_table(
                    ["section", "programme", "item", "A", "B", "change"], rows)))
            outputs["REPORT"] = report
        return outputs


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{v} {k}" for k, v in sorted(value.items()))
    return str(value)


def changes_table(diff):
    """The comparison JSON of ``siting compare --json`` as rows (section, programme, item, a, b, change)."""
    rows = [("figure", "", str(f), _text(a), _text(b), str(c)) for f, a, b, c in diff.get("headline", [])]
    for p in diff.get("programmes", []):
        rows.append(("programme", p["programme"], "land take (ha)", _text(p.get("land_take_ha_a")),
                     _text(p.get("land_take_ha_b")), ""))
        rows.append(("programme", p["programme"], "facilities per size", _text(p.get("per_size_a")),
                     _text(p.get("per_size_b")), "" if p.get("per_size_a") == p.get("per_size_b") else "changed"))
    for r in diff.get("regions", []):
        if r.get("change"):
            rows.append(("region", r["programme"], r["region"], f"{r['site_a']} {r['size_a']}".strip(),
                         f"{r['site_b']} {r['size_b']}".strip(), r["change"]))
    for r in diff.get("reassigned", []):
        rows.append(("reassigned", r["programme"], r["municipality"], r["from"], r["to"], "reassigned"))
    return rows


ALGORITHMS = (SolveInstance, LocateFromLayers, TradeOff, CompareResults)
