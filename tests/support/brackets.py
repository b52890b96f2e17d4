"""A handler whose every call fails with a message that reads like terminal markup and emoji."""

from __future__ import annotations

from typing import Any, Final

MESSAGE: Final = (
    "boom [/x] [red] :smile:"  # a closing tag that opens nothing, a style, an emoji code
)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail the batch, whatever it holds."""
    raise RuntimeError(MESSAGE)
