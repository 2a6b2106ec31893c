"""circular-siting Processing provider for QGIS: runs the ``siting`` engine as a subprocess (see docs/qgis.md)."""


def classFactory(iface):  # noqa: N802, ANN001, ANN201 - QGIS plugin entry point
    """Called by QGIS when the plugin is loaded."""
    from .plugin import SitingProcessingPlugin

    return SitingProcessingPlugin(iface)
