"""Column values as JSON text, vectorised: numbers as the file writes them, text escaped.

Each function takes a pyarrow array and returns a string array of JSON texts, null where the
value is absent (null, or an empty CSV cell): the record leaves such a field out. A value that
is present but is no number is sent as a JSON string, so the consumer rejects it with its reason
rather than the producer guessing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

JSON_NUMBER: Final = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"
LOOSE_NUMBER: Final = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"  # core.trip's
_WHOLE_TEXT: Final = r"^([+-]?[0-9]+)\.0*$"
_CONTROL: Final = "[\x00-\x1f]"
_NOT_FINITE: Final = r"^[+-]?(?:nan|inf|infinity)$"  # as float() reads them, in any case
VENDOR_CODES: Final = {"CMT": "1", "VTS": "2"}  # 2009-10 names, as the later TLC codes
_NO_TEXT: Final = pa.scalar(None, pa.string())
_INT64_SPAN: Final = float(2**63)  # floats below it in magnitude cast to int64 exactly


def number_text(values: pa.Array) -> pa.Array:
    """A number as JSON text: integers and decimals as they are, floats in their shortest form.

    CSV text that is a JSON number is kept character for character (``12.80`` stays
    ``12.80``); other text, and NaN or infinity, is sent as a JSON string.
    """
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return values.cast(pa.string())
    if pa.types.is_floating(kind):
        text = values.cast(pa.string())
        return pc.if_else(pc.is_finite(values), text, string_text(text))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text_number(_cells(values))
    return string_text(values.cast(pa.string()))


def whole_number_text(values: pa.Array) -> pa.Array:
    """As ``number_text``, but a whole number written as a float (``1.0``) is written ``1``.

    Only a float that int64 holds exactly is rewritten; a larger one (``1e+20``), a fraction,
    NaN or infinity keeps its own text, so the consumer rejects it naming that value.
    """
    kind = values.type
    if pa.types.is_floating(kind):
        finite = pc.and_(pc.is_finite(values), pc.less(pc.abs(values), _INT64_SPAN))
        whole = pc.and_(finite, pc.equal(values, pc.floor(values)))
        as_int = pc.if_else(whole, values, 0.0).cast(pa.int64(), safe=False).cast(pa.string())
        return pc.if_else(whole, as_int, number_text(values))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text_number(pc.replace_substring_regex(_cells(values), _WHOLE_TEXT, r"\1"))
    return number_text(values)


def vendor_text(values: pa.Array) -> pa.Array:
    """A vendor id: a number stays a number; the 2009-10 names CMT and VTS become 1 and 2.

    A double that is NaN (how pandas marks a missing int) or infinite is no id: null, as a
    missing vendor is (the record leaves ``vendorId`` out: ``missing_vendor``); so is the
    same value written as text in a CSV cell (``nan``, ``NaN``, ``-inf``: what pandas writes
    for a missing id once the column is made text), so a file's CSV and Parquet agree.
    """
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, values.type))
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return whole_number_text(values)
    cells = _cells(values)
    not_finite = pc.match_substring_regex(cells, _NOT_FINITE, ignore_case=True)
    cells = pc.if_else(pc.fill_null(not_finite, False), _NO_TEXT, cells)
    upper = pc.utf8_upper(cells)
    for name, code in VENDOR_CODES.items():
        cells = pc.if_else(pc.equal(upper, name), code, cells)
    return _text_number(cells)


def flag_text(values: pa.Array) -> pa.Array:
    """The store-and-forward flag as a JSON string, as given (Y/N; a numeric 1.0 as ``"1"``)."""
    kind = values.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return string_text(whole_number_text(values))
    return string_text(_cells(values.cast(pa.string())))


def float_values(values: pa.Array) -> pa.Array:
    """float64 values of a numeric or text column; text that is no number is null."""
    kind = values.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return values.cast(pa.float64())
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return pa.nulls(len(values), pa.float64())
    cells = _cells(values)
    numeric = pc.match_substring_regex(cells, LOOSE_NUMBER)
    return pc.if_else(numeric, cells, _NO_TEXT).cast(pa.float64())


def string_text(text: pa.Array) -> pa.Array:
    """Text as JSON strings (null stays null): quotes and backslashes escaped, controls too."""
    text = text.cast(pa.string())
    escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    control = pc.fill_null(pc.match_substring_regex(text, _CONTROL), False)
    if not pc.any(control).as_py():
        return quoted
    dumped = [json.dumps(cell, ensure_ascii=False) for cell in text.filter(control).to_pylist()]
    return pc.replace_with_mask(quoted, control, pa.array(dumped, pa.string()))


def haversine_miles(
    lat1: pa.Array, lon1: pa.Array, lat2: pa.Array, lon2: pa.Array, radius_mi: float
) -> pa.Array:
    """Great-circle distance in miles between two points given in degrees (null if any is)."""
    rad = math.pi / 180
    p1, p2 = pc.multiply(lat1, rad), pc.multiply(lat2, rad)
    half_dp = pc.divide(pc.subtract(p2, p1), 2.0)
    half_dl = pc.divide(pc.multiply(pc.subtract(lon2, lon1), rad), 2.0)
    sin_dp, sin_dl = pc.sin(half_dp), pc.sin(half_dl)
    a = pc.add(
        pc.multiply(sin_dp, sin_dp),
        pc.multiply(pc.multiply(pc.cos(p1), pc.cos(p2)), pc.multiply(sin_dl, sin_dl)),
    )
    return pc.multiply(pc.multiply(pc.asin(pc.sqrt(a)), 2.0), radius_mi)


def by_distinct(values: pa.Array, text: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``text(values)``, computed once per distinct value (TLC columns repeat a lot)."""
    if pa.types.is_null(values.type):
        return text(values)
    encoded = pc.dictionary_encode(values)
    if len(encoded.dictionary) * 4 > len(values):
        return text(values)
    return text(encoded.dictionary).take(encoded.indices)


def _cells(values: pa.Array) -> pa.Array:
    """Text cells without surrounding blanks; an empty cell is null."""
    trimmed = pc.utf8_trim_whitespace(values.cast(pa.string()))
    return pc.if_else(pc.equal(trimmed, ""), _NO_TEXT, trimmed)


def _text_number(cells: pa.Array) -> pa.Array:
    numeric = pc.match_substring_regex(cells, JSON_NUMBER)
    if pc.all(numeric).as_py() is not False:  # all numbers (or null): the common case
        return cells
    return pc.if_else(numeric, cells, string_text(cells))
