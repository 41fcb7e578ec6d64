"""Kernels through layout permutations: the sizes of an example's layout letters, the oracle op a kernel
loaded through the layout table must reproduce, and the wrong permutations a user might apply instead
(for claims about native kernel layouts, e.g. ``kernel_layouts``); and the host-side rearrangements of
feature maps the porting claims compare against (row-major flattens in a layout's axis order, checked against
the framework's Flatten; Dense columns reordered between flatten orders; blocks flattened for a Dense head,
head outputs as rows).

Design rules (those of :mod:`equivcheck.casekit`): nothing here decides a verdict; the checks go through
``ctx`` with the case's labels, as supporting checks.  An example ``p`` has ``op`` ('conv',
'conv_transpose' or 'depthwise'), ``c_in``, ``c_out``, ``mult``, ``groups`` and ``k`` (one per dimension).
"""
from __future__ import annotations

import math

import numpy as np

from equivcheck import layouts, oracle
from equivcheck.backends.base import NotApplicable


def kernel_dims(p):
    """Sizes of the layout letters for this example."""
    spatial = dict(zip(layouts.SPATIAL[len(p.k)], p.k))
    if p.op == "conv":
        return {"O": p.c_out, "I": p.c_in // p.groups, **spatial}
    if p.op == "conv_transpose":
        return {"I": p.c_in, "O": p.c_out, **spatial}
    return {"C": p.c_in, "M": p.mult, "O": p.c_in * p.mult, "I": 1, **spatial}


def layout_shape(template, rank, dims):
    return tuple(dims[axis] for axis in layouts.expand(template, rank))


def kernel_shape(p):
    """The example's kernel in canonical layout: (O, I/groups, *k), (I, O, *k), or (C, M, *k) for a depthwise one."""
    if p.op == "depthwise":
        return (p.c_in, p.mult, *p.k)
    return layout_shape(layouts.canonical(p.op, len(p.k)), len(p.k), kernel_dims(p))


def functional_kernel_shape(bk, op, w):
    """The shape the canonical kernel ``w`` of ``op`` takes in the layout of the framework's functional entry point."""
    rank = w.ndim - 2
    native = layouts.kernel_layout(bk.framework_name, op, rank, api=bk.functional_api)
    return list(layouts.convert(w, layouts.canonical(op, rank), native).shape)


def swap_axes(layout, a, b):
    return layout.translate(str.maketrans({a: b, b: a}))


def wrong_layouts(layout, op, rank, dims):
    """Wrong permutations a user might apply, each only where it really moves data (both swapped sizes ≥ 2)."""
    pair = ("C", "M") if "C" in layout else ("I", "O")
    candidates = {f"{pair[0]}/{pair[1]} swapped": swap_axes(layout, *pair)}
    if rank >= 2:
        first, second = layouts.SPATIAL[rank][:2]
        candidates[f"{first}/{second} swapped"] = swap_axes(layout, first, second)
    wrong = {}
    for name, candidate in candidates.items():
        moved = [axis for axis, other in zip(layout, candidate) if axis != other]
        if all(dims[axis] >= 2 for axis in moved):
            wrong[name] = candidate
    return wrong


def reference_op(p, x, w, b):
    """The oracle op the claim's result must equal, with its arguments: ``(op, args, kwargs)``."""
    if p.op == "conv":
        return oracle.conv, (x, w, b), {"groups": p.groups}
    if p.op == "conv_transpose":
        return oracle.conv_transpose, (x, w, b), {}
    return oracle.conv, (x, layouts.depthwise_to_grouped(w), b), {"groups": p.c_in}


def wrong_permutation_checks(ctx, where, native_layout, p, run, x_perm):
    """Load a kernel through each wrong permutation (:func:`wrong_layouts`) and run it on ``x_perm``
    (``run(kernel)``): the result must differ from the oracle (or the framework must refuse the shape).
    The kernel's values are distinct (1, 2, 3, …), so any moved axis shows."""
    rank, dims = len(p.k), kernel_dims(p)
    canonical_layout = layouts.canonical(p.op, rank)
    w_distinct = np.arange(1, math.prod(kernel_shape(p)) + 1, dtype=np.float64).reshape(kernel_shape(p))
    op, args, kwargs = reference_op(p, x_perm, w_distinct, np.zeros(out_channels(p)))
    want = op(*args, **kwargs)
    for name, wrong in wrong_layouts(native_layout, p.op, rank, dims).items():
        # the native array a user builds with the wrong permutation, handed over as if it were right
        loaded = layouts.convert(layouts.convert(w_distinct, canonical_layout, wrong), native_layout, canonical_layout)
        label = f"{where}: wrong permutation ({name}, native {wrong} read as {native_layout})"
        try:
            got = ctx.numpy(run(loaded))
        except NotApplicable:
            raise
        except Exception:  # the framework refuses the wrong shape: record its error
            ctx.raises(label + " is refused", run, loaded, support=True)
            continue
        same = ctx.fits(got, want, op, *args, sides=1, **kwargs)
        ctx.equal(label + " gives a different output", "same output" if same else "different output",
                  "different output", support=True)


def out_channels(p):
    return p.c_out if p.op != "depthwise" else p.c_in * p.mult


def row_major_flatten(x, layout):
    """The canonical (N, C, *spatial) NumPy array ``x`` flattened per sample in the row-major order of
    ``layout``'s axes (e.g. (C, H, W) for NCHW, (H, W, C) for NHWC): what a Flatten of ``x`` laid out as
    ``layout`` must give.

    >>> row_major_flatten(np.arange(8.0).reshape(1, 2, 2, 2), "NHWC").tolist()
    [[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]]
    """
    canonical = layouts.canonical("data", x.ndim - 2)
    return x.transpose(layouts.permutation(canonical, layout)).reshape(x.shape[0], -1)


def checked_flatten(ctx, flatten, tensor, x, layout, what="map", prefix="", api=None):
    """``flatten(tensor)``, where ``tensor`` holds the canonical ``x`` laid out as ``layout``, checked bit for bit
    (support) against :func:`row_major_flatten` of ``x``, so a Flatten that flattened in another order fails
    that check; ``api`` (default ``flatten.api``) names what flattened in the label.  Returns the flatten."""
    flat = flatten(tensor)
    ctx.identical(f"{prefix}{api or flatten.api} of the {layout} {what} == its row-major ({layout[1:]}) flatten",
                  flat, row_major_flatten(x, layout), support=True)
    return flat


def columns_in_order(w, axes, sizes, order):
    """A Dense weight (out, Π sizes) whose input columns are the row-major flatten of the axes ``axes`` (of
    ``sizes``), with its columns rearranged to the row-major flatten of the same axes in ``order`` (e.g. 'CHW' →
    'HWC'): the weight for a Flatten in that order.

    >>> columns_in_order(np.arange(4.0).reshape(1, 4), "CW", (2, 2), "WC").tolist()
    [[0.0, 2.0, 1.0, 3.0]]
    """
    blocks = w.reshape(w.shape[0], *sizes)
    return blocks.transpose(0, *(1 + axes.index(a) for a in order)).reshape(w.shape[0], -1)


def blocks_last(x, block):
    """(N, C, g0*b0, g1*b1, …) → (N, g0, g1, …, C*b0*b1*…): each non-overlapping block flattened in
    (C, *b) order.

    Pure data movement, done in NumPy before the data reaches the framework (each extra eager
    reshape/transpose on a new shape would cost JAX a compile)."""
    n, c, *size = x.shape
    rank = len(block)
    grid = [s // b for s, b in zip(size, block)]
    split = [v for g, b in zip(grid, block) for v in (g, b)]           # (g0, b0, g1, b1, …)
    perm = (0, *(2 + 2 * i for i in range(rank)), 1, *(3 + 2 * i for i in range(rank)))  # N, g…, C, b…
    return x.reshape(n, c, *split).transpose(perm).reshape(n, *grid, c * math.prod(block)), grid


def nhwc_rows(y, anchors, classes):
    """NumPy reference: (N, A·K, H, W) → NHWC → (N, H·W·A, K) (channel a·K + k is anchor a, class k)."""
    n = y.shape[0]
    return y.transpose(0, 2, 3, 1).reshape(n, -1, classes)
