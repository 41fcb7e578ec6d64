"""Decoders: from what a framework did on a probe input to the name of the convention it follows.

Each takes NumPy arrays (an output, a kernel shape, returned indices) and returns a name from
:mod:`equivcheck.conventions` or :mod:`equivcheck.layouts`; none of them calls a framework, so the
tests run them on made-up outputs.  Comparisons of computed values go through
:func:`equivcheck.tolerance.compare` at the probes' dtype (float32).

>>> decode_shape((2, 4, 3, 5), {"O": 5, "I": 3, "H": 2, "W": 4})
'HWIO'
"""
from __future__ import annotations

import itertools
import re

import numpy as np

from equivcheck import conventions, layouts, oracle, tolerance
from equivcheck.conventions import describe_split  # noqa: F401  (the report's name of a split)

#: Probes compute in float32: the precision their comparisons assume.
PROBE_DTYPE = "float32"
DIM_SIZES = {"N": 2, "O": 5, "I": 3}
KERNEL_SPATIAL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}
DATA_SPATIAL = {1: (9,), 2: (7, 9), 3: (7, 8, 9)}
GROUPS = 2

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_LOGPREFIX = re.compile(r"^[FEWI]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")


def scrub(message: str, limit: int = 240) -> str:
    """First meaningful line of an error message, without addresses, log prefixes or object ids.

    >>> scrub("F0000 00:00:1795.38  16328 tensor_format.h:428] Check failed: index >= 0")
    'Check failed: index >= 0'
    """
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = _LOGPREFIX.sub("", text)
    text = _ADDRESS.sub("0x…", text)
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {scrub(str(exc))}"


def decode_shape(shape, sizes: dict[str, int]) -> str:
    """Axis letters of ``shape`` given the distinct size of each letter.

    >>> decode_shape((2, 4, 3, 5), {"O": 5, "I": 3, "H": 2, "W": 4})
    'HWIO'
    """
    by_size = {v: k for k, v in sizes.items()}
    if len(by_size) != len(sizes):
        raise ValueError(f"sizes must be distinct to decode a shape: {sizes}")
    return "".join(by_size.get(int(s), "?") for s in shape)


def canonical_sizes(op: str, rank: int) -> dict[str, int]:
    """Distinct per-letter sizes of a probe kernel (O=5, I=3, spatial 2,4,6)."""
    letters = layouts.canonical(op if op != "grouped" else "conv", rank)
    spatial = dict(zip(layouts.SPATIAL[rank], KERNEL_SPATIAL[rank]))
    sizes = {"O": DIM_SIZES["O"], "I": DIM_SIZES["I"], "C": 3, "M": 5, **spatial}
    if op == "grouped":
        sizes.update(O=GROUPS * 3, I=3)  # I is in-channels per group; O=6 with 2 groups
    return {letter: sizes[letter] for letter in letters}


def integer_array(shape, seed: int) -> np.ndarray:
    """Small integers (exact in float32 sums) of ``shape``."""
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(np.float32)


def layout_candidates(canonical: str, rank: int):
    """Axis orders to try: spatial letters kept in canonical order first, then all others."""
    spatial = layouts.SPATIAL[rank]
    ordered, rest = [], []
    for perm in itertools.permutations(canonical):
        text = "".join(perm)
        (ordered if "".join(c for c in text if c in spatial) == spatial else rest).append(text)
    return ordered, rest


def search_layout(call, x, w, want, *, rank: int, kernel_canonical: str, magnitude=None, terms: int | None = None,
                  data_candidates=None, flips=(False,), errors: dict | None = None) -> list[tuple[str, str, bool]]:
    """Find (data layout, kernel layout, flipped) under which ``call`` computes ``want``.

    ``call(x_native, w_native, data_layout)`` runs the framework op and returns a
    NumPy array in ``data_layout``; ``x``/``w``/``want`` are canonical (NC*, OI*).
    An output matches when it is within :func:`equivcheck.tolerance.compare`'s float32 bound of
    ``want`` for ``magnitude`` (Σ|x·w| per output; default: the oracle's conv of |x| and |w|) and
    ``terms`` products per output (default: from the canonical kernel's shape).
    Spatially reordered kernels are tried only when no order keeping D,H,W works.
    ``errors`` (if given) collects the framework's error per (data, kernel) layout tried.
    """
    data_candidates = data_candidates or [layouts.expand("NC*", rank), layouts.expand("N*C", rank)]
    if magnitude is None:
        magnitude = oracle.conv(np.abs(x), layouts.convert(np.abs(w), kernel_canonical, layouts.canonical("conv", rank)))
    terms = tolerance.conv_terms(w.shape) if terms is None else terms
    canonical_data = layouts.expand("NC*", rank)
    ordered, rest = layout_candidates(kernel_canonical, rank)
    found = []
    for candidates in (ordered, rest):
        for data_layout, kernel_layout, flip in itertools.product(data_candidates, candidates, flips):
            kernel = np.flip(w, axis=tuple(range(2, w.ndim))) if flip else w
            try:
                out = call(layouts.convert(x, canonical_data, data_layout),
                           np.ascontiguousarray(layouts.convert(kernel, kernel_canonical, kernel_layout)),
                           data_layout)
                out = layouts.convert(np.asarray(out, dtype=np.float64), data_layout, canonical_data)
            except Exception as exc:
                if errors is not None:
                    errors[(data_layout, kernel_layout)] = error_text(exc)
                continue
            if tolerance.compare(out, want, magnitude=magnitude, terms=terms, dtype=PROBE_DTYPE).ok:
                found.append((data_layout, kernel_layout, flip))
        if found:
            break
    return found


