"""The porting-pitfall conventions of Flax: ``linen.avg_pool``'s divisor, no ceil_mode, Conv's
'CIRCULAR'/'REFLECT' padding words, BatchNorm folding into Conv/ConvTranspose, 'CAUSAL' padding, no
separable layer.  The decoders are the JAX ones (:mod:`equivcheck.backends.jax.pitfall_probes`).

Layers are the adapter's (``bk.layer(..., api=...).native``: a linen module applied with its variables,
or an nnx layer), called natively on arrays crossed through the adapter."""
from __future__ import annotations

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import NotApplicable
from equivcheck.backends.flax.layers import FLAX_PAD_WORDS
from equivcheck.backends.jax.pitfall_probes import (BN_EPS, CAUSAL_CASES, PAD_X, POOL_KERNEL, POOL_SHAPE, _canonical,
                                                    _native, _np, _t, bn_fold_row, bn_inputs, causal_row,
                                                    ceil_mode_row, divisor_row, fold_magnitude, mode_of, pad_mode_from,
                                                    separable_row)
from equivcheck.conventions import PAD_MODES
from equivcheck.report.probes import Row, probe

APIS = ("linen", "nnx")


def _adapter_layer(env, api, kind, **kwargs):
    from equivcheck.backends.flax.probes import adapter_layer

    return adapter_layer(env, api, kind, **kwargs)


def _run(env, api, module, kernel, x_native):
    """A conv layer of the adapter on a native input with the native ``kernel`` (no bias)."""
    if api == "linen":
        return module.apply({"params": {"kernel": _t(env, kernel)}}, x_native)
    from equivcheck.backends.flax.layers import _assign

    _assign(module.kernel, _t(env, kernel))
    return module(x_native)


# ---- pool divisor ----------------------------------------------------------------------------------
def _divisor(env, item, padding, count_include_pad):
    linen, bk = env["linen"], env["bk"]
    pads = padding if padding == "SAME" else [(padding, padding)] * len(POOL_KERNEL)
    extra = {} if count_include_pad is None else {"count_include_pad": count_include_pad}

    def pooled():
        return _canonical(env, linen.avg_pool(_native(env, np.ones(POOL_SHAPE)), POOL_KERNEL, (1, 1), pads, **extra))

    def adapter_pooled():
        return _np(env, bk.avg_pool(_t(env, np.ones(POOL_SHAPE)), POOL_KERNEL, 1, padding,
                                    count_include_pad=True if count_include_pad is None else count_include_pad))
    return divisor_row("flax", "flax.linen.avg_pool", item, pooled, adapter_pooled)


for _item, _padding, _include in (("3×3, padding 1 (default)", 1, None),
                                  ("3×3, padding 1, count_include_pad=False", 1, False),
                                  ("3×3, 'SAME' (default)", "SAME", None),
                                  ("3×3, 'SAME', count_include_pad=False", "SAME", False)):
    probe("flax", "pool_divisor", _item, "flax.linen.avg_pool")(
        lambda env, item=_item, padding=_padding, include=_include: _divisor(env, item, padding, include))


# ---- ceil_mode -------------------------------------------------------------------------------------
def _ceil_mode(env, name):
    pool = getattr(env["linen"], name)

    def pool_len(n, k, s, p):
        return pool(_t(env, np.zeros((1, n, 1))), (k,), (s,), [(p, p)]).shape[1]
    adapter = getattr(env["bk"], name)
    return ceil_mode_row("flax", f"flax.linen.{name}", pool, pool_len,
                         lambda: adapter(_t(env, np.zeros((1, 1, 5))), 2, 2, 0, ceil_mode=True))


for _name in ("max_pool", "avg_pool"):
    probe("flax", "ceil_mode", "max/avg pool", f"flax.linen.{_name}")(lambda env, name=_name: _ceil_mode(env, name))


