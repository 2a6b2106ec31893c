"""Geography: distances (Lambert 72, km), transport networks and access, type environments.

One module per task: :mod:`~optimizer.geo.network_tables` (loading), :mod:`~optimizer.geo.access_rules`
(parameters and siting rules), :mod:`~optimizer.geo.access` (access attributes, knooppuntwaarde),
:mod:`~optimizer.geo.network_distance` (graphs, network distances, mode costs), :mod:`~optimizer.geo.osm` (OSM road
graphs) and :mod:`~optimizer.geo.cache` (the matrix cache).
"""
