"""Pieces of the claims about a conv's gradients and adjoint: the arrays they are applied to, and the
weight gradient ∂L/∂w written out from the conv's definition (the counterpart of
:func:`equivcheck.casekit.scatter_input_grad` / :func:`~equivcheck.casekit.input_grad` for ∂L/∂x).

Design rules (those of :mod:`equivcheck.casekit`): helpers draw arrays and compute NumPy float64
references; they never decide a verdict, and every check stays in the case body.

>>> shifted_weight_grad(np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 2)), [2], [1], [(0, 0)], [1], 1)
array([[[3., 5.]]])
"""
from __future__ import annotations

import numpy as np

from equivcheck.casekit import conv_arrays, conv_geometry, pad_pairs, per_dim, run_weight_grad


def conv_with_output(ctx, p, name):
    """``(g, x, w, y)`` for an example of :func:`~equivcheck.casekit.conv_geometries`: its geometry
    (:func:`~equivcheck.casekit.conv_geometry`), the input and kernel (:func:`~equivcheck.casekit.conv_arrays`,
    the example's groups), then an array ``name`` shaped like the conv's output (n, c_out, *out): what an output
    gradient or an adjoint is applied to.  Drawn by ``ctx.array`` in this order."""
    g = conv_geometry(p)
    x, w, _ = conv_arrays(ctx, p, groups=g.groups)
    return g, x, w, ctx.array(name, (p["n"], p["c_out"], *g.out))


def shifted_weight_grad(x, gy, k, stride, pairs, dilation, groups) -> np.ndarray:
    """∂L/∂w from the definition (NumPy, float64): w[o, c, j] multiplied the input pixel p·s + j·d
    for every output p, so dW[o, c, j] = Σ_n Σ_p gy[n, o, p]·x_pad[n, c, p·s + j·d]; one shifted,
    strided slice of the padded input per kernel tap."""
    n, channels = x.shape[:2]
    out_channels, out = gy.shape[1], gy.shape[2:]
    cg, og = channels // groups, out_channels // groups
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(pair) for pair in pairs])
    xg = xp.reshape(n, groups, cg, *xp.shape[2:])
    gyg = gy.reshape(n, groups, og, -1)
    dw = np.zeros((groups, og, cg, *k))
    lead = (slice(None),) * 3
    for tap in np.ndindex(*k):
        where = tuple(slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, out, stride))
        dw[lead + tap] = np.einsum("ngcp,ngop->goc", xg[lead + where].reshape(n, groups, cg, -1), gyg)
    return dw.reshape(out_channels, cg, *k)


def weight_grad(bk, x, w, grad_out, **conv_kw):
    """∂L/∂w of ``conv(x, w)`` for ``grad_out`` by the framework's autodiff
    (:func:`~equivcheck.casekit.run_weight_grad`); NumPy, which has none, writes it out from the definition
    (:func:`shifted_weight_grad`)."""
    if bk.framework_name != "numpy":
        return run_weight_grad(bk, x, w, grad_out, **conv_kw)
    rank = len(x.shape) - 2
    return shifted_weight_grad(x, grad_out, w.shape[2:], per_dim(conv_kw.get("stride", 1), rank),
                               pad_pairs(conv_kw.get("padding", 0), rank), per_dim(conv_kw.get("dilation", 1), rank),
                               conv_kw.get("groups", 1))
