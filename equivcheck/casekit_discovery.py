"""Helpers that discover a framework's native spelling of a convention by trying candidates.

Design rules (those of :mod:`equivcheck.casekit`): nothing here decides a verdict.  Each helper runs
the candidate settings through the framework's own native op and keeps those whose result fits the
oracle (:meth:`equivcheck.checker.Checker.fits`, the op's derived bound); the case body records what
was found as a fact.  A candidate the framework rejects is simply not a match: the native calls here
are the probe itself, and the claim's checks run elsewhere, through the adapter.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from equivcheck import layouts, oracle


def native_conv_transpose(bk, p, padding, transpose_kernel):
    """The native op, jitted once per setting: ``flax.linen.ConvTranspose`` or ``lax.conv_transpose``, canonical
    data in and out, the kernel in the layout the native op takes."""
    rank, k, s, d = len(p.out), p.k, p.stride, p.dilation
    if bk.framework_name == "flax":
        module = bk.linen.ConvTranspose(features=p.c_in, kernel_size=(k,) * rank, strides=(s,) * rank,
                                        padding=padding, kernel_dilation=(d,) * rank, transpose_kernel=transpose_kernel,
                                        use_bias=False, dtype=bk.dtype, param_dtype=bk.dtype)

        def run(y, kernel):
            return bk.from_native(module.apply({"params": {"kernel": kernel}}, bk.to_native(y)))
    else:
        spatial = layouts.SPATIAL[rank]

        def run(y, kernel):
            return bk.lax.conv_transpose(y, kernel, (s,) * rank, padding, rhs_dilation=(d,) * rank,
                                         dimension_numbers=("NC" + spatial, "OI" + spatial, "NC" + spatial),
                                         transpose_kernel=transpose_kernel)
    return bk.jax.jit(run)


def conv_transpose_settings(bk, ctx, y, w, p):
    """JAX / Flax: which native ``conv_transpose`` settings give PyTorch's conv_transpose, for every
    output_padding?  Every candidate is run (jitted once, for the plain and the flipped kernel); the ones
    that match the oracle (:meth:`~equivcheck.checker.Checker.fits`) are returned, per output size.  ``p``: the
    example of ``conv_transpose_output_padding`` (``out``, ``k``, ``stride``, ``padding``, ``dilation``,
    ``c_in``); ``w`` the conv kernel (O, I, *k), read by conv_transpose as (I_t, O_t, *k)."""
    rank, k, s, pad, d = len(p.out), p.k, p.stride, p.padding, p.dilation
    span = d * (k - 1)
    paddings = {"'VALID'": "VALID", "'SAME'": "SAME"}
    paddings.update({f"(d(k-1)-p, d(k-1)-p+{extra})": ((span - pad, span - pad + extra),) * rank for extra in range(s)})
    targets = [dict(stride=s, padding=pad, output_padding=extra, dilation=d) for extra in range(s)]
    targets = [(tr_kw, oracle.conv_transpose(y, w, **tr_kw)) for tr_kw in targets]
    found = {extra: [] for extra in range(s)}
    yt = bk.asarray(y)
    for transpose_kernel in (False, True):
        if bk.framework_name == "flax":
            # linen.ConvTranspose's kernel is (*k, I, O), or (*k, O, I) with transpose_kernel=True
            layout = layouts.expand("*OI" if transpose_kernel else "*IO", rank)
            arrangements = {f"flax.linen.ConvTranspose kernel {layout}":
                            layouts.convert(w, layouts.canonical("conv_transpose", rank), layout)}
        else:
            # lax.conv_transpose is told the kernel is 'OI*': PyTorch's (I, O, *k) as is, or with I/O swapped
            arrangements = {"PyTorch's (I, O, *k) weight as lax's 'OI*' kernel": w,
                            "PyTorch's weight with I/O swapped, (O, I, *k), as lax's 'OI*' kernel": w.swapaxes(0, 1)}
        for kernel_name, kernel in arrangements.items():
            native_spatial = tuple(i for i, n in enumerate(kernel.shape) if i >= kernel.ndim - rank) \
                if bk.framework_name == "jax" else tuple(range(rank))
            for pad_name, padding in paddings.items():
                run = native_conv_transpose(bk, p, padding, transpose_kernel)
                for flipped in (False, True):
                    candidate = np.flip(kernel, axis=native_spatial) if flipped else kernel
                    try:
                        got = ctx.numpy(run(yt, bk.asarray(candidate)))
                    except Exception:  # noqa: BLE001 - a candidate the framework rejects is simply not a match
                        break
                    for tr_kw, want in targets:
                        if ctx.fits(got, want, oracle.conv_transpose, y, w, **tr_kw):
                            found[tr_kw["output_padding"]].append({
                                "transpose_kernel": transpose_kernel, "kernel": kernel_name,
                                "kernel_spatially_flipped": flipped, "padding": pad_name,
                                "padding_value": padding if isinstance(padding, str) else [list(q) for q in padding]})
    smallest = (p.out[0] - 1) * s + span + 1 - 2 * pad
    return {f"input size {smallest + extra} (output_padding {extra})": found[extra] for extra in range(s)}


def argmax_conventions(pos, shape):
    """Candidate encodings of the switch position ``pos`` (row-major index into each (n, c) plane,
    shape (N, C, *out)) for an input of ``shape`` (N, C, *spatial)."""
    n_count, channels = shape[:2]
    plane = math.prod(shape[2:])
    extra = (1,) * (pos.ndim - 2)
    n = np.arange(n_count).reshape(-1, 1, *extra)
    c = np.arange(channels).reshape(1, -1, *extra)
    return {
        "per (n, c) plane, row-major over the spatial axes: h·W + w": pos,
        "channels-last within each sample: (h·W + w)·C + c": pos * channels + c,
        "channels-last over the whole batch: ((n·H + h)·W + w)·C + c": (n * plane + pos) * channels + c,
        "row-major over the whole NCHW tensor: ((n·C + c)·H + h)·W + w": (n * channels + c) * plane + pos,
    }


def decode_argmax(name, index, shape):
    """Inverse of :func:`_conventions`: the framework's index → row-major index into each (n, c) plane."""
    n_count, channels = shape[:2]
    plane = math.prod(shape[2:])
    extra = (1,) * (index.ndim - 2)
    n = np.arange(n_count).reshape(-1, 1, *extra)
    c = np.arange(channels).reshape(1, -1, *extra)
    if name.startswith("per (n, c)"):
        return index
    if name.startswith("channels-last within"):
        return index // channels
    if name.startswith("channels-last over"):
        return index // channels - n * plane
    return index - (n * channels + c) * plane


