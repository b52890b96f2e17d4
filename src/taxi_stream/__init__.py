"""taxi-stream: tumbling-window totals of NYC taxi trips per vendor, stored exactly once."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
