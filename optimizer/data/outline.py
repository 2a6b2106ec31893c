"""The outline of Flanders (``instances/flanders/flanders_outline.csv``): a backdrop for maps without a boundary layer.

Built from open data by ``instances/flanders/build_outline.py`` (simplified to 250 m, EPSG:31370); not a layer to
measure with.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.settings import PROJECT_ROOT

OUTLINE_CSV = PROJECT_ROOT / "instances" / "flanders" / "flanders_outline.csv"


def flanders_outline(path: Path = OUTLINE_CSV):  # noqa: ANN201 - a shapely geometry
    """The Flemish Region as one shapely (Multi)Polygon in EPSG:31370, or None when the table is absent."""
    import pandas as pd
    import shapely

    if not Path(path).exists():
        return None
    table = pd.read_csv(path)
    return shapely.union_all(shapely.from_wkt(table["wkt"].to_numpy()))
