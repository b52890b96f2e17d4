"""Which trip file this is, from its header: the TLC eras and the Kaggle set, column by column.

A layout names the columns a file must have (matched case-insensitively, blanks around a name
ignored) and the optional ones it may have; detection takes the first layout whose required
columns are all there. Every column is found under a canonical name:

``vendor pickup dropoff passengers distance duration pickup_lon pickup_lat dropoff_lon
dropoff_lat flag fare tip total pu_zone do_zone``
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from taxi_stream.core.errors import SourceError

NEW_YORK: Final = "America/New_York"  # TLC and Kaggle times are naive local time there
SHOWN_COLUMNS: Final = 20  # an unknown header's columns an error lists ...
SHOWN_CHARS: Final = 40  # ... each cut to this many characters

OPTIONAL: Final[Mapping[str, tuple[str, ...]]] = {
    "passengers": ("passenger_count",),
    "pickup_lon": ("pickup_longitude", "start_lon"),
    "pickup_lat": ("pickup_latitude", "start_lat"),
    "dropoff_lon": ("dropoff_longitude", "end_lon"),
    "dropoff_lat": ("dropoff_latitude", "end_lat"),
    "flag": ("store_and_fwd_flag", "store_and_forward"),
    "fare": ("fare_amount", "fare_amt"),
    "tip": ("tip_amount", "tip_amt"),
    "total": ("total_amount", "total_amt"),
    "pu_zone": ("pulocationid",),
    "do_zone": ("dolocationid",),
}
"""Columns any layout may have, by canonical name: the candidates, in the order tried."""


@dataclass(frozen=True, slots=True)
class Layout:
    """One known file layout: its name (the ``--format`` value) and its required columns."""

    name: str
    title: str
    required: Mapping[str, str]  # canonical name -> column name (lower case)
    great_circle: bool = False  # distance from the coordinates (Kaggle), not trip_distance

    def describe(self) -> str:
        """The layout and the columns it needs, for an error message."""
        return f"{self.title} ({', '.join(self.required.values())})"


_KAGGLE_COORDINATES: Final = {
    "pickup_lon": "pickup_longitude",
    "pickup_lat": "pickup_latitude",
    "dropoff_lon": "dropoff_longitude",
    "dropoff_lat": "dropoff_latitude",
}

LAYOUTS: Final = (
    Layout(
        "yellow",
        "TLC yellow, 2011 on",
        {
            "vendor": "vendorid",
            "pickup": "tpep_pickup_datetime",
            "dropoff": "tpep_dropoff_datetime",
            "distance": "trip_distance",
        },
    ),
    Layout(
        "green",
        "TLC green",
        {
            "vendor": "vendorid",
            "pickup": "lpep_pickup_datetime",
            "dropoff": "lpep_dropoff_datetime",
            "distance": "trip_distance",
        },
    ),
    Layout(
        "yellow-2009",
        "TLC yellow 2009",
        {
            "vendor": "vendor_name",
            "pickup": "trip_pickup_datetime",
            "dropoff": "trip_dropoff_datetime",
            "distance": "trip_distance",
        },
    ),
    Layout(
        "yellow-2010",
        "TLC yellow 2010",
        {
            "vendor": "vendor_id",
            "pickup": "pickup_datetime",
            "dropoff": "dropoff_datetime",
            "distance": "trip_distance",
        },
    ),
    Layout(
        "kaggle",
        "Kaggle NYC Taxi Trip Duration",
        {
            "vendor": "vendor_id",
            "pickup": "pickup_datetime",
            "duration": "trip_duration",
            **_KAGGLE_COORDINATES,
        },
        great_circle=True,
    ),
)
FORMATS: Final = tuple(layout.name for layout in LAYOUTS)

_KAGGLE_OPTIONAL: Final = {"dropoff": ("dropoff_datetime",)}


@dataclass(frozen=True, slots=True)
class Columns:
    """A file's layout and where each canonical column is in it (the file's own spelling)."""

    layout: Layout
    names: Mapping[str, str]  # canonical name -> column name as the file spells it

    def get(self, canonical: str) -> str | None:
        """The file's column for a canonical name, if it has one."""
        return self.names.get(canonical)


class JsonLinesError(SourceError):
    """A file given to replay is JSON lines: it names the produce command that sends it."""

    def __init__(self, source: str, flags: str = "") -> None:
        self.source = source
        command = " ".join(filter(None, ["taxi-stream produce", flags, "--from"]))
        super().__init__(
            f"{source} looks like JSON lines: replay reads TLC or Kaggle trip files (Parquet or"
            f" CSV); send JSON lines with: {command} {shlex.quote(source)}"
        )


def detect(header: Sequence[str], source: str, forced: str | None = None) -> Columns:
    """The layout of a file with these column names (``forced``: that layout, or an error).

    Raises SourceError naming what was expected when no layout (or not the forced one) fits.
    """
    found = {name.strip().lower(): name for name in header}
    if forced is not None:
        layout = next((candidate for candidate in LAYOUTS if candidate.name == forced), None)
        if layout is None:
            raise SourceError(f"unknown format {forced!r}: use one of {', '.join(FORMATS)}")
        missing = [column for column in layout.required.values() if column not in found]
        if missing:
            raise SourceError(
                f"{source} is not a {layout.title} file: no column {', '.join(missing)}"
            )
        return _columns(layout, found)
    for layout in LAYOUTS:
        if all(column in found for column in layout.required.values()):
            return _columns(layout, found)
    if header and header[0].lstrip().startswith("["):
        raise SourceError(
            f"{source} looks like a JSON array: replay reads TLC or Kaggle trip files (Parquet or"
            " CSV), and produce --from reads JSON lines (one trip object a line)"
        )
    if header and header[0].lstrip().startswith("{"):
        raise JsonLinesError(source)
    if len(header) == 1 and ";" in header[0]:
        raise SourceError(
            f"{source} has one column {shown_columns(header)}: its header is separated by ';',"
            " and replay reads comma-separated CSV (convert the delimiter to ',')"
        )
    shown = shown_columns(header)
    expected = "; ".join(layout.describe() for layout in LAYOUTS)
    raise SourceError(
        f"{source} matches no known trip layout (columns: {shown}); expected one of: {expected}"
    )


def shown_columns(header: Sequence[str]) -> str:
    """The header for an error message: its first columns, each cut short, and how many more."""
    names = [
        name if len(name) <= SHOWN_CHARS else name[: SHOWN_CHARS - 3] + "..."
        for name in header[:SHOWN_COLUMNS]
    ]
    more = len(header) - len(names)
    return ", ".join(names) + (f" and {more:,} more" if more else "")


def _columns(layout: Layout, found: Mapping[str, str]) -> Columns:
    names = {canonical: found[column] for canonical, column in layout.required.items()}
    optional = dict(OPTIONAL)
    if layout.great_circle:
        optional.update(_KAGGLE_OPTIONAL)
    for canonical, candidates in optional.items():
        if canonical in names:
            continue
        column = next((c for c in candidates if c in found), None)
        if column is not None:
            names[canonical] = found[column]
    return Columns(layout, names)