def distinct_ranks(values):
    """The ranks of ``values`` (ties broken by position), centred: distinct small integers, exact in any dtype."""
    order = np.argsort(values.ravel(), kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    return (ranks - values.size // 2).reshape(values.shape)


#: What each candidate channel permutation means (perm: the depth_to_space input channel q takes x[:, perm[q]]).
SHUFFLE_PERMUTATIONS = {
    "identity": lambda c_out, block: np.arange(c_out * block),
    "perm[b·C' + c] = c·r² + b  (b = i·r + j, the offset inside the r×r block; c the output channel)":
        lambda c_out, block: np.arange(c_out * block).reshape(c_out, block).T.ravel(),
    "perm[c·r² + b] = b·C' + c": lambda c_out, block: np.arange(c_out * block).reshape(block, c_out).T.ravel(),
}

#: Where channel q of the input lands: out[c, h·r + i, w·r + j] = in[formula(c, i, j)].
SHUFFLE_ORDERS = {
    "CRD: in[c·r² + i·r + j]": lambda c, i, j, r, c_out: c * r * r + i * r + j,
    "DCR: in[(i·r + j)·C' + c]": lambda c, i, j, r, c_out: (i * r + j) * c_out + c,
}


def shuffle_order(ctx, out, r, c_out):
    """Which channel order an op used, read off its output for an input whose values are the channel index."""
    out = np.rint(ctx.numpy(out)).astype(np.int64)[0]           # (C', H·r, W·r) of channel indices
    c, hr, wr = np.meshgrid(np.arange(c_out), np.arange(out.shape[1]), np.arange(out.shape[2]), indexing="ij")
    return [name for name, formula in SHUFFLE_ORDERS.items()
            if np.array_equal(out, formula(c, hr % r, wr % r, r, c_out))]


def discover_pads(ctx, got, x, w, stride, dilation):
    """The (before, after) pads per spatial dimension that make ``oracle.conv(x, w)`` reproduce ``got`` (e.g. a
    framework's 'same'), found by trying every split with the right output size, smallest total first and
    only the smallest total that fits; None when no split, or more than one, fits (:meth:`Checker.fits`).

    >>> from equivcheck.checker import Checker
    >>> ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
    >>> x, w = np.arange(1.0, 5.0).reshape(1, 1, 4), np.array([[[1.0, 2.0, 4.0]]])
    >>> discover_pads(ctx, oracle.conv(x, w, stride=2, padding=[(0, 1)]), x, w, 2, 1)
    ((0, 1),)
    """
    per_dim_pairs = []
    for n, k, o in zip(x.shape[2:], w.shape[2:], got.shape[2:]):
        span = dilation * (k - 1) + 1
        pairs = [(b, a) for b in range(span) for a in range(span)
                 if (n + b + a - span) // stride + 1 == o and n + b + a >= span]
        per_dim_pairs.append(sorted(pairs, key=lambda pair: (sum(pair), pair)))
    candidates = sorted(itertools.product(*per_dim_pairs), key=lambda pads: (sum(map(sum, pads)), pads))
    matches = []
    for pads in candidates:
        if matches and sum(map(sum, pads)) > sum(map(sum, matches[0])):
            break  # only the smallest padding that matches: larger ones add pixels no window reads
        kw = dict(stride=stride, padding=pads, dilation=dilation)
        if ctx.fits(got, oracle.conv(x, w, **kw), oracle.conv, x, w, sides=1, **kw):
            matches.append(pads)
    return matches[0] if len(matches) == 1 else None


def record_same_split(ctx, pads, x, w, stride, dilation, illustrative=()):
    """Facts of a discovered 'same' split ``pads`` (:func:`discover_pads`) of ``conv(x, w)``:
    the rule (before = total // 2) or where the split deviates from it, the side the odd pixel goes to, and
    the pads themselves for the shapes ``(n, k, stride, dilation)`` in ``illustrative``."""
    for n, k, (before, after) in zip(x.shape[2:], w.shape[2:], pads):
        if (n, k, stride, dilation) in illustrative:
            ctx.fact(f"'same' pads (before, after) for n={n}, k={k}, stride={stride}, dilation={dilation}",
                     [before, after])
        total = before + after
        if before == total // 2:
            ctx.fact("'same' split rule", "before = total // 2, after = total - before")
        else:  # its own key, so that later examples cannot overwrite it (the support check fails too)
            ctx.fact(f"'same' split deviates from before = total // 2 at n={n}, k={k}, stride={stride}, "
                     f"dilation={dilation}", [before, after])
        if total % 2:
            ctx.fact("odd pixel of 'same' padding goes at the", "end" if after > before else "start")


def flat_index(order: str) -> str:
    """Row-major flat index of a map laid out in ``order``: 'CHW' → '(c*H + h)*W + w'."""
    expr = order[0].lower()
    for axis in order[1:]:
        expr = (f"({expr})" if "+" in expr else expr) + f"*{axis} + {axis.lower()}"
    return expr


def column_order_rule(src: str, order: str) -> dict:
    """How a Dense weight whose input columns follow the flatten order ``src`` (e.g. 'CHW') is ported to a
    flatten in ``order`` (e.g. 'HWC'): both flat indices, the NumPy expression and the column rule.

    >>> column_order_rule("CH", "HC")["rule"]
    'ported[:, h*C + c] = w[:, c*H + h]'
    """
    axes = (0, *(1 + src.index(a) for a in order))
    return {"nchw_flatten_index": flat_index(src), "nhwc_flatten_index": flat_index(order),
            "ported_weight": f"w.reshape(O, {', '.join(src)}).transpose{axes}.reshape(O, {'*'.join(order)})",
            "rule": f"ported[:, {flat_index(order)}] = w[:, {flat_index(src)}]"}


#: The axes a 2-D patch vector (im2col) is made of: the input channel, then the kernel's spatial offsets.
PATCH_AXES = ("C", "kh", "kw")


def in_patch_order(a, order):
    """``a`` (lead, C, kh, kw, *rest) with its (C, kh, kw) axes laid out in ``order`` (a permutation of
    :data:`PATCH_AXES`, slowest first) and flattened into one axis: (lead, C·kh·kw, *rest).  The oracle's patches
    split as (N, C, kh, kw, L) become patches in that feature order; a kernel (O, C, kh, kw) the filter matrix
    (O, C·kh·kw) whose columns follow it.

    >>> in_patch_order(np.arange(4).reshape(1, 2, 2, 1), ("kh", "C", "kw")).tolist()
    [[0, 2, 1, 3]]
    """
    perm = (0,) + tuple(1 + PATCH_AXES.index(axis) for axis in order) + tuple(range(4, a.ndim))
    return a.transpose(perm).reshape(a.shape[0], -1, *a.shape[4:])


def patch_orders(got, split):
    """The feature orders (permutations of :data:`PATCH_AXES`) in which a framework's patches ``got``
    (N, C·kh·kw, L) equal the oracle's ``split`` (N, C, kh, kw, L) exactly: several where C == 1 or a 1-wide
    kernel makes orders coincide; where none is exact, the nearest alone, for the case's own check to report."""
    errors = {order: float(np.max(np.abs(got - in_patch_order(split, order)), initial=0.0))
              for order in itertools.permutations(PATCH_AXES)}
    return [order for order, error in errors.items() if error == 0.0] or [min(errors, key=errors.get)]
