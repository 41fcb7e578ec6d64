"""The oracle's 'layers' behind :meth:`NumpyBackend.layer`: closures over canonical weights.

Design rules
- NumPy has no layers: each handle is the oracle op a layer stands for, with its weights held in
  the canonical layout (NumPy's native layout is the canonical one), so the column is the reference
  every framework's native layer is compared with.
- Nothing here computes: every call is an :mod:`equivcheck.oracle` function (``pad`` then a VALID
  ``conv`` for a conv with a ``padding_mode``, ``batch_norm``, the pools).
"""
from __future__ import annotations

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, padding_pairs, spatial_ints

KINDS = ("conv", "conv_transpose", "depthwise", "dense", "flatten", "separable", "batch_norm", "avg_pool",
         "max_pool")
#: ``layer(**options)`` names the oracle understands (each ignored by the kinds it does not concern).
OPTIONS = ("padding_mode", "eps", "ceil_mode", "count_include_pad")


def _weights_of(shape, kernel):
    return np.asarray(kernel, dtype=np.float64).reshape(shape)


def _conv_pairs(oracle, x, k, stride, padding, dilation):
    """Explicit (before, after) pads of a conv: 'same' per the oracle's formula, 'causal' d(k−1) before."""
    rank = len(k)
    if isinstance(padding, str) and padding.lower() == "same":
        return [oracle.same_padding(n, kk, s, d) for n, kk, s, d in zip(x.shape[2:], k, stride, dilation)]
    if isinstance(padding, str) and padding.lower() == "causal":
        return [(d * (kk - 1), 0) for kk, d in zip(k, dilation)]
    if isinstance(padding, str) and padding.lower() == "valid":
        return [(0, 0)] * rank
    return padding_pairs(padding, rank)


