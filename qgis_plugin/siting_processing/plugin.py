"""The QGIS plugin: registers the Processing provider (also in ``qgis_process``, through ``initProcessing``)."""

from qgis.core import QgsApplication

from .provider import SitingProvider


class SitingProcessingPlugin:
    """Adds the circular-siting provider to the Processing registry and removes it on unload."""

    def __init__(self, iface=None):  # noqa: ANN001
        self.iface = iface
        self.provider = None

    def initProcessing(self):  # noqa: N802
        if self.provider is None:
            self.provider = SitingProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
