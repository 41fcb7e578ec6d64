"""How torch spells padding: what a functional op's own ``padding=`` takes, and F.pad's argument for
the rest (shared by the adapter's convolutions and its pooling; arguments are first normalised by
:func:`equivcheck.backends.base.padding_pairs`)."""
from __future__ import annotations

from equivcheck.backends.base import padding_pairs


def native_padding(padding, rank, strings=True):
    """Split padding into what torch's own ``padding=`` takes and what remains
    as explicit (before, after) pairs; the remainder is None when torch takes it all.
    Ops whose ``padding=`` takes no strings (``strings=False``) get 'valid' spelled
    as torch spells it, 0; 'same' still goes to torch, which rejects it."""
    if not strings and isinstance(padding, str) and padding == "valid":
        return 0, None
    pairs = padding_pairs(padding, rank)
    if pairs is None or all(b == a for b, a in pairs):
        return (padding if pairs is None else tuple(b for b, _ in pairs)), None
    return 0, pairs


def pad_spec(pairs):
    """F.pad's argument: (before, after) pairs, last spatial axis first."""
    return [v for pair in reversed(pairs) for v in pair]