def build(bk, kind, *, rank, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
          depth_multiplier, use_bias, options):
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"oracle layer: unknown option {unknown[0]!r}; known: {', '.join(OPTIONS)}")
    if kind not in KINDS:
        raise ValueError(f"layer kind must be one of {', '.join(KINDS)}, got {kind!r}")
    oracle = bk.oracle
    if kind == "flatten":
        def no_weights(kernel=None, bias=None):
            raise ValueError("numpy.reshape has no weights")
        return LayerHandle(api="numpy.reshape", kernel_shape=(), kernel_layout="", param_count=0,
                           set_weights=no_weights, call=lambda x: np.reshape(x, (np.shape(x)[0], -1)),
                           extra={"input_layout": layouts.data_layout("numpy", rank),
                                  "note": "NumPy has no Flatten layer: np.reshape(x, (x.shape[0], -1))"})
    k = spatial_ints(kernel_size, rank)
    if kind in ("avg_pool", "max_pool"):
        return _pool(oracle, kind, k, stride, padding, dilation, options)
    if kind == "batch_norm":
        return _batch_norm(oracle, in_channels, options.get("eps", 1e-5))
    strides, dilations = spatial_ints(stride, rank), spatial_ints(dilation, rank)
    mode = options.get("padding_mode") or "constant"
    if kind == "separable":
        return _separable(oracle, in_channels, out_channels, k, depth_multiplier, use_bias, strides, padding,
                          dilations)
    shape = {"conv": (out_channels, in_channels // groups, *k), "conv_transpose": (in_channels, out_channels // groups, *k),
             "depthwise": (in_channels, depth_multiplier, *k), "dense": (out_channels, in_channels)}[kind]
    bias_size = (out_channels if kind != "depthwise" else in_channels * depth_multiplier) if use_bias else 0
    weights = {"kernel": np.zeros(shape), "bias": np.zeros(bias_size) if use_bias else None}

    def set_weights(kernel, bias=None):
        weights["kernel"] = _weights_of(shape, kernel)
        weights["bias"] = None if bias is None else np.asarray(bias, dtype=np.float64)

    def call(x):
        kernel, bias = weights["kernel"], weights["bias"]
        if kind == "dense":
            return oracle.linear(x, kernel, bias)
        if kind == "conv_transpose":
            return oracle.conv_transpose(x, kernel, bias, stride=stride, padding=_int_padding(padding),
                                         dilation=dilation, groups=groups)
        g = in_channels if kind == "depthwise" else groups
        kernel = layouts.depthwise_to_grouped(kernel) if kind == "depthwise" else kernel
        pads = padding
        if mode != "constant":  # torch padding_mode / Flax 'CIRCULAR': the mode's pad, then a VALID conv
            x, pads = oracle.pad(x, _conv_pairs(oracle, x, k, strides, padding, dilations), mode), 0
        elif isinstance(padding, str) and padding.lower() == "causal":
            pads = _conv_pairs(oracle, x, k, strides, padding, dilations)
        return oracle.conv(x, kernel, bias, stride=stride, padding=pads, dilation=dilation, groups=g)

    return LayerHandle(api=f"equivcheck.oracle.{kind}", kernel_shape=shape,
                       kernel_layout=layouts.kernel_layout("numpy", kind, 2 if kind == "dense" else rank, api="oracle"),
                       param_count=int(np.prod(shape)) + bias_size, set_weights=set_weights, call=call,
                       extra={"padding_mode": mode})


def _separable(oracle, channels, out_channels, k, multiplier, use_bias, stride, padding, dilation):
    """Depthwise (C·M, 1, *k) with groups=C, then the pointwise (O, C·M, 1…) conv with the one bias."""
    depthwise_shape, pointwise_shape = (channels * multiplier, 1, *k), (out_channels, channels * multiplier) + (1,) * len(k)
    weights = {"depthwise": np.zeros(depthwise_shape), "pointwise": np.zeros(pointwise_shape), "bias": None}

    def set_weights(kernel, bias=None, *, pointwise):
        weights.update(depthwise=_weights_of(depthwise_shape, kernel), pointwise=_weights_of(pointwise_shape, pointwise),
                       bias=None if bias is None else np.asarray(bias, dtype=np.float64))

    def call(x):
        pairs = _conv_pairs(oracle, x, k, stride, padding, dilation)
        inner = oracle.conv(x, weights["depthwise"], stride=stride, padding=pairs, dilation=dilation, groups=channels)
        return oracle.conv(inner, weights["pointwise"], weights["bias"])

    count = int(np.prod(depthwise_shape)) + int(np.prod(pointwise_shape)) + (out_channels if use_bias else 0)
    return LayerHandle(api="equivcheck.oracle.separable", kernel_shape=depthwise_shape,
                       kernel_layout=layouts.kernel_layout("numpy", "conv", len(k), api="oracle"), param_count=count,
                       set_weights=set_weights, call=call, extra={"pointwise_shape": pointwise_shape})


def _batch_norm(oracle, channels, eps):
    stats = {"mean": np.zeros(channels), "var": np.ones(channels), "gamma": np.ones(channels),
             "beta": np.zeros(channels)}

    def set_weights(*, mean=None, var=None, gamma=None, beta=None):
        """Load inference statistics (None keeps the initial value: mean 0, var 1, gamma 1, beta 0)."""
        for name, value in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
            if value is not None:
                stats[name] = np.asarray(value, dtype=np.float64)

    def call(x):
        return oracle.batch_norm(x, stats["mean"], stats["var"], stats["gamma"], stats["beta"], eps)

    # the four per-channel arrays, as Keras counts them (torch's parameters() counts gamma and beta only)
    return LayerHandle(api="equivcheck.oracle.batch_norm", kernel_shape=(channels,), kernel_layout="",
                       param_count=4 * channels, set_weights=set_weights, call=call, extra={"eps": eps})


def _pool(oracle, kind, k, stride, padding, dilation, options):
    ceil_mode = bool(options.get("ceil_mode", False))

    def set_weights(*args, **kwargs):
        """A pool has no weights: nothing to load."""

    if kind == "avg_pool":
        if isinstance(padding, str) and padding.lower() == "same":
            raise NotApplicable("the oracle's avg_pool has no 'same': it takes explicit pads and count_include_pad "
                                "(TF's 'SAME' is oracle.same_padding's pads with count_include_pad=False)")

        def call(x):
            return oracle.avg_pool(x, k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                                   count_include_pad=bool(options.get("count_include_pad", True)))
    else:
        def call(x):
            return oracle.max_pool(x, k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    return LayerHandle(api=f"equivcheck.oracle.{kind}", kernel_shape=(), kernel_layout="", param_count=0,
                       set_weights=set_weights, call=call, extra={"ceil_mode": ceil_mode})


def _int_padding(padding):
    if padding == "valid":
        return 0
    if isinstance(padding, str):
        raise NotApplicable(f"the oracle's conv_transpose takes PyTorch integer padding, not {padding!r}")
    return padding
