"""Option values shared by the two front ends (``equivcheck`` CLI and the pytest plugin).

Each front end turns the ``ValueError`` into its own one-line usage error
(argparse's, or ``pytest.UsageError``), naming the option.
"""
from __future__ import annotations


def csv(text: str | None) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; None or empty → ``[]``.

    >>> csv(" torch, jax ,")
    ['torch', 'jax']
    """
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def whole_number(text, minimum: int, hint: str = "") -> int:
    """A whole number ``>= minimum``; a ``ValueError`` whose message names the bound otherwise."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"must be >= {minimum}, got {value}{hint}")
    return value
