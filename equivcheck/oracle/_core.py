"""The oracle's foundations: its error, argument normalisation and the four building blocks.

``_pad`` (pad or crop the spatial axes), ``_dilate`` (zero insertion), ``_windows`` (strided view
of every kernel window) and ``_correlate`` (the contraction of the windows with the kernel: the
definition of every conv-family op, which :mod:`equivcheck.oracle_fast` computes faster and is
tested against).  ``same_padding`` lives here because it is what ``padding='same'`` means.
NumPy and the standard library only.
"""

import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class OracleError(ValueError):
    """Invalid arguments given to an oracle function.

    The message names the op, the offending argument and the shapes.

    >>> try:
    ...     conv(np.zeros((1, 3, 5)), np.zeros((2, 2, 3)))
    ... except OracleError as e:
    ...     print(e)
    conv: input has 3 channels but kernel expects 2 per group × groups=1 (input shape (1, 3, 5), kernel shape (2, 2, 3))
    """


# --------------------------------------------------------------------------
# argument normalisation
# --------------------------------------------------------------------------

def _f64(a, op, name):
    if np.iscomplexobj(a):
        raise OracleError(f"{op}: {name} is complex; the oracle is real float64 only")
    return np.asarray(a, dtype=np.float64)


def _ints(value, nd, name, op, minimum=None):
    """An int or a length-``nd`` sequence of ints -> tuple of ``nd`` ints."""
    if isinstance(value, (str, bytes)):
        raise OracleError(f"{op}: {name}={value!r} must be an int or a sequence of {nd} ints")
    try:
        vals = (operator.index(value),) * nd
    except TypeError:
        try:
            vals = tuple(operator.index(v) for v in value)
        except TypeError:
            raise OracleError(
                f"{op}: {name}={value!r} must be an int or a sequence of {nd} ints") from None
        if len(vals) != nd:
            raise OracleError(
                f"{op}: {name}={value!r} has {len(vals)} entries but there are "
                f"{nd} spatial dims") from None
    if minimum is not None and any(v < minimum for v in vals):
        raise OracleError(f"{op}: {name}={value!r} must be >= {minimum} in every dim")
    return vals


