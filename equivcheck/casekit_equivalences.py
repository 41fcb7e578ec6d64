"""Pieces the claims that write one convolution as others share (claims of the form "a conv is g convs on
channel slices", "an r-D conv is an (r+1)-D conv with a depth axis left alone"), and the loaded native layers
their side checks compare with.  Layers the framework may lack come from :mod:`equivcheck.casekit_layers`.

Design rules (those of :mod:`equivcheck.casekit`): helpers run the framework's convs, build its layers and
compute keyword sets; they never decide a verdict, and every check stays in the case body.

>>> depth_axis_kw(2, stride=2, padding=1, dilation=1)
{'stride': (1, 2, 2), 'padding': (0, 1, 1), 'dilation': (1, 1, 1)}
"""
from __future__ import annotations

import numpy as np

from equivcheck.casekit import run_conv, tensor
from equivcheck.casekit_layers import native_layer


def slice_convs(ctx, bk, x, w, b=None, *, groups, **conv_kw):
    """A conv with ``groups`` written out as ``groups`` ungrouped convs of the framework (:func:`run_conv`), the
    j-th on input channels j·I/g … (j+1)·I/g − 1 of ``x`` with the kernel rows (and bias entries) j·O/g …
    (j+1)·O/g − 1 of ``w`` (and ``b``), their outputs concatenated along the channel axis on the host.
    ``x``, ``w``, ``b``: NumPy arrays; returns a NumPy array."""
    i, o = x.shape[1] // groups, w.shape[0] // groups
    return np.concatenate([ctx.numpy(run_conv(bk, x[:, j * i:(j + 1) * i], w[j * o:(j + 1) * o],
                                              None if b is None else b[j * o:(j + 1) * o], **conv_kw, groups=1))
                           for j in range(groups)], axis=1)


def depth_axis_kw(rank: int, *, stride, padding, dilation) -> dict:
    """The ``bk.conv`` keywords of the (r+1)-D conv that applies an r-D conv's int ``stride``, ``padding`` and
    ``dilation`` to its last r axes and leaves its first spatial axis (a depth or time axis) alone: stride 1,
    padding 0 and dilation 1 there.  A padding word ('valid', 'same') stays the word.

    >>> depth_axis_kw(2, stride=1, padding="same", dilation=2)["padding"]
    'same'
    """
    def lead(value, first):
        return value if isinstance(value, str) else (first,) + (value,) * rank
    return dict(stride=lead(stride, 1), padding=lead(padding, 0), dilation=lead(dilation, 1))


def loaded_layer(bk, kind: str, weight, bias=None, **layer_kw):
    """The framework's native ``kind`` layer (:func:`~equivcheck.casekit_layers.native_layer`) with the canonical
    ``weight`` and ``bias`` (NumPy arrays or tensors) loaded through ``set_weights``, or None where the framework
    builds no such layer."""
    layer = native_layer(bk, kind, **layer_kw)
    if layer is not None:
        layer.set_weights(tensor(bk, weight), tensor(bk, bias))
    return layer
