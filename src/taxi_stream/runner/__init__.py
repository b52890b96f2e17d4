"""The local event-source mapping: Lambda's Kinesis tumbling-window semantics on one machine."""