def _pad_pairs(padding, nd, op, spatial=None, k=None, stride=None, dilation=None):
    """Normalise ``padding`` to a tuple of ``nd`` ``(before, after)`` pairs.

    Accepts an int, ``nd`` ints, ``nd`` pairs, ``'valid'`` or (when the
    spatial sizes are given) ``'same'``.
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * nd
        if mode == "same" and spatial is not None:
            return tuple(same_padding(n, kk, s, d)
                         for n, kk, s, d in zip(spatial, k, stride, dilation))
        raise OracleError(
            f"{op}: padding={padding!r} not supported here; use an int, {nd} ints, "
            f"{nd} (before, after) pairs" + (", 'valid' or 'same'" if spatial is not None
                                              else " or 'valid'"))
    bad = OracleError(
        f"{op}: padding={padding!r} must be an int, {nd} ints or {nd} (before, after) "
        f"pairs (one per spatial dim)")
    try:
        p = operator.index(padding)
        pairs = ((p, p),) * nd
    except TypeError:
        try:
            items = list(padding)
        except TypeError:
            raise bad from None
        if len(items) != nd:
            raise bad
        pairs = []
        for item in items:
            try:
                q = operator.index(item)
                pairs.append((q, q))
                continue
            except TypeError:
                pass
            try:
                pair = tuple(operator.index(v) for v in item)
            except TypeError:
                raise bad from None
            if len(pair) != 2:
                raise bad
            pairs.append(pair)
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise OracleError(f"{op}: negative padding {padding!r} is not supported")
    return pairs


def _budget(budget_bytes):
    if budget_bytes is not None:
        return int(budget_bytes)
    # the package's constant, looked up at call time: that is where callers and tests set it
    from equivcheck import oracle
    return oracle.IM2COL_BUDGET_BYTES


# --------------------------------------------------------------------------
# the four building blocks
# --------------------------------------------------------------------------

def _pad(x, pairs, value=0.0):
    """Pad the trailing ``len(pairs)`` axes by ``(before, after)`` each.

    Negative entries crop instead of padding (applied after the padding, so a
    crop may eat into padding added at the other end).
    """
    lead = x.ndim - len(pairs)
    widths = ((0, 0),) * lead + tuple((max(b, 0), max(a, 0)) for b, a in pairs)
    if any(w != (0, 0) for w in widths):
        # np.full + one slice assignment: same result as np.pad(mode="constant"), a
        # fraction of its per-call overhead (the suite makes thousands of small calls)
        padded = np.full(tuple(n + b + a for n, (b, a) in zip(x.shape, widths)), value,
                         dtype=x.dtype)
        padded[tuple(slice(b, b + n) for n, (b, a) in zip(x.shape, widths))] = x
        x = padded
    if any(b < 0 or a < 0 for b, a in pairs):
        x = x[(slice(None),) * lead + tuple(
            slice(max(-b, 0), x.shape[lead + i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))]
    return x


def _dilate(x, factors):
    """Zero insertion along the trailing ``len(factors)`` axes.

    ``factors[i] - 1`` zeros go between neighbours: size ``n -> (n-1)*f + 1``.
    """
    if all(f == 1 for f in factors):
        return x
    lead = x.ndim - len(factors)
    shape = x.shape[:lead] + tuple(
        (n - 1) * f + 1 if n > 0 else 0 for n, f in zip(x.shape[lead:], factors))
    out = np.zeros(shape, dtype=x.dtype)
    out[(slice(None),) * lead + tuple(slice(None, None, f) for f in factors)] = x
    return out


def _windows(x, k, stride, dilation):
    """Strided view ``(*lead, *out, *k)`` of every kernel window.

    Windows run over the trailing ``len(k)`` axes of ``x``; no data is copied.
    """
    lead = x.ndim - len(k)
    span = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation))
    view = sliding_window_view(x, span, axis=tuple(range(lead, x.ndim)))
    return view[(slice(None),) * lead
                + tuple(slice(None, None, s) for s in stride)
                + tuple(slice(None, None, d) for d in dilation)]


def _correlate(xp, w, stride, dilation, groups):
    """The definition of cross-correlation of a padded ``xp`` ``(N, C, *sp)`` with ``w`` ``(O, C/G, *k)``.

    y[n, g*Og + o, p] = sum over c < C/G and kernel offsets j of
    windows(xp)[n, g*C/G + c, p, j] * w[g*Og + o, c, j]: one contraction of the
    window view per group.  The ops compute this through
    :func:`equivcheck.oracle_fast.correlate`; this plain form is what that is
    tested against.
    """
    N, C = xp.shape[:2]
    O, Cg = w.shape[:2]
    k = tuple(w.shape[2:])
    nd, G = len(k), groups
    win = _windows(xp, k, stride, dilation)                    # (N, C, *o, *k)
    o = win.shape[2:2 + nd]
    win = win.reshape((N, G, Cg) + o + k)
    wg = w.reshape((G, O // G, Cg) + k)
    axes = [1] + list(range(2 + nd, 2 + 2 * nd))               # c and the kernel offsets
    per_group = [np.tensordot(win[:, g], wg[g], axes=(axes, [1] + list(range(2, 2 + nd))))
                 for g in range(G)]                            # each (N, *o, Og)
    return np.moveaxis(np.concatenate(per_group, axis=-1), -1, 1)


# --------------------------------------------------------------------------
# the 'same' rule (public)
# --------------------------------------------------------------------------

def same_padding(n, k, stride=1, dilation=1):
    """TF-style 'SAME' padding ``(before, after)`` for one spatial dim.

    total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0); before = total // 2;
    the odd pixel goes at the end.  The resulting output size is ceil(n/s).

    >>> same_padding(4, 3, stride=2)
    (0, 1)
    >>> same_padding(5, 3)
    (1, 1)
    """
    n, k, s, d = (operator.index(v) for v in (n, k, stride, dilation))
    if n < 0 or k < 1 or s < 1 or d < 1:
        raise OracleError(
            f"same_padding: need n >= 0, k >= 1, stride >= 1, dilation >= 1 "
            f"(got n={n}, k={k}, stride={s}, dilation={d})")
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)
