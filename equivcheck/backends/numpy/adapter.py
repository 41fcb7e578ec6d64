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

from equivcheck.backends.base import Backend, NotApplicable
from equivcheck.backends.numpy import layers


class NumpyBackend(Backend, framework="numpy", functional_api="oracle", layer_apis=("oracle",), patch_order="C,k",
                   array_functions=("np", "reshape", "transpose", "concatenate", "expand_dims")):
    compute_dtype = "float64"

    def load(self):
        super().load()
        if self.device != "cpu":
            raise ValueError("the NumPy oracle runs on the CPU only; use --device cpu for it")
        from equivcheck import oracle

        self.oracle, self.np = oracle, np

    def versions(self):
        return {"numpy": np.__version__}

    def numeric_settings(self):
        return {"compute_dtype": "float64", "device": "cpu"}

    def asarray(self, array):
        array = np.asarray(array)
        return array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)

    def to_numpy(self, tensor):
        tensor = np.asarray(tensor)
        return tensor.astype(np.complex128 if np.iscomplexobj(tensor) else np.float64)

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

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        return self.oracle.max_pool(x, kernel, stride=stride, padding=padding, return_indices=return_indices,
                                    **_asked(ceil_mode=(ceil_mode, False), dilation=(dilation, 1)))

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        return self.oracle.max_unpool(y, indices, output_size)

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        if isinstance(padding, str) and padding.lower() == "same":
            raise NotApplicable("the oracle's avg_pool has no 'same': it takes explicit pads and count_include_pad "
                                "(TF's 'SAME' is oracle.same_padding's pads with count_include_pad=False)")
        return self.oracle.avg_pool(x, kernel, stride=stride, padding=padding,
                                    **_asked(count_include_pad=(count_include_pad, True), ceil_mode=(ceil_mode, False),
                                             dilation=(dilation, 1)))

    def pad(self, x, pads, mode="constant"):
        return self.oracle.pad(x, pads, mode)

    def batch_norm(self, x, mean, var, gamma, beta, eps):
        return self.oracle.batch_norm(x, mean, var, gamma, beta, eps)

    # The FFT is NumPy's own (the oracle has none: the convolution-theorem claim compares it with the
    # oracle's FFT-free circular correlation like any other column's).
    def fftn(self, x, axes):
        return np.fft.fftn(x, axes=tuple(axes))

    def ifftn(self, x, axes):
        return np.fft.ifftn(x, axes=tuple(axes))

    def conj(self, x):
        return np.conj(x)

    def real(self, x):
        return np.real(x).astype(np.float64)

    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        return self.oracle.unfold(x, kernel, stride=stride, padding=padding, dilation=dilation)

    def vjp(self, fn, primals, cotangent):
        raise NotApplicable("NumPy has no automatic differentiation; the oracle's explicit gradient "
                            "formulas are what the other columns are compared with")

    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1, padding="valid",
              dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None, input_shape=None, **options):
        """The oracle's 'layer': a closure over canonical weights (shapes from the canonical layout); the
        kinds and options of :meth:`Backend.layer` (:mod:`.layers`).

        ``kind="flatten"``: NumPy has no layers; the handle is ``np.reshape(x, (N, -1))`` of ``x`` exactly as
        given (row-major; no layout conversion: NumPy's native layout is the canonical one)."""
        return layers.build(self, kind, rank=rank, in_channels=in_channels, out_channels=out_channels,
                            kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
                            depth_multiplier=depth_multiplier, use_bias=use_bias, options=options)


def _asked(**arguments):
    """The pooling arguments given other than their defaults (name → (value, default)): the oracle gets
    exactly what a case asked for, so a plain pool is the call it always was."""
    return {name: value for name, (value, default) in arguments.items() if value != default}
