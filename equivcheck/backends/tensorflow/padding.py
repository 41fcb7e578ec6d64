"""How ``tf.nn`` spells padding: a word ('SAME'/'VALID') or one explicit [before, after] per axis.

Shared by the adapter's functional ops and its pooling; arguments are first normalised by
:func:`equivcheck.backends.base.padding_spec`."""
from __future__ import annotations

from equivcheck.backends.base import padding_spec


def is_seq(value):
    return not isinstance(value, str) and hasattr(value, "__len__")


def pad_spec(padding, rank):
    """'SAME'/'VALID' (or another string, for TF to judge) or ``rank`` (before, after) pairs."""
    spec = padding_spec(padding, rank)
    return spec if isinstance(spec, str) or any(map(any, spec)) else "VALID"  # padding 0 is spelled 'VALID' in TF


def pad_list(layout, pairs):
    """Explicit TF padding ``[[before, after], ...]`` over every axis of ``layout``."""
    spatial = [a for a in layout if a not in "NC"]
    return [list(pairs[spatial.index(a)]) if a in spatial else [0, 0] for a in layout]
