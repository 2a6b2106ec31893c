"""Build the schematic strategic transport networks of Flanders (road, water, rail) as compact fact tables.

No motorway, waterway or rail-freight geometry is available to the project. This script holds the *route
definitions* -- public facts about which towns, interchanges and ports each route passes, in order, with
per-stretch attributes (road class, CEMT class, freight flag) -- and places every stop at the representative
point of a place from the Flemish open data in ``../shared`` (Lambert 72, EPSG:31370). It writes:

``nodes.csv``   node_id, mode, name, kind, x, y, nis, region, seaport, locode, note
``links.csv``   link_id, mode, route, from_node, to_node, length_km, road_class, cemt_class, maritime, freight,
                line, schematic, note
``routes.csv``  route_id, mode, name, n_links, length_km, attributes, note

The third-party input files are read, never copied: only the derived node coordinates and the route facts
below end up in the tables. Accuracy is schematic (km-level): nodes sit at town points, links are straight
lines between consecutive stops; see ``README.md``.

Run from the project root::

    python instances/networks/build_networks.py            # reads ../shared/data/flanders
    python instances/networks/build_networks.py --shared /path/to/shared/data/flanders
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import Transformer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # instances/: the shared build helpers

from build_common import flanders_arguments  # noqa: E402

CRS = "EPSG:31370"

# Foreign (and Walloon) places that routes pass when they leave Flanders: approximate town-centre
# coordinates (WGS84 lon, lat) from general geographic knowledge; region code in the last field.
FOREIGN: dict[str, tuple[float, float, str]] = {
    "Lille (FR)": (3.063, 50.637, "FR"),
    "Dunkerque (FR)": (2.377, 51.034, "FR"),
    "Armentières (FR)": (2.883, 50.688, "FR"),
    "Tournai (WAL)": (3.389, 50.606, "WAL"),
    "Moeskroen (WAL)": (3.216, 50.744, "WAL"),
    "Enghien (WAL)": (4.040, 50.692, "WAL"),
    "Ath (WAL)": (3.778, 50.630, "WAL"),
    "Mons (WAL)": (3.952, 50.454, "WAL"),
    "Tubize (WAL)": (4.205, 50.691, "WAL"),
    "Nivelles (WAL)": (4.329, 50.598, "WAL"),
    "Charleroi (WAL)": (4.444, 50.411, "WAL"),
    "Waterloo (WAL)": (4.399, 50.715, "WAL"),
    "Wavre (WAL)": (4.607, 50.717, "WAL"),
    "Namur (WAL)": (4.867, 50.465, "WAL"),
    "Hannut (WAL)": (5.078, 50.671, "WAL"),
    "Waremme (WAL)": (5.255, 50.697, "WAL"),
    "Oreye (WAL)": (5.354, 50.726, "WAL"),
    "Loncin (WAL)": (5.497, 50.665, "WAL"),
    "Liège (WAL)": (5.571, 50.633, "WAL"),
    "Visé (WAL)": (5.695, 50.737, "WAL"),
    "Montzen (WAL)": (5.958, 50.708, "WAL"),
    "Aachen (DE)": (6.084, 50.776, "DE"),
    "Maastricht (NL)": (5.691, 50.851, "NL"),
    "Geleen (NL)": (5.828, 50.967, "NL"),
    "Weert (NL)": (5.707, 51.251, "NL"),
    "Eindhoven (NL)": (5.478, 51.441, "NL"),
    "Breda (NL)": (4.776, 51.589, "NL"),
    "Bergen op Zoom (NL)": (4.292, 51.495, "NL"),
    "Roosendaal (NL)": (4.465, 51.531, "NL"),
    "Bath (NL)": (4.213, 51.397, "NL"),
    "Terneuzen (NL)": (3.828, 51.336, "NL"),
    "Sas van Gent (NL)": (3.798, 51.227, "NL"),
    "Vlissingen (NL)": (3.573, 51.443, "NL"),
}

# The four seaports (digest §6, L12424-12430) and the water nodes that lie in each port area.
SEAPORT_NODES: dict[str, str] = {
    "port:BEANR": "Antwerpen",
    "Berendrecht-Zandvliet-Lillo": "Antwerpen",
    "Kallo": "Antwerpen",
    "Doel": "Antwerpen",
    "port:BEGNE": "Gent",
    "port:BELGB": "Gent",
    "Desteldonk": "Gent",
    "Oostakker": "Gent",
    "port:BETDK": "Gent",
    "Ertvelde": "Gent",
    "port:BEZEL": "Gent",
    "port:BEBGS": "Brugge-Zeebrugge",
    "Dudzele": "Brugge-Zeebrugge",
    "Lissewege": "Brugge-Zeebrugge",
    "port:BEZEE": "Brugge-Zeebrugge",
    "port:BEOST": "Oostende",
}

# Ports of the Eurostat list whose town point lies off the waterway: joined to the nearest stop of the named
# route by a short spur (same CEMT class as the route there).
PORT_SPURS: dict[str, tuple[str, str]] = {
    "port:BETES": ("albertkanaal", "port:BEKWA"),
    "port:BEZET": ("zeekanaal", "port:BEGRB"),
    "port:BETDK": ("kanaal-gent-terneuzen", "Ertvelde"),
}


@dataclass
class Route:
    """One route: ordered stops and per-stretch attributes (``breaks``: attributes changing at a stop)."""

    route_id: str
    mode: str
    name: str
    stops: list[str]
    attrs: dict
    breaks: dict[str, dict] = field(default_factory=dict)
    note: str = ""


def road(route_id, name, stops, road_class="motorway", breaks=None, note=""):
    return Route(route_id, "road", name, stops, {"road_class": road_class}, breaks or {}, note)


def water(route_id, name, stops, cemt, breaks=None, maritime=False, note=""):
    return Route(route_id, "water", name, stops, {"cemt_class": cemt, "maritime": int(maritime)}, breaks or {}, note)


# --------------------------------------------------------------------------------------------------------------
# Motorways and expressways (AWV network, schematic). Stops are interchanges/exits placed at the town point of
# the (former) municipality where they lie; Brussels and Walloon/foreign continuations keep the graph connected.
# --------------------------------------------------------------------------------------------------------------
ROAD_ROUTES: list[Route] = [
    road("E40-W", "E40/A10 Brussel - Gent - Brugge - Oostende", [
        "Sint-Agatha-Berchem", "Groot-Bijgaarden", "Ternat", "Essene", "Erembodegem", "Erpe", "Wetteren",
        "Melle", "Zwijnaarde", "Sint-Denijs-Westrem", "Sint-Martens-Latem", "Landegem", "Aalter", "Beernem",
        "Oostkamp", "Sint-Michiels", "Loppem", "Jabbeke", "Oudenburg", "Oostende"]),
    road("E40-A18", "E40/A18 Jabbeke - Veurne - Duinkerke", [
        "Jabbeke", "Leffinge", "Sint-Joris (Nieuwpoort)", "Veurne", "Adinkerke", "Dunkerque (FR)"]),
    road("E40-E", "E40/A3 Brussel - Leuven - Luik", [
        "Evere", "Sint-Stevens-Woluwe", "Nossegem", "Kortenberg", "Bertem", "Heverlee", "Bierbeek",
        "Boutersem", "Kumtich", "Hoegaarden", "Hannut (WAL)", "Waremme (WAL)", "Loncin (WAL)", "Liège (WAL)"]),
    road("E17", "E17/A14 Antwerpen - Gent - Kortrijk - Rijsel", [
        "Zwijndrecht", "Beveren (Beveren-Kruibeke-Zwijndrecht)", "Haasdonk", "Sint-Niklaas",
        "Lokeren", "Lochristi", "Destelbergen", "Gentbrugge", "Zwijnaarde", "De Pinte", "Nazareth",
        "Kruishoutem", "Waregem", "Deerlijk", "Zwevegem", "Bellegem", "Aalbeke", "Rekkem", "Lille (FR)"]),
    road("E19-N", "E19/A1 Brussel - Mechelen - Antwerpen - Breda", [
        "Brussel", "Machelen (Dg.)", "Vilvoorde", "Eppegem", "Mechelen", "Walem", "Kontich", "Wilrijk",
        "st:Antwerpen-Zuid"]),
    road("E19-NL", "E19/A1 Antwerpen - Breda", [
        "Merksem", "Brasschaat", "Sint-Job-in-'t-Goor", "Loenhout", "Meer", "Breda (NL)"]),
    road("E19-S", "E19/A7 Brussel (R0) - Halle - Bergen", [
        "Ruisbroek (Sint-Pieters-Leeuw)", "Huizingen", "Halle (Dg.)", "Tubize (WAL)", "Nivelles (WAL)",
        "Mons (WAL)"]),
    road("E429", "E429/A8 Halle - Edingen - Doornik", ["Halle (Dg.)", "Enghien (WAL)", "Tournai (WAL)"]),
    road("E313", "E313/A13 Antwerpen - Hasselt - Luik", [
        "Deurne (Antwerpen)", "Wommelgem", "Ranst", "Massenhoven", "Herentals", "Olen", "Geel", "Meerhout",
        "Kwaadmechelen", "Paal", "Lummen", "Kermt", "Wimmertingen", "Alken", "Widooie", "Lauw",
        "Oreye (WAL)", "Loncin (WAL)"]),
    road("E34-E", "E34/A21 Antwerpen (Ranst) - Turnhout - Eindhoven", [
        "Ranst", "Zoersel", "Oostmalle", "Beerse", "Vosselaar", "Turnhout", "Oud-Turnhout", "Retie",
        "Arendonk", "Eindhoven (NL)"]),
    road("N49-A11", "E34/N49 - A11 Antwerpen - Zelzate - Knokke - Zeebrugge", [
        "Zwijndrecht", "Melsele", "Vrasene", "Sint-Gillis-Waas", "Stekene", "Moerbeke (Lokeren)", "Wachtebeke",
        "Zelzate", "Assenede", "Kaprijke", "Eeklo", "Maldegem", "Moerkerke", "Westkapelle", "Dudzele"],
        road_class="expressway", breaks={"Westkapelle": {"road_class": "motorway"}},
        note="N49 is a 2x2 expressway (E34 between Antwerpen and Zelzate); A11 motorway Westkapelle - Dudzele"),
    road("E314", "E314/A2 Leuven - Genk - Aken", [
        "Heverlee", "Wilsele", "Holsbeek", "Aarschot", "Assent", "Diest", "Lummen",
        "Heusden (Heusden-Zolder)", "Houthalen", "Genk", "Opgrimbie", "Mechelen-aan-de-Maas", "Geleen (NL)"]),
    road("E411", "E411/A4 Brussel - Namen", ["Oudergem", "Overijse", "Wavre (WAL)", "Namur (WAL)"]),
    road("E403", "E403/A17 Brugge - Kortrijk - Doornik", [
        "Loppem", "Veldegem", "Torhout", "Lichtervelde", "Beveren (Roeselare)", "Rumbeke", "Lendelede", "Heule",
        "Bissegem", "Marke", "Aalbeke", "Moeskroen (WAL)", "Tournai (WAL)"]),
    road("A19", "A19 Ieper - Kortrijk", [
        "Ieper", "Zillebeke", "Beselare", "Geluwe", "Moorsele", "Heule"]),
    road("A12-S", "A12 Antwerpen - Boom - Brussel", [
        "st:Antwerpen-Zuid", "Wilrijk", "Aartselaar", "Boom", "Breendonk", "Londerzeel", "Meise",
        "Strombeek-Bever", "Brussel"],
        breaks={"Strombeek-Bever": {"road_class": "urban"}}),
    road("A12-N", "A12 Antwerpen - Bergen op Zoom", [
        "Merksem", "Ekeren", "Stabroek", "Bergen op Zoom (NL)"], road_class="expressway"),
    road("R0", "R0 Ring rond Brussel", [
        "Strombeek-Bever", "Vilvoorde", "Machelen (Dg.)", "Diegem", "Sint-Stevens-Woluwe", "Kraainem",
        "Wezembeek-Oppem", "Overijse", "Hoeilaart", "Waterloo (WAL)", "Sint-Genesius-Rode", "Beersel",
        "Ruisbroek (Sint-Pieters-Leeuw)", "Anderlecht", "Dilbeek", "Groot-Bijgaarden", "Zellik", "Wemmel",
        "Strombeek-Bever"]),
    road("BXL", "Brussels urban motorways (E40 - A12 - E411 - E19 through Brussels)", [
        "Sint-Agatha-Berchem", "Brussel", "Evere"], road_class="urban"),
    road("BXL-E411", "Brussels urban motorway to E411", ["Brussel", "Oudergem"], road_class="urban"),
    road("A201", "A201 Brussel - Brussels Airport", ["Evere", "Diegem", "Zaventem"]),
    road("R1", "R1 Ring van Antwerpen (with Kennedytunnel)", [
        "Zwijndrecht", "st:Antwerpen-Zuid", "Berchem (Antwerpen)", "Borgerhout", "Deurne (Antwerpen)",
        "Merksem"]),
    road("R2", "R2 Havenring Antwerpen (with Liefkenshoektunnel)", [
        "Zwijndrecht", "Kallo", "Berendrecht-Zandvliet-Lillo", "Ekeren", "Merksem"]),
    road("R4", "R4 Ring rond Gent (havenring)", [
        "Zelzate", "Ertvelde", "Evergem", "Wondelgem", "Mariakerke (Gent)", "Drongen", "Sint-Denijs-Westrem",
        "Zwijnaarde", "Merelbeke", "Destelbergen", "Oostakker", "Desteldonk", "Zelzate"], road_class="expressway"),
    road("R8", "R8 Ring rond Kortrijk", [
        "Heule", "Kuurne", "Zwevegem", "Kortrijk", "Marke", "Bissegem", "Heule"], road_class="expressway"),
    road("N31", "N31 Brugge - Zeebrugge", [
        "Sint-Michiels", "Sint-Andries", "Koolkerke", "Dudzele", "port:BEZEE"], road_class="expressway"),
    road("N16", "N16 Sint-Niklaas - Temse - Willebroek", [
        "Sint-Niklaas", "Temse", "Bornem", "Willebroek", "Breendonk"], road_class="expressway"),
    road("N74", "N74 Hasselt - Houthalen - Neerpelt - Eindhoven", [
        "Hasselt", "Zonhoven", "Houthalen", "Helchteren", "Hechtel", "Overpelt", "Eindhoven (NL)"],
        road_class="expressway"),
    road("R4-NL", "N62 Zelzate - Terneuzen (NL, connection)", ["Zelzate", "Terneuzen (NL)"], road_class="expressway"),
    road("A25-FR", "A25 Rijsel - Duinkerke (FR, connection)", ["Lille (FR)", "Dunkerque (FR)"]),
    road("E42-WAL", "E42/E19/E25 Doornik - Bergen - Charleroi - Namen - Luik (Wallonia, connection)", [
        "Tournai (WAL)", "Mons (WAL)", "Charleroi (WAL)", "Namur (WAL)", "Liège (WAL)"]),
    road("E25-WAL", "E25/A2 Luik - Maastricht (connection)", ["Liège (WAL)", "Visé (WAL)", "Maastricht (NL)",
                                                               "Geleen (NL)"]),
    road("A58-NL", "A58/A67/A2 Bergen op Zoom - Breda - Eindhoven - Geleen (NL, connection)", [
        "Bergen op Zoom (NL)", "Breda (NL)", "Eindhoven (NL)", "Weert (NL)", "Geleen (NL)"]),
]

# --------------------------------------------------------------------------------------------------------------
# Navigable waterways (De Vlaamse Waterweg / Vlaamse Hydrografische Atlas, schematic) with the CEMT class of
# each stretch. "port:LOCODE" stops are the 32 ports of the Eurostat list at their town-level coordinates.
# Classes are the commonly published classes; where uncertain the note says so (verify against the VHA).
# --------------------------------------------------------------------------------------------------------------
WATER_ROUTES: list[Route] = [
    water("westerschelde", "Westerschelde (NL, maritime access)", [
        "Vlissingen (NL)", "Terneuzen (NL)", "Bath (NL)"], "VIc", maritime=True),
    water("zeeschelde", "Zeeschelde (tidal Scheldt) Bath - Antwerpen - Temse - Dendermonde - Gent", [
        "Bath (NL)", "Doel", "Berendrecht-Zandvliet-Lillo", "Kallo", "port:BEANR", "port:BEBUD", "port:BEHBN",
        "port:BEKEK", "port:BEHEX", "port:BERPM", "port:BEWTH", "port:BETSE", "Weert (Bornem)", "Baasrode",
        "Dendermonde", "Schoonaarde", "Wichelen", "Wetteren", "Melle", "Merelbeke"],
        "VIc", maritime=True,
        breaks={"port:BEANR": {"cemt_class": "VIb", "maritime": 0}, "port:BERPM": {"cemt_class": "Va"},
                "Dendermonde": {"cemt_class": "IV"}},
        note="maritime up to Antwerpen; Boven-Zeeschelde upstream of Dendermonde class IV (approximate)"),
    water("waaslandhaven", "Antwerpen port, left bank docks (Waaslandhaven, Deurganckdok)", ["Kallo", "Doel"],
          "VIc", maritime=True),
    water("havendokken", "Antwerpen port, right bank docks", ["port:BEANR", "Berendrecht-Zandvliet-Lillo"],
          "VIc", maritime=True),
    water("schelde-rijn", "Schelde-Rijnverbinding Zandvliet - Bergen op Zoom (NL)", [
        "Berendrecht-Zandvliet-Lillo", "Bergen op Zoom (NL)"], "VIb"),
    water("albertkanaal", "Albertkanaal Antwerpen - Hasselt - Genk - Luik", [
        "port:BEANR", "Merksem", "Wijnegem", "Massenhoven", "Viersel", "Grobbendonk", "port:BEHER",
        "Olen", "Geel", "Meerhout", "port:BEKWA", "port:BELUM", "port:BEHSS", "port:BEGNK", "Eigenbilzen",
        "Gellik", "Veldwezelt", "Vroenhoven", "Kanne", "Visé (WAL)", "Liège (WAL)"],
        "Va", breaks={"Wijnegem": {"cemt_class": "VIb"}},
        note="Va in the narrow Antwerp section (two-barge convoys), VIb from Wijnegem to Liege; bridge "
             "heightening to 9.10 m largely done"),
    water("briegden-neerharen", "Kanaal Briegden - Neerharen", ["Gellik", "port:BELAN", "Neerharen"], "IV",
          note="class approximate"),
    water("zuid-willemsvaart", "Zuid-Willemsvaart Maastricht - Bocholt - Weert", [
        "Maastricht (NL)", "Neerharen", "Rekem", "Lanklaar", "Rotem", "Neeroeteren", "Bree", "Bocholt",
        "Weert (NL)"], "II", note="Belgian section approximately class II"),
    water("bocholt-herentals", "Kanaal Bocholt - Herentals", [
        "Bocholt", "Kaulille", "Lommel", "Mol", "Dessel", "Kasterlee", "port:BEHER"], "II"),
    water("dessel-kwaadmechelen", "Kanaal Dessel - Kwaadmechelen", ["Dessel", "Olmen", "port:BEKWA"], "IV",
          note="class approximate"),
    water("dessel-schoten", "Kanaal Dessel - Turnhout - Schoten", [
        "Dessel", "Retie", "Oud-Turnhout", "Turnhout", "Beerse", "Rijkevorsel", "Sint-Job-in-'t-Goor",
        "Schoten", "Wijnegem"], "II"),
    water("netekanaal", "Netekanaal en Beneden-Nete Viersel - Lier - Duffel - Rumst", [
        "Viersel", "Emblem", "Lier", "Duffel", "Rumst"], "IV"),
    water("rupel", "Rupel Rumst - Boom - Schelle (Scheldt)", [
        "Rumst", "Terhagen", "Boom", "Niel", "Schelle", "port:BERPM"], "Va"),
    water("dijle-leuven", "Beneden-Dijle en kanaal Leuven - Dijle", [
        "Rumst", "port:BEECH", "Muizen (Mechelen)", "Hever", "Wilsele", "Leuven"], "II"),
    water("zeekanaal", "Zeekanaal Brussel - Schelde", [
        "Brussel", "port:BEVIL", "port:BEGRB", "port:BEKPB", "port:BETIS", "port:BEWLB",
        "Ruisbroek (Puurs-Sint-Amands)", "port:BEPUU", "port:BEWTH"], "VIa", maritime=True,
        note="accessible to sea-going vessels and push convoys up to Brussels; class approximate"),
    water("charleroi-brussel", "Kanaal Charleroi - Brussel", [
        "Brussel", "Anderlecht", "port:BERUI", "Lot", "Halle (Dg.)", "Lembeek", "Tubize (WAL)",
        "Charleroi (WAL)"], "IV"),
    water("dender", "Dender Dendermonde - Aalst - Geraardsbergen - Aat", [
        "Dendermonde", "Denderbelle", "Aalst", "Denderleeuw", "Ninove", "Geraardsbergen", "Ath (WAL)"], "IV",
        breaks={"Aalst": {"cemt_class": "II"}}, note="classes approximate"),
    water("kanaal-gent-terneuzen", "Kanaal Gent - Terneuzen", [
        "port:BEGNE", "port:BELGB", "Oostakker", "Desteldonk", "Ertvelde", "port:BEZEL", "Sas van Gent (NL)",
        "Terneuzen (NL)"], "VIc", maritime=True),
    water("ringvaart", "Ringvaart rond Gent", [
        "port:BELGB", "Mariakerke (Gent)", "Drongen", "Sint-Denijs-Westrem", "Zwijnaarde",
        "Merelbeke", "Gentbrugge", "Destelbergen", "Oostakker"], "Va"),
    water("bovenschelde", "Bovenschelde Gent - Oudenaarde - Doornik", [
        "Zwijnaarde", "Gavere", "Zingem", "Oudenaarde", "Kerkhove", "Bossuit", "Spiere", "Tournai (WAL)"], "Va"),
    water("bossuit-kortrijk", "Kanaal Bossuit - Kortrijk", ["Bossuit", "Moen", "Zwevegem", "Kortrijk"], "Va",
          breaks={"Zwevegem": {"cemt_class": "II"}},
          note="Va from the Scheldt to about Zwevegem (Luipaardbrug); the Kortrijk section is smaller until the "
               "planned upgrade to Va"),
    water("leie", "Leie Gent - Deinze - Kortrijk - Menen - Wervik", [
        "Sint-Denijs-Westrem", "Afsnee", "Sint-Martens-Leerne", "Deinze", "Machelen (Zulte)", "Olsene", "Ooigem",
        "Sint-Eloois-Vijve", "Harelbeke", "Kortrijk", "Wevelgem", "Menen", "Wervik", "Armentières (FR)"], "Va",
        note="Seine-Schelde West upgrade to Vb under way; class approximate"),
    water("roeselare-leie", "Kanaal Roeselare - Leie", ["Ooigem", "Ingelmunster", "Izegem", "Roeselare"], "IV"),
    water("gent-brugge", "Kanaal Gent - Brugge", [
        "Mariakerke (Gent)", "Vinderhoute", "Hansbeke", "Bellem", "Aalter", "Beernem", "Oostkamp",
        "port:BEBGS"], "IV"),
    water("brugge-oostende", "Kanaal Brugge - Oostende", ["port:BEBGS", "Oudenburg", "port:BEOST"], "IV"),
    water("boudewijnkanaal", "Boudewijnkanaal Brugge - Zeebrugge", [
        "port:BEBGS", "Dudzele", "Lissewege", "port:BEZEE"], "VIc", maritime=True),
    water("plassendale-nieuwpoort", "Kanaal Plassendale - Nieuwpoort", ["Oudenburg", "port:BENIE"], "I"),
    water("nieuwpoort-duinkerke", "Kanaal Nieuwpoort - Duinkerke", [
        "port:BENIE", "Veurne", "Adinkerke", "Dunkerque (FR)"], "I"),
    water("ijzer", "IJzer Nieuwpoort - Diksmuide - Roesbrugge", [
        "port:BENIE", "Diksmuide", "Lo", "Roesbrugge-Haringe"], "I"),
    water("ieper-ijzer", "Kanaal Ieper - IJzer", ["Ieper", "Boezinge", "Lo"], "I"),
]

# --------------------------------------------------------------------------------------------------------------
# Rail freight. Topology = iRail passenger links (CC0, 2015); freight corridors are listed as waypoints
# ("st:" iRail station, "term:" freight terminal, or a foreign place). Between two stations the passenger path
# is flagged as freight when it exists and is not much longer than the straight line; freight-only lines
# (port lines, 27A-type bypasses, Montzen route east of Tongeren, Iron Rhine) become freight-only links.
# --------------------------------------------------------------------------------------------------------------
RAIL_TERMINALS: dict[str, tuple[str, str]] = {
    # key: (terminal name, location: "st:<iRail station>" or a place)
    "antwerpen-noord": ("Antwerpen-Noord (Main Hub, marshalling yard)", "st:Antwerpen-Noorderdokken"),
    "antwerpen-rechteroever": ("Antwerpen port right bank (Lillo/Zandvliet)", "Berendrecht-Zandvliet-Lillo"),
    "antwerpen-linkeroever": ("Antwerpen port left bank (Kallo, Waaslandhaven)", "Kallo"),
    "antwerpen-deurganck": ("Antwerpen port Deurganckdok (Doel)", "Doel"),
    "zeebrugge": ("Zeebrugge port (Zeebrugge-Vorming)", "st:Zeebrugge-Dorp"),
    "gent-zeehaven": ("Gent port right bank (Gent-Zeehaven)", "Desteldonk"),
    "gent-rieme": ("Gent port left bank (Rieme)", "Ertvelde"),
    "genk-goederen": ("Genk-Goederen (Genk-Zuid)", "Genk"),
    "muizen": ("Muizen freight yard", "st:Muizen"),
    "willebroek": ("Willebroek terminal", "st:Willebroek"),
    "mol": ("Mol freight terminal", "st:Mol"),
    "kortrijk": ("Kortrijk freight terminal", "st:Kortrijk"),
    "schaarbeek": ("Schaarbeek-Vorming (Brussels)", "st:Schaarbeek/Schaerbeek"),
}

RAIL_CORRIDORS: list[tuple[str, str, list[str]]] = [
    # (line label, name, waypoints)
    ("L25/27/27A", "Antwerpen-Noord - Mechelen - Schaarbeek (incl. freight bypass 27A via Muizen)", [
        "term:antwerpen-noord", "st:Antwerpen-Berchem", "st:Mechelen", "st:Vilvoorde", "term:schaarbeek"]),
    ("L53", "Mechelen - Muizen (27A/53)", ["st:Mechelen", "term:muizen"]),
    ("L10/11", "Antwerpen port right bank", ["term:antwerpen-noord", "term:antwerpen-rechteroever"]),
    ("L11 Liefkenshoek", "Liefkenshoek rail link and left-bank port", [
        "term:antwerpen-rechteroever", "term:antwerpen-linkeroever", "term:antwerpen-deurganck"]),
    ("L59", "Antwerpen - Sint-Niklaas - Lokeren - Gent", [
        "st:Antwerpen-Berchem", "st:Zwijndrecht", "st:Sint-Niklaas", "st:Lokeren", "st:Gent-Dampoort"]),
    ("L59 port", "Zwijndrecht - left-bank port", ["st:Zwijndrecht", "term:antwerpen-linkeroever"]),
    ("L12", "Antwerpen - Essen - Roosendaal (NL)", ["term:antwerpen-noord", "st:Essen", "st:Roosendaal"]),
    ("L15/16/35/34/24", "Montzenroute Antwerpen - Lier - Aarschot - Hasselt - Tongeren - Visé - Aken", [
        "st:Antwerpen-Berchem", "st:Lier", "st:Aarschot", "st:Diest", "st:Hasselt", "st:Tongeren", "st:Visé",
        "Montzen (WAL)", "Aachen (DE)"]),
    ("L15", "Lier - Herentals - Mol - Balen", ["st:Lier", "st:Herentals", "term:mol", "st:Balen"]),
    ("L19 IJzeren Rijn", "Mol - Neerpelt - Hamont - Weert (NL)", [
        "term:mol", "st:Lommel", "st:Neerpelt", "st:Hamont", "Weert (NL)"]),
    ("L21/21A", "Hasselt - Genk (Genk-Goederen)", ["st:Hasselt", "st:Genk", "term:genk-goederen"]),
    ("L36", "Schaarbeek - Leuven - Landen - Luik", [
        "term:schaarbeek", "st:Leuven", "st:Tienen", "st:Landen", "st:Liège-Guillemins"]),
    ("L53", "Schellebelle - Dendermonde - Mechelen - Leuven", [
        "st:Schellebelle", "st:Dendermonde", "st:Mechelen", "st:Leuven"]),
    ("L54", "Mechelen - Willebroek - Puurs - Sint-Niklaas", [
        "st:Mechelen", "term:willebroek", "st:Puurs", "st:Temse", "st:Sint-Niklaas"]),
    ("L50/50A", "Schaarbeek - Denderleeuw - Gent - Brugge", [
        "term:schaarbeek", "st:Denderleeuw", "st:Gent-Sint-Pieters", "st:Brugge"]),
    ("L51A/51B", "Brugge - Zeebrugge", ["st:Brugge", "term:zeebrugge"]),
    ("L55/204", "Gent - Gent-Zeehaven - Zelzate - Terneuzen (NL)", [
        "st:Gent-Dampoort", "term:gent-zeehaven", "Zelzate", "Terneuzen (NL)"]),
    ("L58/204", "Gent - Evergem - Rieme (left-bank port)", ["st:Gent-Sint-Pieters", "st:Evergem",
                                                            "term:gent-rieme"]),
    ("L75", "Gent - Kortrijk - Moeskroen - Rijsel", [
        "st:Gent-Sint-Pieters", "term:kortrijk", "st:Mouscron", "st:Lille Flandres"]),
    ("L26/96", "Schaarbeek - Halle - Bergen (Brussels freight bypass)", [
        "term:schaarbeek", "st:Halle", "st:Mons"]),
    ("L50A", "Gent - Gent-Dampoort link", ["st:Gent-Sint-Pieters", "st:Gent-Dampoort"]),
]

RAIL_BBOX_LONLAT = (2.3, 49.45, 6.3, 51.65)  # keep Belgium and the first stations across the borders
RAIL_PATH_MAX_RATIO = 1.35  # passenger path accepted as the freight route if ≤ this × straight line (+2 km)

_TO_L72 = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class PlaceIndex:
    """Resolve place names to Lambert 72 points (deelgemeente, municipality, port, station or foreign)."""

    def __init__(self, shared: Path):
        self.shared = shared
        dg = gpd.read_file(shared / "boundaries/gebiedsniveaus/deelgemeente2024.shp")
        if dg.crs is None or dg.crs.to_epsg() != 31370:
            dg = dg.to_crs(CRS)
        pts = dg.geometry.representative_point()
        self.dg = pd.DataFrame({"naam": dg["naam"].str.strip(), "x": pts.x.round(1), "y": pts.y.round(1)})
        self.dg["base"] = self.dg["naam"].str.replace(r"\s*\(.*$", "", regex=True).str.strip()
        mun = pd.read_csv(shared / "municipalities/flanders_municipalities_2025.csv")
        self.mun = mun.set_index("name_nl")[["x_l72", "y_l72"]]
        ports = pd.read_csv(shared / "transport/eurostat_ports_flanders_approx.csv")
        self.ports = ports.set_index("locode")
        st = pd.read_csv(shared / "transport/irail_stations_flanders.csv").drop_duplicates("name")
        self.stations = st.set_index("name")[["longitude", "latitude"]]
        gem = gpd.read_file(shared / "boundaries/gebiedsniveaus/gemeente.shp")
        self.gemeente = gem.to_crs(CRS) if gem.crs.to_epsg() != 31370 else gem
        self.used_sources: dict[str, str] = {}

    def resolve(self, name: str) -> tuple[float, float, str, str, str]:
        """Return (x, y, display name, region, locode) of a place name; raise KeyError if unknown/ambiguous."""
        if name in FOREIGN:
            lon, lat, region = FOREIGN[name]
            x, y = _TO_L72.transform(lon, lat)
            return round(x, 1), round(y, 1), name, region, ""
        if name.startswith("st:"):
            lon, lat = self.stations.loc[name[3:]]
            x, y = _TO_L72.transform(lon, lat)
            return round(x, 1), round(y, 1), f"{name[3:]} (station)", "", ""
        if name.startswith("port:"):
            row = self.ports.loc[name[5:]]
            return float(row.x_l72), float(row.y_l72), f"{row.port_name} (port)", "", name[5:]
        exact = self.dg[self.dg["naam"] == name]
        if len(exact) == 1:
            r = exact.iloc[0]
            return float(r.x), float(r.y), _display(r.naam), "", ""
        cand = self.dg[self.dg["base"] == name]
        if len(cand) > 1:
            cand = cand[cand["naam"].str.contains(r"\(Dg\.\)", regex=True)]
        if len(cand) == 1:
            r = cand.iloc[0]
            return float(r.x), float(r.y), _display(r.naam), "", ""
        if len(cand) > 1:
            msg = f"place {name!r} is ambiguous: {sorted(cand['naam'])}"
            raise KeyError(msg)
        if name in self.mun.index:
            r = self.mun.loc[name]
            return float(r.x_l72), float(r.y_l72), name, "", ""
        msg = f"place {name!r} not found in deelgemeenten, municipalities, ports or FOREIGN"
        raise KeyError(msg)


def _display(naam: str) -> str:
    return naam.replace(" (Dg.)", "").strip()


def _nis_of_points(gemeente: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=CRS)
    joined = gpd.sjoin(pts, gemeente[["geoitem", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    return joined["geoitem"].fillna("").astype(str).to_numpy()


def _region_of_nis(nis: str) -> str:
    if not nis:
        return ""
    return "BR" if nis.startswith("21") else "VL"


class Builder:
    def __init__(self, places: PlaceIndex):
        self.places = places
        self.nodes: dict[str, dict] = {}
        self.links: list[dict] = []
        self.routes: list[dict] = []
        self._node_routes: dict[str, set[str]] = {}

    # -- nodes ------------------------------------------------------------------------------------------------
    def place_node(self, mode: str, token: str, route_id: str) -> str:
        prefix = {"road": "R", "water": "W", "rail": "T"}[mode]
        x, y, display, region, locode = self.places.resolve(token)
        node_id = f"{prefix}:{locode}" if locode else f"{prefix}:{_slug(display)}"
        if node_id not in self.nodes:
            self.nodes[node_id] = {
                "node_id": node_id, "mode": mode, "name": display, "kind": "", "x": x, "y": y, "nis": "",
                "region": region, "seaport": SEAPORT_NODES.get(token, "") if mode == "water" else "",
                "locode": locode, "note": "",
                "_token": token,
            }
        elif mode == "water" and SEAPORT_NODES.get(token) and not self.nodes[node_id]["seaport"]:
            self.nodes[node_id]["seaport"] = SEAPORT_NODES[token]
        self._node_routes.setdefault(node_id, set()).add(route_id)
        return node_id

    def add_link(self, mode, route, a, b, **attrs) -> None:
        na, nb = self.nodes[a], self.nodes[b]
        length_km = float(np.hypot(na["x"] - nb["x"], na["y"] - nb["y"]) / 1000.0)
        link = {"mode": mode, "route": route, "from_node": a, "to_node": b, "length_km": round(length_km, 3),
                "road_class": "", "cemt_class": "", "maritime": "", "freight": "", "line": "", "schematic": 1,
                "note": ""}
        link.update(attrs)
        self.links.append(link)

    # -- road and water routes --------------------------------------------------------------------------------
    def add_route(self, route: Route) -> None:
        ids = [self.place_node(route.mode, s, route.route_id) for s in route.stops]
        attrs = dict(route.attrs)
        total = 0.0
        for i in range(len(ids) - 1):
            attrs.update(route.breaks.get(route.stops[i], {}))
            if ids[i] == ids[i + 1]:
                continue
            self.add_link(route.mode, route.route_id, ids[i], ids[i + 1], **attrs)
            total += self.links[-1]["length_km"]
        self.routes.append({"route_id": route.route_id, "mode": route.mode, "name": route.name,
                            "n_links": len(ids) - 1, "length_km": round(total, 1),
                            "attributes": json.dumps({**route.attrs, **({"breaks": route.breaks} if route.breaks
                                                                         else {})}, ensure_ascii=False),
                            "note": route.note})

    def add_port_spurs(self) -> None:
        for port, (route_id, stop) in PORT_SPURS.items():
            route = next(r for r in WATER_ROUTES if r.route_id == route_id)
            attrs = dict(route.attrs)
            for s in route.stops[: route.stops.index(stop) + 1]:
                attrs.update(route.breaks.get(s, {}))
            a = self.place_node("water", port, route_id + "-spur")
            b = self.place_node("water", stop, route_id + "-spur")
            self.add_link("water", route_id + "-spur", a, b, note="port town point joined to the waterway", **attrs)

    # -- rail ---------------------------------------------------------------------------------------------------
    def add_rail(self, shared: Path) -> None:
        st_csv = pd.read_csv(shared / "transport/irail_stations_flanders.csv")
        flemish_names = dict(zip(st_csv["URI"], st_csv["name"]))
        with open(shared / "transport/irail_links.geojson", encoding="utf-8") as fh:
            feats = json.load(fh)["features"]
        lon0, lat0, lon1, lat1 = RAIL_BBOX_LONLAT
        stations: dict[str, dict] = {}
        edges = []
        for f in feats:
            stops = f["properties"].get("stop", [])
            coords = f["geometry"]["coordinates"]
            desc = f["properties"].get("description", "")
            if len(stops) != 2 or desc.count(" - ") != 1:
                continue
            (ax, ay), (bx, by) = map(float, coords[0][:2]), map(float, coords[-1][:2])
            if not all(lon0 <= v[0] <= lon1 and lat0 <= v[1] <= lat1 for v in ((ax, ay), (bx, by))):
                continue
            names = desc.split(" - ")
            for uri, (lon, lat), nm in zip(stops, ((ax, ay), (bx, by)), names):
                stations.setdefault(uri, {"uri": uri, "lon": lon, "lat": lat, "name": flemish_names.get(uri, nm)})
            if stops[0] != stops[1]:
                edges.append((stops[0], stops[1]))
        st = pd.DataFrame(stations.values())
        sx, sy = _TO_L72.transform(st["lon"].to_numpy(), st["lat"].to_numpy())
        st["x"], st["y"] = np.round(sx, 1), np.round(sy, 1)
        code = st["uri"].str.extract(r"/(\d{9})$")[0].fillna("")
        st["country"] = code.str[:4].map({"0088": "BE", "0084": "NL", "0087": "FR", "0080": "DE",
                                          "0082": "LU"}).fillna("BE")
        # one node per station name (duplicates in iRail are the same place)
        st = st.drop_duplicates("name").reset_index(drop=True)
        uri_to_name = {s["uri"]: s["name"] for s in stations.values()}
        name_to_id = {}
        for r in st.itertuples():
            node_id = f"T:{_slug(r.name)}"
            name_to_id[r.name] = node_id
            self.nodes[node_id] = {"node_id": node_id, "mode": "rail", "name": r.name, "kind": "rail_node",
                                   "x": r.x, "y": r.y, "nis": "", "region": "" if r.country == "BE" else r.country,
                                   "seaport": "", "locode": "", "note": "iRail station", "_token": f"st:{r.name}"}
        g = nx.Graph()
        seen = set()
        for a, b in edges:
            na, nb = name_to_id[uri_to_name[a]], name_to_id[uri_to_name[b]]
            key = frozenset((na, nb))
            if na == nb or key in seen:
                continue
            seen.add(key)
            self.add_link("rail", "passenger", na, nb, freight=0, line="passenger network (iRail 2015)")
            g.add_edge(na, nb, length_km=self.links[-1]["length_km"], link=len(self.links) - 1)
        # terminals
        term_id = {}
        for key, (tname, loc) in RAIL_TERMINALS.items():
            if loc.startswith("st:"):
                nid = name_to_id[loc[3:]]
                self.nodes[nid]["kind"] = "rail_terminal"
                self.nodes[nid]["note"] = f"{tname}; at iRail station {loc[3:]}"
                term_id[key] = nid
            else:
                x, y, display, region, _ = self.places.resolve(loc)
                nid = f"T:term-{key}"
                self.nodes[nid] = {"node_id": nid, "mode": "rail", "name": tname, "kind": "rail_terminal",
                                   "x": x, "y": y, "nis": "", "region": region, "seaport": "", "locode": "",
                                   "note": f"placed at {display}", "_token": loc}
                term_id[key] = nid

        def waypoint(tok: str) -> str:
            if tok.startswith("st:"):
                return name_to_id[tok[3:]]
            if tok.startswith("term:"):
                return term_id[tok[5:]]
            x, y, display, region, _ = self.places.resolve(tok)
            nid = f"T:{_slug(display)}"
            self.nodes.setdefault(nid, {"node_id": nid, "mode": "rail", "name": display,
                                        "kind": "border" if tok in FOREIGN else "rail_node", "x": x, "y": y,
                                        "nis": "", "region": region, "seaport": "", "locode": "",
                                        "note": "freight-only place", "_token": tok})
            return nid

        for line, name, wps in RAIL_CORRIDORS:
            ids = [waypoint(t) for t in wps]
            total = 0.0
            for a, b in zip(ids[:-1], ids[1:]):
                na, nb = self.nodes[a], self.nodes[b]
                straight = np.hypot(na["x"] - nb["x"], na["y"] - nb["y"]) / 1000.0
                path = None
                if a in g and b in g and nx.has_path(g, a, b):
                    p = nx.shortest_path(g, a, b, weight="length_km")
                    plen = nx.path_weight(g, p, weight="length_km")
                    if plen <= RAIL_PATH_MAX_RATIO * straight + 2.0:
                        path = p
                if path is not None:
                    for u, v in zip(path[:-1], path[1:]):
                        li = g.edges[u, v]["link"]
                        self.links[li]["freight"] = 1
                        self.links[li]["line"] = line if self.links[li]["line"].startswith("passenger") else \
                            self.links[li]["line"] + ";" + line
                        self.links[li]["route"] = "freight"
                        total += self.links[li]["length_km"]
                else:
                    self.add_link("rail", "freight", a, b, freight=1, line=line,
                                  note="freight-only line (not in the passenger data)")
                    g.add_edge(a, b, length_km=self.links[-1]["length_km"], link=len(self.links) - 1)
                    total += self.links[-1]["length_km"]
            self.routes.append({"route_id": f"rail:{line}:{_slug(name)[:40]}", "mode": "rail", "name": name,
                                "n_links": len(ids) - 1, "length_km": round(total, 1),
                                "attributes": json.dumps({"line": line, "freight": 1}), "note": ""})
        # keep only stations that touch a link
        used = {l_["from_node"] for l_ in self.links if l_["mode"] == "rail"} | {
            l_["to_node"] for l_ in self.links if l_["mode"] == "rail"}
        for nid in [n for n, v in self.nodes.items() if v["mode"] == "rail" and n not in used]:
            del self.nodes[nid]

    # -- finish ----------------------------------------------------------------------------------------------
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        nodes = pd.DataFrame(self.nodes.values())
        nis = _nis_of_points(self.places.gemeente, nodes["x"].to_numpy(), nodes["y"].to_numpy())
        nodes["nis"] = nis
        region = [r if r else _region_of_nis(n) or "WAL" for r, n in zip(nodes["region"], nodes["nis"])]
        nodes["region"] = region
        for i, row in nodes.iterrows():
            if row["kind"]:
                continue
            routes = self._node_routes.get(row["node_id"], set())
            if row["_token"] in FOREIGN:
                kind = "border"
            elif row["mode"] == "road":
                kind = "motorway_junction" if len(routes) >= 2 else "motorway_exit"
            elif row["mode"] == "water":
                kind = "port" if row["locode"] else "quay"
            else:
                kind = "rail_node"
            nodes.at[i, "kind"] = kind
        nodes = nodes.drop(columns="_token").sort_values(["mode", "node_id"]).reset_index(drop=True)
        links = pd.DataFrame(self.links)
        # one link per node pair and mode (routes sharing a stretch are listed together)
        links["pair"] = [tuple(sorted(p)) for p in zip(links["from_node"], links["to_node"])]
        agg = {c: "first" for c in links.columns if c not in ("pair", "mode")}
        agg["route"] = lambda s: ";".join(dict.fromkeys(s))
        links = links.groupby(["mode", "pair"], sort=False, as_index=False).agg(agg).drop(columns="pair")
        order = {"road": 0, "water": 1, "rail": 2}
        links = links.sort_values("mode", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
        links.insert(0, "link_id", [f"{m[0].upper()}{i:04d}" for i, m in enumerate(links["mode"])])
        cols = ["link_id", "mode", "route", "from_node", "to_node", "length_km", "road_class", "cemt_class",
                "maritime", "freight", "line", "schematic", "note"]
        routes = pd.DataFrame(self.routes)
        return nodes, links[cols], routes


def build(shared: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Build the three tables from ``shared`` (the ``data/flanders`` folder) and write them into ``out``."""
    places = PlaceIndex(shared)
    b = Builder(places)
    for r in ROAD_ROUTES + WATER_ROUTES:
        b.add_route(r)
    b.add_port_spurs()
    b.add_rail(shared)
    nodes, links, routes = b.tables()
    _check(nodes, links, places)
    out.mkdir(parents=True, exist_ok=True)
    nodes.to_csv(out / "nodes.csv", index=False, float_format="%.1f")
    links.to_csv(out / "links.csv", index=False, float_format="%.3f")
    routes.to_csv(out / "routes.csv", index=False, float_format="%.1f")
    return nodes, links, routes


