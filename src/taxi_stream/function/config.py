"""The handler's settings: the window clock and size, the zone of naive times, the event clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_MAX_OUT_OF_ORDERNESS_S,
    EventTime,
    LatePolicy,
    check_bound_s,
    late_policy,
)
from taxi_stream.core.watermarks import event_time as event_time_named
from taxi_stream.core.windows import WindowClock, check_window_seconds, window_clock
from taxi_stream.function.eventtime import EventRules

CLOCKS: Final = tuple(clock.value for clock in WindowClock)  # as flags spell them


@dataclass(frozen=True, slots=True, init=False)
class HandlerConfig:
    """How the handler windows trips; checks its own values.

    ``clock`` takes a WindowClock or its text (as a flag or the environment spells it).
    """

    clock: WindowClock
    window_seconds: int  # event clock, or arrival clock when the event has no window
    naive_timezone: str  # zone of wire timestamps written without an offset
    event_time: EventTime  # event clock: the pickup or the dropoff
    max_out_of_orderness_s: int  # event clock: watermark = max event time - this
    allowed_lateness_s: int  # event clock: a trip is late this long after its window's end
    late: LatePolicy  # event clock: late trips counted, or dead-lettered

    def __init__(
        self,
        clock: WindowClock | str = WindowClock.ARRIVAL,
        window_seconds: int = 60,
        naive_timezone: str = "UTC",
        *,
        event_time: EventTime | str = EventTime.PICKUP,
        max_out_of_orderness_s: int = DEFAULT_MAX_OUT_OF_ORDERNESS_S,
        allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S,
        late: LatePolicy | str = LatePolicy.COUNT,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "clock", window_clock(clock))
        set_(self, "window_seconds", check_window_seconds(window_seconds))
        set_(self, "naive_timezone", naive_timezone)
        set_(self, "event_time", event_time_named(event_time))
        set_(
            self,
            "max_out_of_orderness_s",
            check_bound_s(max_out_of_orderness_s, "max out-of-orderness"),
        )
        set_(self, "allowed_lateness_s", check_bound_s(allowed_lateness_s, "allowed lateness"))
        set_(self, "late", late_policy(late))
        self.tz()

    def rules(self) -> EventRules:
        """The event clock's settings in ms, as the fold takes them."""
        return EventRules(
            self.window_seconds * 1000,
            self.max_out_of_orderness_s * 1000,
            self.allowed_lateness_s * 1000,
            self.late,
        )

    def tz(self) -> tzinfo:
        """The zone for naive timestamps."""
        return naive_zone(self.naive_timezone)


def naive_zone(name: str) -> tzinfo:
    """The zone ``name`` names (``UTC`` in any case, or an IANA name); else ConfigError."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone: {name!r}") from None
