"""Test support code: handlers as fixtures, harnesses and the readers tests share."""
