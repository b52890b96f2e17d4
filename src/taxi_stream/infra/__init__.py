"""Plumbing at the edge: local servers the command line and the tests start."""
