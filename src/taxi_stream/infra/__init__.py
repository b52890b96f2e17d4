"""Plumbing: boto3 clients built one way, SQLite connections, the wall clock, local AWS servers."""