def _check(nodes: pd.DataFrame, links: pd.DataFrame, places: PlaceIndex) -> None:
    missing = set(places.ports.index) - set(nodes["locode"])
    if missing:
        msg = f"ports of the Eurostat list not on any waterway: {sorted(missing)}"
        raise AssertionError(msg)
    for mode in ("road", "water"):
        g = nx.Graph()
        sub = links[links["mode"] == mode]
        g.add_edges_from(zip(sub["from_node"], sub["to_node"]))
        comps = list(nx.connected_components(g))
        if len(comps) != 1:
            msg = f"{mode} network has {len(comps)} components: {[sorted(c)[:3] for c in comps]}"
            raise AssertionError(msg)
    fr = links[(links["mode"] == "rail") & (links["freight"] == 1)]
    g = nx.Graph()
    g.add_edges_from(zip(fr["from_node"], fr["to_node"]))
    comps = list(nx.connected_components(g))
    if len(comps) != 1:
        msg = f"rail freight network has {len(comps)} components: {[sorted(c)[:3] for c in comps]}"
        raise AssertionError(msg)


def main(argv: list[str] | None = None) -> int:
    args = flanders_arguments(argv, doc=__doc__, here=HERE)
    if args is None:
        return 2
    nodes, links, routes = build(args.shared, args.out)
    summary = links.groupby("mode").agg(n_links=("link_id", "size"), length_km=("length_km", "sum"))
    print(nodes.groupby(["mode", "kind"]).size().to_string())
    print(summary.round(1).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
