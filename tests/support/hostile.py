"""Hostile stream records, generated from a seed, each with what the handler must make of it.

A ``Hostile`` is one event record: Kinesis data (``data``) or a whole record that is not a
Kinesis record (``record``). ``expect`` has one entry per unit it stands for (the user records
of a well-formed KPL aggregate, else one): ``COUNTED`` for a good trip (in ``trips``, to be summed
by an independent reference), a reason code when the generator knows the dead letter's reason,
or None when either outcome is fine. Good trips use vendors 101 and 102; no hostile record can
normalise to them, so whatever a hostile record turns into, it cannot touch their totals.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taxi_stream.streams import kpl

COUNTED = "counted"
GOOD_VENDORS = (101, 102)
DEEP_ARRAYS = b"[" * 2000 + b"]" * 2000  # the exact inputs
DEEP_OBJECTS = b'{"a":' * 1000 + b"1" + b"}" * 1000


@dataclass
class Hostile:
    """One event record and the outcome expected of each unit it carries."""

    kind: str
    data: bytes | None = None  # the Kinesis data, sent base64-encoded
    record: Any = None  # sent as the event record itself (not a Kinesis record)
    sent_data: tuple[Any] | None = None  # sent as the Kinesis ``data`` field itself
    arrival: tuple[Any] | None = None  # sent as ``approximateArrivalTimestamp``
    expect: list[str | None] = field(default_factory=lambda: [None])
    trips: list[dict[str, Any]] = field(default_factory=list)


def good_trip(rng: random.Random, n: int) -> dict[str, Any]:
    """A valid trip of a good vendor, clean or in the original generator's quirky form."""
    seconds, miles = rng.randint(0, 86_400), round(rng.uniform(0, 500), 3)
    trip: dict[str, Any] = {
        "id": f"g{n}",
        "vendorId": rng.choice(GOOD_VENDORS),
        "pickupDate": f"2024-11-01T{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:00+00:00",
        "passengerCount": rng.randint(0, 9),
        "googleDistance": miles,
        "tripDuration": seconds,
    }
    if rng.random() < 0.3:  # quirky: numbers as strings with blanks, a naive time, a 0/1 flag
        trip.update(vendorId=f" {trip['vendorId']}", googleDistance=f"\t{miles}")
        trip.update(tripDuration=str(seconds), pickupDate=trip["pickupDate"][:19])
        trip["storeAndFwdFlag"] = rng.choice([0, 1])
    return trip


def base(n: int) -> dict[str, Any]:
    """A valid trip of a hostile vendor: the starting point that mutations break."""
    return {"id": f"h{n}", "vendorId": 7, "pickupDate": "2024-11-01T08:00:00+00:00",
            "dropoffDate": "2024-11-01T08:10:00+00:00", "passengerCount": 1,
            "pickupLongitude": -73.98, "pickupLatitude": 40.75, "storeAndFwdFlag": "N",
            "gcDistance": 1.2, "tripDuration": 600, "googleDistance": 1.5,
            "googleDuration": 580}  # fmt: skip


FIELDS = tuple(base(0))
NUMBER_TEXTS = ("1e400", "-1e400", "1e-400", "5e-324", "-0", "1.7976931348623157e308", "1e308",
                "9" * 20, "1" + "0" * 4301, "9" * 5000, "0." + "0" * 3000 + "1", "NaN",
                "Infinity", "-Infinity", "00012", "1.", ".5", "1e", "--1", "0x10")  # fmt: skip
VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, 1e300, -1e300, 2**63, -(2**63) - 1, "", " ", "x", "\u0000",
    "\ufeff7", "é", [], {}, [1, 2], {"a": 1}, "2024-11-01", "9" * 5000, " 1e3 ", "NaN", "inf",
    "Y", "1", 7.0,
)  # fmt: skip
FILLERS = (None, True, False, 0, -1, 1.5, "", " ", "x", [], {})  # 1e300 parses slowly: elsewhere
STAMPS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:30Z",
          "0001-01-02T00:00:00Z", "0001-01-01T00:00:00", "2024-13-01", "2024-11-01T25:00",
          "2024-11-01T08:00:00\u0000", "2024-11-01T08:00:00+24:00", "٢٠٢٤-١١-٠١", "")  # fmt: skip
