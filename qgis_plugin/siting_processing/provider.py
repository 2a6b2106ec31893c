"""The Processing provider: the engine setting, the engine's catalogue (instances, programmes) and the algorithms."""

import os
import threading

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import engine

ENGINE_SETTING = "SITING_EXECUTABLE"
PROVIDER_ID = "siting"
PROVIDER_NAME = "circular-siting"
ICON = os.path.join(os.path.dirname(__file__), "icon.svg")
_CATALOGUE = {}  # engine path -> {"instances": [...], "programmes": [...]}


def configured_engine():
    """The path set in Settings ▸ Options ▸ Processing ▸ Providers ▸ circular-siting (may be empty)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return ProcessingConfig.getSetting(ENGINE_SETTING) or ""
    except Exception:  # noqa: BLE001 - Processing not initialised (a bare script): auto-detection only
        return ""


def resolve_engine():
    """The engine executable and the places tried (see :func:`engine.find_engine`)."""
    return engine.find_engine(configured_engine())


def catalogue(executable):
    """Named instances and programmes the engine knows (``siting list --json``, ``siting programmes --json``),
    asked once per engine path, both at the same time."""
    if not executable:
        return {"instances": [], "programmes": []}
    if executable not in _CATALOGUE:
        found = {}

        def ask(key, args):
            try:
                found[key] = engine.run_engine(executable, args, _Silent()).json()
            except engine.EngineError as e:
                QgsMessageLog.logMessage(f"{PROVIDER_NAME}: `siting {' '.join(args)}` failed: {e.message}",
                                         PROVIDER_NAME, Qgis.Warning)
                found[key] = []

        threads = [threading.Thread(target=ask, args=("instances", ["list", "--json"])),
                   threading.Thread(target=ask, args=("programmes", ["programmes", "--json"]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _CATALOGUE[executable] = found
    return _CATALOGUE[executable]


class _Silent(engine.Feedback):
    def pushInfo(self, text):  # noqa: N802
        pass

    def pushConsoleInfo(self, text):  # noqa: N802
        pass


class SitingProvider(QgsProcessingProvider):
    """circular-siting in the Processing Toolbox: four algorithms that run the ``siting`` engine."""

    def load(self):
        from processing.core.ProcessingConfig import ProcessingConfig, Setting

        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(self.name(), ENGINE_SETTING,
                                            "Path to the siting executable (empty: find it automatically)", "",
                                            valuetype=Setting.FILE))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.removeSetting(ENGINE_SETTING)

    def loadAlgorithms(self):
        from .algorithms import ALGORITHMS

        executable, tried = resolve_engine()
        if executable is None:
            QgsMessageLog.logMessage(f"{PROVIDER_NAME}: the siting engine was not found (tried: {', '.join(tried)}); "
                                     "set its path in Settings ▸ Options ▸ Processing ▸ Providers ▸ circular-siting",
                                     PROVIDER_NAME, Qgis.Warning)
        cat = catalogue(executable)
        for cls in ALGORITHMS:
            self.addAlgorithm(cls(cat))

    def id(self):
        return PROVIDER_ID

    def name(self):
        return PROVIDER_NAME

    def longName(self):
        executable, _ = resolve_engine()
        return f"{PROVIDER_NAME} (engine: {executable or 'not found'})"

    def icon(self):
        return QIcon(ICON)

    def svgIconPath(self):
        return ICON