# ---- padding modes: Conv's padding words ------------------------------------------------------------
def _padding_word(env, api, mode):
    """The adapter's 1-D conv layer for ``padding_mode=mode``: its native padding word, and the padded
    signal it convolves, rebuilt tap by tap with one-hot kernels of width 4."""
    k = 4
    try:
        module = _adapter_layer(env, api, "conv", rank=1, in_channels=1, out_channels=1, kernel_size=k,
                                padding="same", padding_mode=mode)
    except NotApplicable as exc:  # an older Flax without the word (flax < 0.10.5: no 'REFLECT')
        return Row("pad_modes", f"padding={FLAX_PAD_WORDS[mode]!r}", "flax", f"flax.{api}.Conv", f"n/a: {exc}",
                   f"asked the adapter for padding_mode={mode!r}")
    x = _native(env, PAD_X.reshape(1, 1, -1))
    padded = np.zeros(len(PAD_X) + k - 1)
    for tap in range(k):
        w = np.zeros((k, 1, 1))
        w[tap] = 1
        y = _canonical(env, _run(env, api, module, w, x))[0, 0]
        padded[tap:tap + len(y)] = y  # y[i] = padded[i + tap]
    value = pad_mode_from(padded)
    return Row("pad_modes", f"padding={module.padding!r}", "flax", f"flax.{api}.Conv", value,
               f"asked the adapter for padding_mode={mode!r}", mode_of(value) == mode,
               detail=PAD_MODES.get(mode_of(value), ""))


for _api in APIS:
    for _mode, _word in FLAX_PAD_WORDS.items():
        probe("flax", "pad_modes", f"padding={_word!r}", f"flax.{_api}.Conv")(
            lambda env, api=_api, mode=_mode: _padding_word(env, api, mode))


# ---- BatchNorm folding -------------------------------------------------------------------------------
def _linen_bn_fold(env, transposed):
    """linen Conv / ConvTranspose (stride 2) then linen BatchNorm(use_running_average=True), all the adapter's."""
    x, kernel, bias = bn_inputs()
    op = "conv_transpose" if transposed else "conv"
    native_layout = layouts.kernel_layout("flax", op, 2, api="linen")
    flip = tuple(i for i, a in enumerate(native_layout) if a in layouts.SPATIAL[2]) if transposed else ()
    native_kernel = layouts.convert(kernel, layouts.canonical(op, 2), native_layout)
    conv = env["bk"].layer(op, in_channels=3, out_channels=3, kernel_size=(2, 4), stride=2 if transposed else 1).native
    bn = env["bk"].layer("batch_norm", in_channels=3, eps=BN_EPS).native

    def run_conv(k, b):
        # the adapter's ConvTranspose runs transpose_kernel=False, which correlates: a PyTorch kernel is flipped
        k = np.flip(k, flip) if flip else k
        return _canonical(env, conv.apply({"params": {"kernel": _t(env, k), "bias": _t(env, b)}}, _native(env, x)))

    def run_bn(y, stats):
        variables = {"params": {"scale": _t(env, stats["gamma"]), "bias": _t(env, stats["beta"])},
                     "batch_stats": {"mean": _t(env, stats["mean"]), "var": _t(env, stats["var"])}}
        return _canonical(env, bn.apply(variables, _native(env, y)))

    name = "flax.linen.ConvTranspose" if transposed else "flax.linen.Conv"
    return bn_fold_row("flax", f"{name} + flax.linen.BatchNorm", "conv_transpose2d" if transposed else "conv2d",
                       native_layout, native_kernel, bias, run_conv, run_bn, fold_magnitude(x, native_layout, transposed))


probe("flax", "bn_fold", "conv2d", "flax.linen.Conv + flax.linen.BatchNorm")(lambda env: _linen_bn_fold(env, False))
probe("flax", "bn_fold", "conv_transpose2d", "flax.linen.ConvTranspose + flax.linen.BatchNorm")(
    lambda env: _linen_bn_fold(env, True))


# ---- causal padding ------------------------------------------------------------------------------------
def _causal(env, api, k, d):
    def run(x, k, d):
        module = _adapter_layer(env, api, "conv", rank=1, in_channels=1, out_channels=1, kernel_size=k, dilation=d,
                                padding="causal")
        w = np.zeros((k, 1, 1))
        w[0] = 1
        return _canonical(env, _run(env, api, module, w, _native(env, x.reshape(1, 1, -1))))[0, 0]
    return causal_row("flax", f"flax.{api}.Conv(padding='CAUSAL')", k, d, run)


for _api in APIS:
    for _k, _d in CAUSAL_CASES:
        probe("flax", "causal", f"k={_k}, d={_d}", f"flax.{_api}.Conv(padding='CAUSAL')")(
            lambda env, api=_api, k=_k, d=_d: _causal(env, api, k, d))


# ---- separable conv ------------------------------------------------------------------------------------
probe("flax", "separable", "separable conv2d", "flax.linen, flax.nnx")(
    lambda env: separable_row("flax", "flax.linen, flax.nnx", {"flax.linen": env["linen"], "flax.nnx": env["nnx"]},
                              lambda: env["bk"].layer("separable", in_channels=3, out_channels=4, kernel_size=3)))