OUT_OF_RANGE_STAMPS = STAMPS[:3]
BAD_UTF8 = (
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf5\x80\x80\x80",
    b"\x80",
    b"\xf4\x90\x80\x80",
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _with_raw(n: int, name: str, text: str) -> bytes:
    """A base trip whose field ``name`` holds ``text`` verbatim (numbers JSON cannot hold)."""
    return _dumps({**base(n), name: "@@"}).replace(b'"@@"', text.encode())


def deep(rng: random.Random, n: int) -> Hostile:
    """Nesting past the limit (arrays, objects, inside a trip, unclosed), or up to it."""
    depth = rng.choice([65, 100, 1000, 3000, rng.randint(65, 20_000)])
    shape = rng.randrange(5)
    if shape == 0:
        return Hostile("deep", b"[" * depth + b"]" * depth, expect=["too_deep"])
    if shape == 1:
        return Hostile("deep", b'{"a":' * depth + b"1" + b"}" * depth, expect=["too_deep"])
    if shape == 2:
        inner = b"[" * (depth - 1) + b"]" * (depth - 1)
        return Hostile("deep", _dumps(base(n))[:-1] + b',"x":' + inner + b"}", expect=["too_deep"])
    if shape == 3:
        return Hostile("deep", b"[" * depth, expect=["too_deep"])
    # brackets inside strings do not nest, and 64 levels are allowed: a trip of vendor 7
    inner = b"[" * 63 + b"]" * 63
    note = json.dumps("[{" * depth).encode()
    return Hostile("deep", _dumps(base(n))[:-1] + b',"x":' + inner + b',"note":' + note + b"}")


def numbers(rng: random.Random, n: int) -> Hostile:
    """Huge, tiny, out-of-range and non-JSON numbers, bare or as strings, in any field."""
    name, text = rng.choice(FIELDS), rng.choice(NUMBER_TEXTS)
    if name == "vendorId" or rng.random() < 0.3:
        return Hostile("numbers", _dumps({**base(n), name: text}))
    expect = "not_json" if text in ("NaN", "Infinity", "-Infinity", "1e", "--1", "0x10") else None
    return Hostile("numbers", _with_raw(n, name, text), expect=[expect])


def long_strings(rng: random.Random, n: int) -> Hostile:
    """A field holding a long string (a few past 1 MiB)."""
    size = 1_100_000 if rng.random() < 0.005 else rng.choice([20_000, rng.randint(1, 5_000)])
    text = "".join(rng.choice('aé日🚕 \\"[{') for _ in range(min(size, 50))) * (size // 50 + 1)
    data = _dumps({**base(n), rng.choice([*FIELDS, "extra"]): text[:size]})
    return Hostile("long", data, expect=["too_large" if len(data) > 1_048_576 else None])


def many_keys(rng: random.Random, n: int) -> Hostile:
    """Thousands of keys beside (or instead of) the trip's."""
    keys = 20_000 if rng.random() < 0.02 else rng.choice([100, 1000, 3000])
    extra = {f"k{i}": FILLERS[i % len(FILLERS)] for i in range(keys)}
    return Hostile("keys", _dumps({**(base(n) if rng.random() < 0.8 else {}), **extra}))


def duplicate_keys(rng: random.Random, n: int) -> Hostile:
    """A key given twice or more, with values of any type."""
    pairs = list(base(n).items())
    for _ in range(rng.randint(1, 5)):
        pairs.insert(rng.randrange(len(pairs) + 1), (rng.choice(FIELDS), rng.choice(VALUES)))
    body = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs)
    return Hostile("duplicates", ("{" + body + "}").encode())


def types(rng: random.Random, n: int) -> Hostile:
    """Every JSON type at every field, the field missing, or the whole record not an object."""
    trip: Any = base(n)
    for name in rng.sample(FIELDS, rng.randint(1, 3)):
        if rng.random() < 0.2:
            del trip[name]
        else:
            trip[name] = rng.choice(VALUES)
    if rng.random() < 0.05:
        trip = rng.choice([[trip], "trip", 7, None, True])
    return Hostile("types", _dumps(trip))


def control(rng: random.Random, n: int) -> Hostile:
    """Control characters: escaped in values and keys, or raw bytes anywhere."""
    if rng.random() < 0.5:
        char = chr(rng.randrange(32))
        trip = base(n)
        name = rng.choice(FIELDS)
        trip[name + char if rng.random() < 0.3 else name] = f"{trip[name]}{char}"
        return Hostile("control", json.dumps(trip).encode())
    data = bytearray(_dumps(base(n)))
    for _ in range(rng.randint(1, 4)):
        data.insert(rng.randrange(len(data) + 1), rng.randrange(32))
    return Hostile("control", bytes(data))


def bad_utf8(rng: random.Random, n: int) -> Hostile:
    """Invalid UTF-8 (overlong, surrogates, out of range, stray continuations) anywhere."""
    data = bytearray(_dumps(base(n)))
    at = rng.randrange(len(data) + 1)
    data[at:at] = rng.choice(BAD_UTF8)
    return Hostile("utf8", bytes(data), expect=["not_utf8"])


def truncated(rng: random.Random, n: int) -> Hostile:
    """Cut inside a multi-byte character (not UTF-8), or anywhere."""
    data = _dumps({**base(n), "vendorId": "é日本🚕"})
    start = data.index("🚕".encode())
    if rng.random() < 0.5:
        return Hostile("truncated", data[: start + rng.randint(1, 3)], expect=["not_utf8"])
    return Hostile("truncated", data[: rng.randrange(len(data))])


def boms(rng: random.Random, n: int) -> Hostile:
    """Byte-order marks: UTF-8 (not JSON), UTF-16 and UTF-32 (not UTF-8)."""
    text = json.dumps(base(n))
    choice = rng.randrange(4)
    if choice == 0:
        return Hostile("bom", b"\xef\xbb\xbf" + text.encode(), expect=["not_json"])
    codec = ("utf-16", "utf-32", "utf-16-be")[choice - 1]
    data = text.encode(codec)
    data = data if choice < 3 else b"\xfe\xff" + data
    return Hostile("bom", data, expect=["not_utf8"])


def garbage(rng: random.Random, n: int) -> Hostile:
    """Empty, blank, bare JSON scalars, random bytes, random ASCII."""
    choice = rng.randrange(4)
    if choice == 0:
        return Hostile(
            "garbage", rng.choice([b"", b" ", b"\n", b"null", b"[]", b"{}", b'"s"', b"1"])
        )
    if choice == 1:
        return Hostile("garbage", rng.randbytes(rng.randrange(300)))
    text = "".join(rng.choice('{}[]":,0123456789.eE-+ truefalsnul\\') for _ in range(200))
    return Hostile("garbage", text.encode())


def stamps(rng: random.Random, n: int) -> Hostile:
    """Timestamps at and past the ends of time, impossible ones, other scripts' digits."""
    stamp = rng.choice(STAMPS)
    expect = "bad_timestamp" if stamp in OUT_OF_RANGE_STAMPS else None
    return Hostile("stamps", _dumps({**base(n), "pickupDate": stamp}), expect=[expect])


def kpl_corrupt(rng: random.Random, n: int) -> Hostile:
    """An aggregate that is truncated or lies about its lengths: one dead letter, whole."""
    entries = [(f"k{i}", _dumps(base(n + i))) for i in range(rng.randint(2, 6))]
    message = kpl.aggregate(entries)[len(kpl.MAGIC) : -kpl.DIGEST_BYTES]
    cut = rng.randrange(len(message))
    record = b"\x08\x00\x1a\x01x"
    lies = [
        kpl.MAGIC + message[:cut] + _md5(message)[: rng.randrange(16)],  # truncated, stale MD5
        _framed(message + b"\x1a" + _varint(len(message) + rng.randint(1, 2**40))),  # overlong
        _framed(b"\x0a\x01k\x1a" + _varint(len(record) - 1) + record),  # shorter than its data
        _framed(b"\x0a\x01k\x1a" + b"\xff" * 9 + b"\x01" + record),  # a 10-byte varint length
        _framed(b"\x0a\x01k\x1a" + b"\xff" * 11),  # a varint longer than 10 bytes
        _framed(b"\x0a\x01k\x1a\x0e\x08" + b"\xff" * 9 + b"\x01\x1a\x01x"),  # key index 2**64-1
        _framed(b"\x0a\x01k" + b"\x1a\x00" * rng.randint(1, 5_000)),  # records without data
        _framed(b"\x0a\x01k" * rng.randint(1, 5_000)),  # keys, no records
        _framed(b"\x0a\x01k\x1a\x05\x08\x00\x1b\x01x"),  # group wire type
        kpl.MAGIC + rng.randbytes(rng.randrange(16)),  # shorter than magic + MD5
        kpl.MAGIC + rng.randbytes(rng.randrange(16, 400)),  # random, MD5 (almost surely) wrong
        _framed(b"\x0a\x01k\x1a\xff\xff\xff\xff\x0f" + record),  # a 4 GiB user record
    ]
    return Hostile("kpl-corrupt", rng.choice(lies), expect=["bad_kpl_aggregate"])


def kpl_members(rng: random.Random, n: int, make: Callable[[], Hostile]) -> Hostile:
    """A well-formed aggregate whose user records are good trips, hostile data, or aggregates."""
    entries: list[tuple[str, bytes]] = []
    expect: list[str | None] = []
    trips = []
    for i in range(rng.randint(1, 8)):
        pick = rng.random()
        if pick < 0.3:
            trips.append(good_trip(rng, n * 100 + i))
            entries.append((f"m{i}", _dumps(trips[-1])))
            expect.append(COUNTED)
        elif pick < 0.4:  # an aggregate inside an aggregate is one user record, not UTF-8
            entries.append((f"m{i}", kpl.aggregate([("x", _dumps(good_trip(rng, -1)))])))
            expect.append("not_utf8")
        else:
            member = make()
            entries.append((f"m{i}", member.data or b""))
            expect.append(member.expect[0] if member.expect[0] != "bad_kpl_aggregate" else None)
    return Hostile("kpl-members", kpl.aggregate(entries), expect=expect, trips=trips)


def foreign(rng: random.Random, n: int) -> Hostile:
    """A record that is not a Kinesis record: other event sources, and what JSON cannot hold."""
    cyclic: dict[str, Any] = {"eventID": f"cycle-{n}"}
    cyclic["self"] = cyclic
    records: list[Any] = [
        {"eventID": f"sqs-{n}", "messageId": str(n), "body": "{}", "eventSource": "aws:sqs"},
        {"eventID": f"ddb-{n}", "eventName": "INSERT", "dynamodb": {"Keys": {"Id": {"N": "1"}}}},
        {"eventID": f"deep-{n}", "kinesis": DEEP_DICT},
        {"eventID": DEEP_LIST, "n": n},
        cyclic,
        {"eventID": f"keys-{n}", (1, 2): "a key JSON cannot hold"},
        {"eventID": f"kinesis-{n}", "kinesis": "not a mapping"},
        {"eventID": f"noseq-{n}", "kinesis": {"data": "e30="}},
        f"a text record {n}",
        n,
        [n, "a list"],
    ]
    return Hostile("foreign", record=rng.choice(records), expect=["not_kinesis_record"])


def not_base64(rng: random.Random, n: int) -> Hostile:
    """Kinesis data that is not base64 text: bad alphabet or padding, other types, deep lists."""
    values = ["!!!", "e30", "e30=\n", "é", 5, 1.5, True, [1], {"a": 1}, DEEP_LIST]
    return Hostile("not-base64", sent_data=(rng.choice(values),), expect=["not_base64"])


def odd_arrival(rng: random.Random, n: int, make: Callable[[], Hostile]) -> Hostile:
    """An arrival timestamp that is not a usable number, on a good trip or a hostile record."""
    arrival = (rng.choice([float("nan"), float("inf"), -1e300, 1e300, "x", None, True, -5]),)
    if rng.random() < 0.5:
        trip = good_trip(rng, n)
        return Hostile("arrival", _dumps(trip), arrival=arrival, expect=[COUNTED], trips=[trip])
    member = make()
    return Hostile("arrival", member.data, arrival=arrival, expect=member.expect[:1])


def nested(leaf: Any, depth: int) -> Any:
    """``leaf`` inside ``depth`` one-element lists or one-key objects, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if isinstance(leaf, list) else {"a": value}
    return value


DEEP_DICT = nested({}, 5000)  # shared: the handler only reads records
DEEP_LIST = nested([], 5000)


def _framed(message: bytes) -> bytes:
    return kpl.MAGIC + message + _md5(message)


def _md5(message: bytes) -> bytes:
    return hashlib.md5(message).digest()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


KINDS: tuple[Callable[[random.Random, int], Hostile], ...] = (
    deep, numbers, long_strings, many_keys, duplicate_keys, types, control, bad_utf8, truncated,
    boms, garbage, stamps, kpl_corrupt,
)  # fmt: skip
