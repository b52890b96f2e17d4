"""Replays of real trip files (TLC yellow and green, every era; Kaggle), one record per row.

``layouts`` tells the file from its header, ``files`` reads it in bounded blocks, ``times`` and
``values`` turn columns into JSON text, ``records`` builds the wire records, ``pacing`` says when
each is due and ``replayer`` sends them.
"""
