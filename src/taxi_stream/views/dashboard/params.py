"""The query parameters of the dashboard's API, checked as ``query`` checks its flags."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import QueryParams

from taxi_stream.core.errors import RecordError
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.trip import vendor_key
from taxi_stream.views.dashboard.data import MAX_ROWS, WindowQuery

WINDOW_PARAMS: Final = ("vendor", "since", "until", "limit", "latest")
LETTER_PARAMS: Final = ("limit",)
DEFAULT_LETTERS: Final = 100


class BadRequest(ValueError):
    """A query parameter that cannot be used: its one-line reason goes back as a 400."""


def window_query(params: QueryParams) -> WindowQuery:
    """The filters of ``/api/windows`` (and of the updates stream); an empty value is no filter."""
    _only(params, WINDOW_PARAMS)
    query = WindowQuery(
        vendor=_vendor(params.get("vendor")),
        start_ms=_time(params.get("since"), "since"),
        end_ms=_time(params.get("until"), "until"),
        limit=_count(params.get("limit"), "limit") or MAX_ROWS,
        latest=_count(params.get("latest"), "latest"),
    )
    if query.start_ms is not None and query.end_ms is not None and query.end_ms <= query.start_ms:
        raise BadRequest("until: must be later than since (windows start in [since, until))")
    return query


def letters_limit(params: QueryParams) -> int:
    """How many dead letters ``/api/dead-letters`` answers (``limit``, default 100)."""
    _only(params, LETTER_PARAMS)
    return _count(params.get("limit"), "limit") or DEFAULT_LETTERS


def no_params(params: QueryParams) -> None:
    """A route that takes no parameter refuses any."""
    _only(params, ())


def _only(params: QueryParams, names: tuple[str, ...]) -> None:
    """Each parameter is one of ``names`` and given once: a typo is no silent full answer."""
    for name in params:
        if name not in names:
            takes = f"takes {', '.join(names)}" if names else "takes no parameter"
            raise BadRequest(f"{name[:40]!r}: unknown parameter (this route {takes})")
        if len(params.getlist(name)) > 1:
            raise BadRequest(f"{name}: given {len(params.getlist(name))} times; give it once")


def _vendor(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return vendor_key(text)
    except RecordError:
        raise BadRequest(
            f"vendor: not a vendor id (up to 64 printable characters): {text[:40]!r}"
        ) from None


def _time(text: str | None, name: str) -> int | None:
    if not text:
        return None
    try:
        return parse_iso_ms(text)
    except ValueError:
        raise BadRequest(f"{name}: not an ISO-8601 time: {text[:40]!r}") from None


def _count(text: str | None, name: str) -> int | None:
    if not text:
        return None
    digits = text.lstrip("0")  # bounded before int(): Python refuses over 4,300 digits
    if not (text.isascii() and text.isdigit()) or len(digits) > len(str(MAX_ROWS)):
        raise BadRequest(f"{name}: expected a whole number from 1 to {MAX_ROWS}")
    if not 1 <= int(digits or "0") <= MAX_ROWS:
        raise BadRequest(f"{name}: expected a whole number from 1 to {MAX_ROWS}")
    return int(digits)
