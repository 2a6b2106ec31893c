"""Build the STAND-IN for the OVAM service areas (verzorgingsgebieden of the kringloopcentra).

Run from the project root (no third-party data needed)::

    python instances/flanders/build_service_areas.py

The study extrapolates its kringloop clusters per OVAM service area (L11392-11434; poster L16129-16137) but the
layer is neither mapped nor counted in the text: it cites OVAM's 2013 publication on 2011 (L13155-13157). The
counts it implies are 13 areas holding a centrumstad + 17 without (final text) or 13 + 13 (poster) (digest A3).

**This table is a stand-in, not the OVAM layer.** It is derived deterministically from the base layer
(``municipalities.csv``) so that it has exactly those counts:

1. start from the 22 arrondissements;
2. split every arrondissement holding several centrumsteden by nearest centrumstad (arrondissement Hasselt →
   Hasselt and Genk): 23 areas, 13 with a centrumstad, 10 without;
3. while there are fewer areas without a centrumstad than the target (17 final, 13 poster), take the area with
   the most inhabitants outside its centrumstad (ties: lowest area code) and split it in two by 2-means on the
   municipality points (initialised with the two municipalities farthest apart; the part holding the centrumstad
   keeps it). Every split adds one area without a centrumstad.

Writes ``municipalities_sa.csv``: the base municipalities table plus ``service_area`` (final text, 30 areas) and
``service_area_poster`` (poster, 26 areas). Planners with the real OVAM layer give their own table instead, via
the manifest's column mapping: ``demand = { path = "...", columns = { service_area = "VERZORGINGSGEBIED" } }``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TARGET_SMALL = {"service_area": 17, "service_area_poster": 13}  # L11426-11434; L16129-16137


def _two_means(xy: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Deterministic 2-means: labels 0/1, seeded by the farthest pair of points."""
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    a, b = np.unravel_index(np.argmax(d), d.shape)
    centres = xy[[a, b]].astype(float)
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(iterations):
        dist = np.hypot(xy[:, None, 0] - centres[None, :, 0], xy[:, None, 1] - centres[None, :, 1])
        new = np.argmin(dist, axis=1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for k in (0, 1):
            if (labels == k).any():
                centres[k] = xy[labels == k].mean(axis=0)
    return labels


def service_areas(m: pd.DataFrame, target_small: int) -> pd.Series:
    """Stand-in service-area label per municipality (see module docstring)."""
    xy = m[["x", "y"]].to_numpy(float)
    label = m["arrondissement"].astype(str).to_numpy().astype(object)
    cities = m.index[m["centrumstad"]].to_numpy()
    for arr in pd.unique(label):
        members = np.flatnonzero(label == arr)
        own = [c for c in cities if label[c] == arr]
        if len(own) > 1:  # split by nearest centrumstad
            near = np.argmin(np.hypot(xy[members, None, 0] - xy[None, own, 0], xy[members, None, 1] - xy[None, own, 1]), 1)
            for k, c in enumerate(own):
                label[members[near == k]] = f"{arr} ({m.at[c, 'name']})"
    label = pd.Series(label, index=m.index)
    while True:
        has_city = m.groupby(label)["centrumstad"].any()
        if int((~has_city).sum()) >= target_small:
            break
        pop_outside = m.loc[~m["centrumstad"]].groupby(label[~m["centrumstad"]])["population"].sum()
        pop_outside = pop_outside[label.value_counts().reindex(pop_outside.index) >= 2]
        area = sorted(pop_outside.index, key=lambda k: (-pop_outside[k], k))[0]
        members = np.flatnonzero(label.to_numpy() == area)
        parts = _two_means(xy[members])
        city_part = [parts[i] for i, idx in enumerate(members) if m.at[m.index[idx], "centrumstad"]]
        keep = city_part[0] if city_part else 0
        base = m.loc[m.index[members[0]], "arrondissement"]
        n = 2
        while f"{base} {n}" in set(label):
            n += 1
        new_name = f"{base} {n}"
        label.iloc[members[parts != keep]] = new_name
    return label


def main() -> None:
    m = pd.read_csv(HERE / "municipalities.csv")
    m["centrumstad"] = m["centrumstad"].astype(str).str.lower().isin(["true", "1"])
    for col, small in TARGET_SMALL.items():
        m[col] = service_areas(m, small).to_numpy()
        has_city = m.groupby(col)["centrumstad"].any()
        print(f"{col}: {len(has_city)} areas, {int(has_city.sum())} with a centrumstad, {int((~has_city).sum())} without")
    m.to_csv(HERE / "municipalities_sa.csv", index=False)


if __name__ == "__main__":
    main()
