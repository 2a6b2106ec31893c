"""Output: result tables, GeoPackage/CSV/summary export, QGIS styles, maps, reports and comparisons."""
