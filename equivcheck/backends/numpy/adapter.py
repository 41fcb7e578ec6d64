"""The NumPy oracle as a framework column: canonical layouts, float64 arithmetic.

Design rules
- It is :mod:`equivcheck.oracle` and nothing else: no framework imports.
- Inputs are rounded to the run dtype by the caller (``ctx.array``) but the
  arithmetic is always float64, so ``compute_dtype`` is float64 in both runs.
- Autodiff: NumPy has none; ``vjp`` raises NotApplicable, and gradient claims
  use the oracle's explicit formulas on this column instead.
"""
from __future__ import annotations

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import Backend, LayerHandle, NotApplicable


class NumpyBackend(Backend):
    framework_name = "numpy"
    functional_api = "oracle"
    layer_apis = ("oracle",)
    compute_dtype = "float64"
    patch_order = "C,k"
    array_functions = ("np", "reshape", "transpose", "concatenate", "expand_dims")

    def __init__(self, dtype="float32", device="cpu", allow_tf32=False):
        super().__init__(dtype, device, allow_tf32)
        if device != "cpu":
            raise ValueError("the NumPy oracle runs on the CPU only; use --device cpu for it")
        from equivcheck import oracle

        self.oracle, self.np = oracle, np

    def versions(self):
        return {"numpy": np.__version__}

    def numeric_settings(self):
        return {"compute_dtype": "float64", "device": "cpu"}

    def asarray(self, array):
        return np.asarray(array, dtype=np.float64)

    def to_numpy(self, tensor):
        return np.asarray(tensor, dtype=np.float64)

    def to_native(self, x):
        return x

    def from_native(self, x):
        return x

    def conv(self, x, w, b=None, **kwargs):
        return self.oracle.conv(x, w, b, **kwargs)

    def conv_transpose(self, x, w, b=None, **kwargs):
        return self.oracle.conv_transpose(x, w, b, **kwargs)

    def linear(self, x, w, b=None):
        return self.oracle.linear(x, w, b)

    def pixel_shuffle(self, x, r):
        return self.oracle.pixel_shuffle(x, r)

    def pixel_unshuffle(self, x, r):
        return self.oracle.pixel_unshuffle(x, r)

    def depth_to_space(self, x, r):
        return self.oracle.depth_to_space(x, r)

    def space_to_depth(self, x, r):
        return self.oracle.space_to_depth(x, r)

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False):
        return self.oracle.max_pool(x, kernel, stride=stride, padding=padding, return_indices=return_indices)

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        return self.oracle.max_unpool(y, indices, output_size)

    def avg_pool(self, x, kernel, stride=None, padding=0):
        return self.oracle.avg_pool(x, kernel, stride=stride, padding=padding)

    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        return self.oracle.unfold(x, kernel, stride=stride, padding=padding, dilation=dilation)

    def vjp(self, fn, primals, cotangent):
        raise NotApplicable("NumPy has no automatic differentiation; the oracle's explicit gradient "
                            "formulas are what the other columns are compared with")

    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1, padding="valid",
              dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None, input_shape=None):
        """The oracle's 'layer': a closure over canonical weights (shapes from the canonical layout).

        ``kind="flatten"``: NumPy has no layers; the handle is ``np.reshape(x, (N, -1))`` of ``x`` exactly as
        given (row-major; no layout conversion: NumPy's native layout is the canonical one)."""
        if kind == "flatten":
            def no_weights(kernel=None, bias=None):
                raise ValueError("numpy.reshape has no weights")
            return LayerHandle(api="numpy.reshape", kernel_shape=(), kernel_layout="", param_count=0,
                               set_weights=no_weights, call=lambda x: np.reshape(x, (np.shape(x)[0], -1)),
                               extra={"input_layout": layouts.data_layout("numpy", rank),
                                      "note": "NumPy has no Flatten layer: np.reshape(x, (x.shape[0], -1))"})
        k = (kernel_size,) * rank if isinstance(kernel_size, int) else tuple(kernel_size)
        if kind == "conv":
            shape = (out_channels, in_channels // groups, *k)
        elif kind == "conv_transpose":
            shape = (in_channels, out_channels // groups, *k)
        elif kind == "depthwise":
            shape = (in_channels, depth_multiplier, *k)
        elif kind == "dense":
            shape = (out_channels, in_channels)
        else:
            raise ValueError(f"layer kind must be conv, conv_transpose, depthwise, dense or flatten, got {kind!r}")
        bias_size = (out_channels if kind != "depthwise" else in_channels * depth_multiplier) if use_bias else 0
        weights = {"kernel": np.zeros(shape), "bias": np.zeros(bias_size) if use_bias else None}

        def set_weights(kernel, bias=None):
            weights["kernel"] = np.asarray(kernel, dtype=np.float64).reshape(shape)
            weights["bias"] = None if bias is None else np.asarray(bias, dtype=np.float64)

        def call(x):
            kernel, bias = weights["kernel"], weights["bias"]
            if kind == "dense":
                return self.oracle.linear(x, kernel, bias)
            if kind == "conv_transpose":
                return self.oracle.conv_transpose(x, kernel, bias, stride=stride, padding=_int_padding(padding),
                                                  dilation=dilation, groups=groups)
            if kind == "depthwise":
                return self.oracle.conv(x, layouts.depthwise_to_grouped(kernel), bias, stride=stride,
                                        padding=padding, dilation=dilation, groups=in_channels)
            return self.oracle.conv(x, kernel, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)

        op = "conv" if kind == "conv" else kind
        return LayerHandle(api=f"equivcheck.oracle.{kind}", kernel_shape=shape,
                           kernel_layout=layouts.kernel_layout("numpy", op, rank, api="oracle"),
                           param_count=int(np.prod(shape)) + bias_size, set_weights=set_weights, call=call)


def _int_padding(padding):
    if padding == "valid":
        return 0
    if isinstance(padding, str):
        raise NotApplicable(f"the oracle's conv_transpose takes PyTorch integer padding, not {padding!r}")
    return padding
