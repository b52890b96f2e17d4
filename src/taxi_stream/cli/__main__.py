"""``python -m taxi_stream.cli``: the same as the ``taxi-stream`` command."""

from taxi_stream.cli import main

main()
