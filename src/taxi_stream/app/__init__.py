"""Use cases behind the CLI (produce, process, run) and the one place that wires adapters."""
