"""Geography: distances (Lambert 72, km), zones, transport networks, costs on them, access, type environments.

One module per task: :mod:`~optimizer.geo.network_tables` (the node/link tables of the real networks: schema,
loading, checks, graphs), :mod:`~optimizer.geo.network_build` (building tables from lines: the shipped networks' build
helpers and a planner's own line layer), :mod:`~optimizer.geo.access_rules` (parameters and siting rules),
:mod:`~optimizer.geo.road_access` (snapping points to the road), :mod:`~optimizer.geo.zones` (the facility point
inside a zone, "in a seaport" from geometry), :mod:`~optimizer.geo.network_costs` (pair costs on the layered
road/water/rail graph and their modal split), :mod:`~optimizer.geo.access` (access attributes, knooppuntwaarde),
:mod:`~optimizer.geo.osm` (OSM street graphs as network tables), :mod:`~optimizer.geo.cache` (the disk cache) and
:mod:`~optimizer.geo.typology` (type environments).
"""
