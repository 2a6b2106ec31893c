"""The result opens in real QGIS: every layer valid, in EPSG:31370, with its features and its default style.

Debian's ``python3-qgis`` belongs to Debian's own ``/usr/bin/python3``, not to the Python running the tests, so
the check runs as a small script in a subprocess (headless: ``QT_QPA_PLATFORM=offscreen``). The test skips when
QGIS is not installed; CI installs it (``apt-get install -y --no-install-recommends qgis python3-qgis``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

QGIS_PYTHON = Path("/usr/bin/python3")
EXPECTED = {  # layer: (features, renderer type QGIS must report once the default style is applied)
    "facilities": (22, "categorizedSymbol"),
    "allocations": (285, "graduatedSymbol"),
    "demand": (285, "graduatedSymbol"),
    "candidates": (801, "categorizedSymbol"),
    "zones": (732, "categorizedSymbol"),
    "networks": (None, "categorizedSymbol"),
}

CHECK_SCRIPT = r"""
import json, sys
from qgis.core import (Qgis, QgsApplication, QgsExpressionContextUtils, QgsRenderContext, QgsVectorLayer)

gpkg, names = sys.argv[1], sys.argv[2].split(",")
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
out = {"qgis": Qgis.QGIS_VERSION, "layers": {}}
for name in names:
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    info = {"valid": layer.isValid()}
    if layer.isValid():
        renderer = layer.renderer()
        n_styles, ids, style_names, descriptions, error = layer.listStylesInDatabase()
        info.update(
            crs=layer.crs().authid(),
            features=layer.featureCount(),
            renderer=renderer.type() if renderer else None,
            classes=len(renderer.legendSymbolItems()) if renderer else 0,
            styles_in_db=list(style_names),
            attr=getattr(renderer, "classAttribute", lambda: None)(),
        )
        # every feature must fall in a class of the style (no feature left undrawn by a bad expression/range)
        ctx = QgsRenderContext()
        ctx.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        r = renderer.clone()
        r.startRender(ctx, layer.fields())
        unmatched = 0
        for feature in layer.getFeatures():
            ctx.expressionContext().setFeature(feature)
            unmatched += r.symbolForFeature(feature, ctx) is None
        r.stopRender(ctx)
        info["unmatched"] = unmatched
    out["layers"][name] = info
print("QGIS-RESULT " + json.dumps(out), flush=True)  # before exitQgis, which may crash on exit
app.exitQgis()
"""


def _qgis_available() -> bool:
    if not QGIS_PYTHON.exists():
        return False
    proc = subprocess.run([str(QGIS_PYTHON), "-c", "import qgis.core"], capture_output=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    return proc.returncode == 0


needs_qgis = pytest.mark.skipif(not _qgis_available(),
                                reason="QGIS (Debian qgis + python3-qgis for /usr/bin/python3) is not installed")


@pytest.fixture(scope="module")
def solved(mb_folder: Path) -> Path:
    return mb_folder


def _open_in_qgis(gpkg: Path, names: list[str], tmp_path: Path) -> dict:
    script = tmp_path / "qgis_check.py"
    script.write_text(CHECK_SCRIPT, encoding="utf-8")
    # a clean environment: the test runner's Python paths must not leak into Debian's Python
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.run([str(QGIS_PYTHON), str(script), str(gpkg), ",".join(names)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("QGIS-RESULT ")), None)
    assert line is not None, f"QGIS check failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(line.removeprefix("QGIS-RESULT "))


def _check_every_layer(gpkg: Path, names: list[str], report: dict) -> None:
    """Every layer valid in QGIS, in EPSG:31370, all its features, its default style applied to each of them."""
    import pyogrio

    for name in names:
        info = report["layers"][name]
        assert info["valid"], f"{name} is not a valid layer in QGIS {report['qgis']}"
        assert info["crs"] == "EPSG:31370", name
        n_rows = len(pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False))
        assert info["features"] == n_rows > 0, name
        assert info["styles_in_db"], f"{name}: no style in layer_styles"
        assert info["unmatched"] == 0, f"{name}: {info['unmatched']} features in no class of the default style"


@pytest.mark.slow
@needs_qgis
def test_result_opens_in_qgis_with_default_styles(solved: Path, tmp_path: Path) -> None:
    import pyogrio

    gpkg = solved / "result.gpkg"
    names = [str(n) for n, geom in pyogrio.list_layers(gpkg) if geom is not None]
    assert set(EXPECTED) <= set(names)
    report = _open_in_qgis(gpkg, names, tmp_path)
    _check_every_layer(gpkg, names, report)
    for name, (features, renderer) in EXPECTED.items():
        info = report["layers"][name]
        if features is not None:
            assert info["features"] == features, name
        # the stored default style was applied: not QGIS's own single-symbol default
        assert info["renderer"] == renderer, f"{name}: renderer {info['renderer']} (style not applied?)"
        assert info["classes"] >= 2, name


@pytest.mark.slow
@needs_qgis
def test_chain_result_opens_in_qgis_styled(chain_result, tmp_path: Path) -> None:  # noqa: ANN001
    """A plastics-chain result: facilities by echelon and existing/new, flows by tonnes, municipalities by size."""
    import pyogrio

    gpkg = chain_result.folder / "result.gpkg"
    names = [str(n) for n, geom in pyogrio.list_layers(gpkg) if geom is not None]
    assert set(names) == {"facilities", "flows", "demand", "networks"}
    report = _open_in_qgis(gpkg, names, tmp_path)
    _check_every_layer(gpkg, names, report)
    renderers = {"facilities": "categorizedSymbol", "flows": "graduatedSymbol", "demand": "graduatedSymbol",
                 "networks": "categorizedSymbol"}
    for name, renderer in renderers.items():
        assert report["layers"][name]["renderer"] == renderer, name
        assert report["layers"][name]["classes"] >= 2, name
    assert report["layers"]["facilities"]["features"] == len(chain_result.facilities)


@needs_qgis
def test_sidecar_qml_files_load_in_qgis(solved: Path, tmp_path: Path) -> None:
    """The .qml sidecars next to the GeoPackage are well-formed QGIS styles (same renderer as the embedded one)."""
    for name in EXPECTED:
        qml = solved / f"result.{name}.qml"
        assert qml.exists(), qml
        text = qml.read_text(encoding="utf-8")
        assert "<renderer-v2" in text and EXPECTED[name][1] in text
