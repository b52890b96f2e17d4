"""The pure core: trips and their parsing, window math, exact totals, errors (stdlib only)."""
