"""The places the fare rules name (Manhattan, south of 96th Street, JFK, LaGuardia), as outlines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

_Floats = NDArray[np.float64]
_Bools = NDArray[np.bool_]

# Manhattan's shores traced by hand (piers left out), (longitude, latitude) from the Battery to
# Spuyten Duyvil, good to a block or so: the west shore up the Hudson, the east shore up the
# East and Harlem Rivers. Each goes north all the way, so a parallel meets each shore once, and
# every vertex's latitude is a multiple of BAND_DEGREES.
BAND_DEGREES: Final = 0.0005  # latitude bands (55 m), in each of which both edges are straight
_BATTERY: Final = (-74.0170, 40.7000)
_SPUYTEN_DUYVIL: Final = (-73.9270, 40.8790)
_WEST_96TH: Final = (-73.9775, 40.7985)  # West 96th Street at the Hudson
_EAST_96TH: Final = (-73.9430, 40.7835)  # East 96th Street at the East River
_WEST_TO_96TH: Final = (
    _BATTERY,
    (-74.0195, 40.7065),  # Battery Park City
    (-74.0175, 40.7150),
    (-74.0140, 40.7230),  # Canal Street
    (-74.0125, 40.7300),  # Houston Street
    (-74.0105, 40.7420),  # 14th Street
    (-74.0090, 40.7500),  # 23rd Street
    (-74.0050, 40.7580),  # 34th Street
    (-74.0010, 40.7640),  # 42nd Street
    (-73.9950, 40.7715),  # 57th Street
    (-73.9900, 40.7800),  # 72nd Street
    (-73.9840, 40.7870),  # 79th Street
    _WEST_96TH,
)
_WEST_ABOVE_96TH: Final = (
    (-73.9700, 40.8060),  # 110th Street
    (-73.9620, 40.8180),  # 125th Street
    (-73.9530, 40.8290),  # 145th Street
    (-73.9480, 40.8510),  # George Washington Bridge
    (-73.9370, 40.8650),  # Fort Tryon Park
    _SPUYTEN_DUYVIL,
)
_EAST_TO_96TH: Final = (
    _BATTERY,
    (-74.0125, 40.7010),  # Whitehall
    (-74.0055, 40.7030),  # Wall Street
    (-73.9985, 40.7065),  # Brooklyn Bridge
    (-73.9900, 40.7080),  # Manhattan Bridge
    (-73.9785, 40.7120),  # Corlears Hook
    (-73.9745, 40.7190),  # Houston Street
    (-73.9720, 40.7280),  # 14th Street
    (-73.9735, 40.7340),  # 23rd Street
    (-73.9715, 40.7420),  # 34th Street
    (-73.9665, 40.7490),  # 42nd Street
    (-73.9575, 40.7585),  # Queensboro Bridge
    (-73.9495, 40.7670),  # 72nd Street
    (-73.9425, 40.7760),  # 86th Street
    _EAST_96TH,
)
_EAST_ABOVE_96TH: Final = (
    (-73.9395, 40.7860),  # 103rd Street
    (-73.9300, 40.7960),  # 116th Street
    (-73.9300, 40.8045),  # Willis Avenue Bridge
    (-73.9340, 40.8150),  # 135th Street
    (-73.9330, 40.8290),  # Macombs Dam Bridge
    (-73.9270, 40.8460),  # Washington Bridge
    (-73.9150, 40.8630),  # University Heights Bridge
    (-73.9110, 40.8740),  # Broadway Bridge
    _SPUYTEN_DUYVIL,
)


@dataclass(frozen=True, slots=True)
class Outline:
    """A region each parallel crosses at most once: its west and east edges, south to north.

    Both edges start at the region's southernmost point and end at its northernmost, with
    latitudes strictly increasing, so a point is inside when it lies between them. Vertices
    lie on multiples of BAND_DEGREES of latitude, so in each band each edge is one straight
    line, found without a search.
    """

    west: _Floats  # (k, 2): longitude, latitude
    east: _Floats
    _lines: tuple[_Floats, ...] = field(init=False, repr=False)  # by band: west a, b, east a, b
    _vertices: tuple[_Floats, _Floats, _Bools] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        south, north = self.west[0, 1], self.west[-1, 1]
        middles = south + (np.arange(round((north - south) / BAND_DEGREES)) + 0.5) * BAND_DEGREES
        lines = []
        for edge in (self.west, self.east):
            steps = (edge[:, 1] - south) / BAND_DEGREES
            aligned = np.allclose(steps, np.round(steps), rtol=0, atol=1e-6)
            if not aligned or np.any(np.diff(steps) < 0.5) or edge[-1, 1] != north:
                raise ValueError("an edge must run north through vertices on the latitude bands")
            (x1, y1), (x2, y2) = edge[:-1].T, edge[1:].T
            segment = np.searchsorted(edge[:, 1], middles) - 1
            slope = ((x2 - x1) / (y2 - y1))[segment]
            lines += [x1[segment] - slope * y1[segment], slope]  # longitude = a + b * latitude
        object.__setattr__(self, "_lines", tuple(lines))
        inner = np.concatenate([self.west[1:-1], self.east[1:-1]])  # the vertices between the ends
        of_west = np.arange(len(inner)) < len(self.west) - 2
        object.__setattr__(self, "_vertices", (inner[:, 1], inner[:, 0], of_west))

    @property
    def ring(self) -> _Floats:
        """The polygon's vertices in order, each once: up the west edge, down the east edge."""
        ring: _Floats = np.concatenate([self.west, self.east[-2:0:-1]])
        return ring

    def edges_at(self, lat: _Floats) -> tuple[_Floats, _Floats]:
        """The west and east edges' longitudes at each latitude (inside the region's)."""
        west_a, west_b, east_a, east_b = self._lines
        band = ((lat - self.west[0, 1]) / BAND_DEGREES).astype(np.intp).clip(0, len(west_a) - 1)
        return west_a[band] + west_b[band] * lat, east_a[band] + east_b[band] * lat

    def contains(self, lon: _Floats, lat: _Floats) -> _Bools:
        """Which points lie inside (edges included)."""
        south, north = self.west[0, 1], self.west[-1, 1]
        west, east = self.edges_at(lat)
        inside: _Bools = (south <= lat) & (lat <= north) & (west <= lon) & (lon <= east)
        return inside

    def crossed(self, lon1: _Floats, lat1: _Floats, lon2: _Floats, lat2: _Floats) -> _Bools:
        """Which straight segments between points outside the region pass through it.

        Clip each segment to the region's latitudes. If its two ends lie on either side of the
        midline between the edges (or on it), it meets the midline, which is inside. If both
        lie west (east), it enters iff it reaches the west (east) edge, which happens iff it
        does so at one of that edge's vertices: between two, both lines are straight.
        """
        south, north = self.west[0, 1], self.west[-1, 1]
        flat = lat1 == lat2  # an east-west segment: its ends are its clipped ends, or none
        slope = (lon2 - lon1) / np.where(flat, 1.0, lat2 - lat1)  # longitude per latitude
        low = np.minimum(lat1, lat2)
        y = np.stack([np.maximum(low, south), np.minimum(lat1 + lat2 - low, north)])
        x = np.where(flat, np.stack([lon1, lon2]), lon1 + (y - lat1) * slope)
        west, east = self.edges_at(y)
        side = 2 * x - west - east  # < 0: west of the midline
        vertex_lat, vertex_lon, of_west = self._vertices
        between = (y[0, :, None] < vertex_lat) & (vertex_lat < y[1, :, None])
        vertex_x = lon1[:, None] + (vertex_lat - lat1[:, None]) * slope[:, None]
        reached = np.where(of_west, vertex_x >= vertex_lon, vertex_x <= vertex_lon)
        on_its_side = of_west == (side[0] < 0)[:, None]
        through = (side[0] * side[1] <= 0) | np.any(between & reached & on_its_side, axis=1)
        out: _Bools = (y[0] <= y[1]) & through
        return out


MANHATTAN: Final = Outline(
    np.array(_WEST_TO_96TH + _WEST_ABOVE_96TH), np.array(_EAST_TO_96TH + _EAST_ABOVE_96TH)
)
# South of 96th Street: the east edge ends along 96th Street, from the East River to the Hudson.
MANHATTAN_SOUTH_OF_96TH: Final = Outline(
    np.array(_WEST_TO_96TH), np.array((*_EAST_TO_96TH, _WEST_96TH))
)
# The airports' grounds: west, south, east, north.
JFK_BOX: Final = (-73.8230, 40.6200, -73.7450, 40.6670)
LAGUARDIA_BOX: Final = (-73.8900, 40.7650, -73.8550, 40.7860)


def in_box(box: tuple[float, float, float, float], lon: _Floats, lat: _Floats) -> _Bools:
    """Which points lie inside a (west, south, east, north) box."""
    west, south, east, north = box
    inside: _Bools = (west <= lon) & (lon <= east) & (south <= lat) & (lat <= north)
    return inside
