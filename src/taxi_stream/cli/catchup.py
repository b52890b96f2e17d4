"""The command that counts what a cut-short drain left in the stream, as the run counted it."""

from __future__ import annotations

import shlex

from taxi_stream.app.process import EventSettings, ProcessOptions
from taxi_stream.app.wiring import Settings
from taxi_stream.cli.options import DEFAULT_WINDOW_S


def catch_up_command(settings: Settings, window_seconds: int, options: ProcessOptions) -> str:
    """The command that drains this run's stream into its store as this run counted: the same
    windows, clock, handler and event-time rules (the flags that are not the defaults), each
    value quoted for the shell (a data dir may hold a space)."""
    given, default = options.event, EventSettings()
    event = options.clock != "arrival"
    flags: list[tuple[str, object, bool]] = [  # (flag, value, given)
        ("data-dir", settings.data_dir, True),
        ("handler", options.handler, not options.ours),
        ("clock", options.clock, event),
        ("event-time", given.event_time, event and given.event_time != default.event_time),
        (
            "max-out-of-orderness",
            given.max_out_of_orderness_s,
            event and given.max_out_of_orderness_s != default.max_out_of_orderness_s,
        ),
        (
            "allowed-lateness",
            given.allowed_lateness_s,
            event and given.allowed_lateness_s != default.allowed_lateness_s,
        ),
        ("late", given.late, event and given.late != default.late),
        ("naive-timezone", options.naive_timezone, options.naive_timezone != "UTC"),
        ("stream", settings.stream_url, settings.stream_url != "local"),
        ("store", settings.store_url, settings.store_url != "local"),
        ("window-seconds", window_seconds, window_seconds != DEFAULT_WINDOW_S),
    ]
    words = [f"--{flag} {shlex.quote(str(value))}" for flag, value, shown in flags if shown]
    return f"taxi-stream process {' '.join(words)} --until-idle"