def same_split_from_output(y, n: int, k: int, stride: int) -> tuple[int, int]:
    """(before, after) padding from a 1-D 'same' conv of 1..n with kernel e_0 (first tap).

    y[i] = x[i·s − before] (1-based values, 0 where it reads padding).

    >>> same_split_from_output([1, 3, 5, 7], n=8, k=3, stride=2)
    (0, 1)
    """
    y = [int(round(float(v))) for v in np.ravel(y)]
    out = len(y)
    total = max((out - 1) * stride + k - n, 0)
    for i, value in enumerate(y):
        if value:
            before = i * stride + 1 - value
            return before, total - before
    raise ValueError(f"every output read padding: {y}")


SAME_CASES = (  # (n, k, stride): odd totals show where the extra pixel goes
    (8, 2, 1),
    (8, 4, 1),
    (8, 3, 2),
    (7, 3, 2),
)


def same_item(n, k, s) -> str:
    return f"n={n} k={k} s={s}"


def order_name(sequence, names) -> str:
    """Name the lexicographic axis order of a sequence of index tuples (slowest axis first).

    >>> order_name([(0, 0, 0), (0, 0, 1), (1, 0, 0)], ("C", "kh", "kw"))
    'C,kh,kw'
    >>> order_name([(0, 0, 0), (1, 0, 0), (0, 0, 1)], ("C", "kh", "kw"))
    'kh,kw,C'
    """
    sequence = [tuple(s) for s in sequence]
    for perm in itertools.permutations(range(len(names))):
        if sorted(sequence, key=lambda t: tuple(t[p] for p in perm)) == sequence:
            return ",".join(names[p] for p in perm)
    return "irregular"


def pixel_shuffle_order(mapping, channels_out: int, r: int) -> str:
    """The :data:`equivcheck.conventions.SHUFFLE_ORDERS` key ('CRD', 'DCR') of ``mapping[c][y][x]``, the
    input channel landing at output (c, y, x); 'other' for neither."""
    for key, convention in conventions.SHUFFLE_ORDERS.items():
        if all(int(round(float(mapping[c][i][j]))) == convention.formula(c, i, j, r, channels_out)
               for c in range(channels_out) for i in range(r) for j in range(r)):
            return convention.report
    return "other"


def unshuffle_order(values, channels_out: int, r: int) -> str:
    """Order of a space → depth op from its output channels on an arange (1, C, r, r) input.

    >>> unshuffle_order([0, 1, 2, 3, 4, 5, 6, 7], 2, 2)
    'CRD'
    """
    mapping = np.zeros((channels_out, r, r), dtype=int)
    for channel, value in enumerate(np.ravel(values)):
        c, i, j = np.unravel_index(int(round(float(value))), (channels_out, r, r))
        mapping[c, i, j] = channel
    return pixel_shuffle_order(mapping, channels_out, r)


def table_kernel(framework: str, op: str, rank: int, api: str) -> str | None:
    try:
        return layouts.kernel_layout(framework, op, rank, api=api)
    except layouts.LayoutError:
        return None


def compare_layout(probed: str | None, table: str | None) -> bool | None:
    if probed is None or table is None:
        return None
    return probed == table


def flatten_order_from(values, canonical_shape) -> str:
    """Axis order (slowest first) of a flattened arange made from a canonical (1, C, H, W) map."""
    positions = [np.unravel_index(int(round(float(v))), canonical_shape)[1:] for v in np.ravel(values)]
    return order_name(positions, ("C", "H", "W"))


def patch_order_from(features, canonical_shape) -> str:
    """Feature order of the first patch (at the origin) of an arange (1, C, H, W) input."""
    positions = [np.unravel_index(int(round(float(v))), canonical_shape)[1:] for v in np.ravel(features)]
    return order_name(positions, ("C", "kh", "kw"))


def argmax_convention(indices_canonical, shape, window: int = 2) -> str:
    """Which :data:`equivcheck.conventions.ARGMAX` convention the max-pool indices follow (its report
    name), for an increasing arange input (max = bottom-right of each window)."""
    N, C, H, W = shape
    idx = np.asarray(indices_canonical)
    for key in conventions.REPORTED_ARGMAX:
        convention = conventions.ARGMAX[key]
        ok = True
        for n, c, oh, ow in np.ndindex(idx.shape):
            h, w = oh * window + window - 1, ow * window + window - 1
            ok &= int(idx[n, c, oh, ow]) == convention.index(n=n, c=c, pos=h * W + w, channels=C, plane=H * W)
        if ok:
            return convention.report
    return "none of the known conventions"
