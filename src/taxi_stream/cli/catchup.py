"""The command that counts what a cut-short drain left in the stream, as the run counted it."""

from __future__ import annotations

from taxi_stream.app.process import EventSettings, ProcessOptions
from taxi_stream.app.wiring import Settings
from taxi_stream.cli.options import DEFAULT_WINDOW_S


def catch_up_command(settings: Settings, window_seconds: int, options: ProcessOptions) -> str:
    """The command that drains this run's stream into its store as this run counted: the same
    windows, clock, handler and event-time rules (the flags that are not the defaults)."""
    flags = [f"--data-dir {settings.data_dir}"]
    if not options.ours:
        flags.append(f"--handler {options.handler}")
    if options.clock != "arrival":
        flags.append(f"--clock {options.clock}")
        given, default = options.event, EventSettings()
        for name, value, usual in (
            ("event-time", given.event_time, default.event_time),
            ("max-out-of-orderness", given.max_out_of_orderness_s, default.max_out_of_orderness_s),
            ("allowed-lateness", given.allowed_lateness_s, default.allowed_lateness_s),
            ("late", given.late, default.late),
        ):
            flags += [] if value == usual else [f"--{name} {value}"]
    if options.naive_timezone != "UTC":
        flags.append(f"--naive-timezone {options.naive_timezone}")
    if settings.stream_url != "local":
        flags.append(f"--stream {settings.stream_url}")
    if settings.store_url != "local":
        flags.append(f"--store {settings.store_url}")
    if window_seconds != DEFAULT_WINDOW_S:
        flags.append(f"--window-seconds {window_seconds}")
    return f"taxi-stream process {' '.join(flags)} --until-idle"
