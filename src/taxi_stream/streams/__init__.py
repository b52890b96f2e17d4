"""Where records travel: the embedded log (local.py), Kinesis (kinesis.py), KPL (kpl.py)."""
