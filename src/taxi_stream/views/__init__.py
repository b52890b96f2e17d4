"""The terminal views of `run`, `process` and `query`, each readable at 80 columns."""
