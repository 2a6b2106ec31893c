"""Street (OpenStreetMap) against regional-network road distances on the same pairs: the Antwerp instance.

For every neighbourhood × candidate zone of ``instances/antwerp-kringloop.toml`` (44 × 23 pairs, facility points as
the solver places them) the road km of the cheapest route is computed three ways with the same access legs and
parameters (``optimizer.geo.network_costs.pair_costs``):

* ``osm``: on the streets of the Antwerp extract (``instances/osm_odbl/antwerp_streets.gpkg``), no direct trip;
* ``regional``: on the ETISplus main roads (the shipped road layer), no direct trip;
* ``regional+local``: the shipped rule: the regional network or, up to ``local_trip_max_km``, the direct local trip
  (straight × ``access_circuity``).

It prints the ratio of each to the OSM street distance (median, quartiles, p10-p90) and to the straight line, as a
Markdown table for ``docs/geography.md``. Run from the project root::

    python benchmarks/geography/compare_osm.py
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from optimizer.data.instance import load_instance  # noqa: E402
from optimizer.geo.network_costs import pair_costs  # noqa: E402
from optimizer.geo.network_tables import load_network_tables  # noqa: E402
from optimizer.model.geography import instance_geography, site_geography  # noqa: E402


def main() -> int:
    inst = load_instance("antwerp-kringloop")
    geo = instance_geography(inst)  # the instance's tables: OSM streets in place of the ETISplus roads
    sites = site_geography(inst, geo)
    o = inst.demand[["x", "y"]].to_numpy(float)
    d = sites[["x", "y"]].to_numpy(float)
    p = dataclasses.replace(geo.params, local_trip_max_km=0.0)
    regional_tables = load_network_tables()
    km = {
        "osm": pair_costs(o, d, geo.tables, params=p, direct=False).km_by_mode()[..., 0],
        "regional": pair_costs(o, d, regional_tables, params=p, direct=False).km_by_mode()[..., 0],
        "regional+local": pair_costs(o, d, regional_tables,
                                     params=dataclasses.replace(p, local_trip_max_km=15.0)).km_by_mode()[..., 0],
    }
    straight = np.hypot(o[:, None, 0] - d[None, :, 0], o[:, None, 1] - d[None, :, 1]) / 1000.0
    print(f"{len(o)} neighbourhoods x {len(d)} zones = {straight.size} pairs; straight distance median "
          f"{np.median(straight):.2f} km (p10-p90 {np.percentile(straight, 10):.2f}-{np.percentile(straight, 90):.2f})")
    print()
    print("| distance | median km | ratio to OSM streets: median | p25-p75 | p10-p90 | ratio to straight: median |")
    print("|---|---|---|---|---|---|")
    for name, k in km.items():
        r = k / km["osm"]
        s = k / np.maximum(straight, 1e-9)
        q = np.percentile(r, [10, 25, 50, 75, 90])
        print(f"| {name} | {np.median(k):.2f} | {q[2]:.3f} | {q[1]:.3f}-{q[3]:.3f} | {q[0]:.3f}-{q[4]:.3f} | "
              f"{np.median(s[straight > 0.5]):.3f} |")
    order = np.argsort(km["osm"], axis=1)[:, 0]
    same = np.mean(np.argsort(km["regional+local"], axis=1)[:, 0] == order)
    print()
    print(f"nearest zone by road the same on the regional network (+ local trip) as on the streets for "
          f"{100 * same:.0f} % of the neighbourhoods")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
