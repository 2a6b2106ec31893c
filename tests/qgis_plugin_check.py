"""Drive the QGIS plugin in real QGIS (Debian's /usr/bin/python3 with python3-qgis), headless.

Run by ``tests/test_qgis_plugin.py`` as ``/usr/bin/python3 tests/qgis_plugin_check.py CONFIG.json``; it prints one
line ``QGIS-RESULT {json}`` per check and leaves with ``os._exit`` (``exitQgis`` may crash at interpreter exit,
see QGIS-NOTES). The pytest side judges what it printed and wrote. With ``img_dir`` in the configuration it also
renders the screenshots of docs/qgis.md (map renders of the result layers with their styles, the algorithm dialog).
"""

import hashlib
import json
import os
import sys
import threading
import time
import traceback

from qgis.core import (
    QgsApplication,
    QgsField,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, QVariant
from qgis.PyQt.QtGui import QColor


def emit(kind, payload):
    print("QGIS-RESULT " + json.dumps({"check": kind, **payload}, default=str), flush=True)


class Recorder(QgsProcessingFeedback):
    """Keeps everything the algorithm reports; optionally cancels a set time after a stage starts."""

    def __init__(self, cancel_on_stage=None, cancel_delay_s=0.0):
        super().__init__()
        self.lines, self.stages, self.progress = [], [], []
        self.cancel_on_stage, self.cancel_delay_s = cancel_on_stage, cancel_delay_s
        self.timer, self.cancelled_at, self.pid = None, None, None

    def _cancel(self):
        self.cancelled_at = time.monotonic()
        self.cancel()

    def setProgressText(self, text):  # noqa: N802
        self.stages.append(text)
        if self.cancel_on_stage and text.startswith(self.cancel_on_stage) and self.timer is None:
            self.timer = threading.Timer(self.cancel_delay_s, self._cancel)
            self.timer.start()
        super().setProgressText(text)

    def setProgress(self, value):  # noqa: N802
        self.progress.append(value)
        super().setProgress(value)

    def pushInfo(self, text):  # noqa: N802
        self.lines.append(("info", text))
        if text.startswith("engine (process ") and self.pid is None:
            self.pid = int(text.split("process ", 1)[1].split(")", 1)[0])

    def pushWarning(self, text):  # noqa: N802
        self.lines.append(("warning", text))

    def pushConsoleInfo(self, text):  # noqa: N802
        self.lines.append(("console", text))

    def reportError(self, text, fatalError=False):  # noqa: N802, N803
        self.lines.append(("error", text))


def run_alg(alg_id, params, feedback, context):
    """processing.run, returning (results, error message or None, seconds)."""
    import processing

    t = time.monotonic()
    try:
        return processing.run(alg_id, params, feedback=feedback, context=context), None, time.monotonic() - t
    except Exception as e:  # noqa: BLE001 - the message is what the user sees
        return None, f"{type(e).__name__}: {e}", time.monotonic() - t


def folder_state(folder):
    """sha256 of every file under ``folder`` (None when it does not exist) and the hidden siblings next to it."""
    files = None
    if os.path.isdir(folder):
        files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as fh:
                    files[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    parent, base = os.path.split(folder.rstrip("/"))
    siblings = sorted(n for n in os.listdir(parent) if n.startswith(f".{base}.")) if os.path.isdir(parent) else []
    return {"files": files, "hidden_siblings": siblings}


def render_map(layers, path, extent, width):
    """Render ``layers`` (first on top) with their styles in EPSG:31370, the image shaped like ``extent``."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(width, int(round(width * extent.height() / extent.width()))))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage().save(path)


def run_in_dialog(alg_id, params, img_dir, timeout_s=600):
    """Fill in the algorithm's dialog and press Run, as a planner does: the algorithm runs as a background task,
    the dialog streams its log and loads the results (``handleAlgorithmResults``). Grabs the dialog before and
    after the run when ``img_dir`` is given. Returns (succeeded, results, seconds, log text)."""
    from processing.core.ProcessingConfig import ProcessingConfig
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.PyQt.QtWidgets import QApplication, QTextEdit

    ProcessingConfig.setSettingValue(ProcessingConfig.KEEP_DIALOG_OPEN, True)  # keep the log for the screenshot
    dialog = AlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(alg_id))
    dialog.setParameters(params)
    dialog.resize(1150, 860)
    dialog.show()
    for _ in range(30):
        QApplication.processEvents()
    if img_dir:
        dialog.grab().save(os.path.join(img_dir, "qgis-locate-dialog.png"))
    finished = []
    dialog.algorithmFinished.connect(lambda ok, results: finished.append((ok, results)))
    t = time.monotonic()
    dialog.runAlgorithm()
    while not finished and time.monotonic() - t < timeout_s:
        QApplication.processEvents()
        time.sleep(0.02)
    seconds = time.monotonic() - t
    for _ in range(30):
        QApplication.processEvents()
    if img_dir:
        dialog.grab().save(os.path.join(img_dir, "qgis-locate-log.png"))
    boxes = [w for w in dialog.findChildren(QTextEdit) if w.objectName() == "txtLog"]
    log = boxes[0].toPlainText() if boxes else ""
    dialog.close()
    ok, results = finished[0] if finished else (False, {})
    return ok, dict(results), seconds, log


def main():
    cfg = json.load(open(sys.argv[1], encoding="utf-8"))
    app = QgsApplication([], True)  # a GUI application (offscreen) so the algorithm dialog can run and be grabbed
    app.setPrefixPath("/usr", True)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    sys.path.insert(0, cfg["plugin_parent"])
    from processing.core.Processing import Processing

    Processing.initialize()
    t = time.monotonic()
    import siting_processing  # the plugin as QGIS loads it: classFactory, then initProcessing

    plugin = siting_processing.classFactory(None)
    plugin.initProcessing()
    provider = QgsApplication.processingRegistry().providerById("siting")
    emit("provider", {"found": provider is not None, "long_name": provider.longName() if provider else None,
                      "algorithms": sorted(a.id() for a in provider.algorithms()) if provider else [],
                      "load_s": time.monotonic() - t})
    img_dir = cfg.get("img_dir")
    project = QgsProject.instance()

    # -- Locate facilities from layers, from its dialog as a planner runs it; the dialog loads the results
    if "locate" in cfg:
        inputs = {}
        for key, (path, name) in cfg["locate"]["layers"].items():
            layer = QgsVectorLayer(path, name, "ogr")
            project.addMapLayer(layer)
            inputs[key] = layer
        ok, results, seconds, log = run_in_dialog("siting:locate", dict(cfg["locate"]["params"], **inputs), img_dir)
        payload = {"ok": ok, "seconds": seconds, "log": log, "results": results}
        if ok:
            mine = [n.layer() for n in project.layerTreeRoot().findLayers()
                    if n.layer().name().startswith("materialenbank from layers")]
            layers = {}
            for layer in mine:
                renderer = layer.renderer()
                info = {"valid": layer.isValid(), "crs": layer.crs().authid(), "features": layer.featureCount(),
                        "renderer": renderer.type() if renderer else None,
                        "classes": len(renderer.legendSymbolItems()) if renderer else 0, "source": layer.source()}
                if layer.name().endswith("— facilities"):
                    info["sites"] = sorted([f["site_id"], f["size"]] for f in layer.getFeatures())
                layers[layer.name()] = info
            payload["layers"] = layers
            payload["tree_order"] = [layer.name() for layer in mine]
            if img_dir:
                demand = next(lyr for lyr in mine if lyr.name().endswith("— demand"))
                extent = QgsRectangle(demand.extent())
                extent.scale(1.04)
                payload["map_png"] = render_map(mine, os.path.join(img_dir, "qgis-locate-result.png"), extent, 1400)
        emit("locate", payload)

    # -- the table algorithms: trade-off and compare, through processing.run
    for case in cfg.get("tables", []):
        context = QgsProcessingContext()
        context.setProject(project)
        fb = Recorder()
        results, error, seconds = run_alg(case["alg"], case["params"], fb, context)
        rows = []
        if results and results.get("OUTPUT"):
            table = QgsVectorLayer(results["OUTPUT"], "table", "ogr")
            rows = [dict(zip(table.fields().names(), [None if v is None else str(v) for v in f.attributes()]))
                    for f in table.getFeatures()]
        emit("table", {"alg": case["alg"], "error": error, "seconds": seconds, "results": results, "rows": rows,
                       "log": fb.lines})

    # -- bad layer inputs: each must end in a QgsProcessingException with the engine's one-line message
    for case in cfg.get("bad", []):
        context = QgsProcessingContext()
        context.setProject(project)
        params = dict(case["params"])
        if case.get("memory_layer"):  # a layer that lives only in QGIS (exported to a temporary file)
            spec = case["memory_layer"]
            layer = QgsVectorLayer(f"{spec['geometry']}?crs={spec['crs']}", spec["name"], "memory")
            layer.dataProvider().addAttributes([QgsField(f, QVariant.Double) for f in spec["fields"]])
            layer.updateFields()
            project.addMapLayer(layer)
            params[spec["param"]] = layer
        fb = Recorder()
        results, error, seconds = run_alg(case["alg"], params, fb, context)
        emit("bad", {"name": case["name"], "error": error, "seconds": seconds, "log": fb.lines,
                     "out_state": folder_state(params["OUTPUT_FOLDER"]) if "OUTPUT_FOLDER" in params else None})

    # -- Cancel a running solve from the feedback object
    if "cancel" in cfg:
        case = cfg["cancel"]
        folder = case["params"]["OUTPUT_FOLDER"]
        before = folder_state(folder)
        context = QgsProcessingContext()
        context.setProject(project)
        fb = Recorder(cancel_on_stage=case["stage"], cancel_delay_s=case["delay_s"])
        results, error, seconds = run_alg(case["alg"], case["params"], fb, context)
        ended = time.monotonic()
        alive = fb.pid is not None and os.path.exists(f"/proc/{fb.pid}")
        emit("cancel", {"error": error, "results": results, "stages": fb.stages, "log": fb.lines,
                        "cancel_to_end_s": (ended - fb.cancelled_at) if fb.cancelled_at else None,
                        "pid": fb.pid, "alive_after": alive, "before": before, "after": folder_state(folder)})

    emit("done", {})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        emit("crash", {"traceback": traceback.format_exc()})
        sys.stdout.flush()
        os._exit(1)
