"""The faults tests/test_faults.py injects: each patches one framework op into a plausible wrong convention.

A fault is a convention some framework, some version or some port really uses (or a believable
precision bug), installed with ``monkeypatch`` so that it is undone after the test.  Each fault says
which framework it breaks, what it changes, and (``try_first``) the claims an ``--all-catchers`` run
found catching it, so the default run finds its proof fast.  Faults patch the frameworks, never
equivcheck: they show that the claims can see a framework change its convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Fault:
    name: str
    framework: str
    description: str
    install: Callable  # install(monkeypatch) -> None
    try_first: tuple = ()  # claim ids to run before the catalog order (see tests/test_faults.py)
    #: () -> None, or the sentence saying why this env's build never calls what the fault changes (a skip)
    unreachable: Callable | None = None

    def __str__(self):
        return self.name


def _wrap(monkeypatch, owner, attribute, make):
    """Replace ``owner.attribute`` by ``make(original)``."""
    monkeypatch.setattr(owner, attribute, make(getattr(owner, attribute)))


def _wrap_torch_convs(monkeypatch, make):
    """``make(op, rank)`` for F.conv1d/2d/3d (``torch.nn.Conv{n}d`` calls them too)."""
    import torch.nn.functional as F
    for rank in (1, 2, 3):
        _wrap(monkeypatch, F, f"conv{rank}d", lambda op, rank=rank: make(op, rank))


def _per_dim(value, rank):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


# ---- torch -------------------------------------------------------------------
def torch_kernel_flipped(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "conv2d", lambda conv: lambda x, w, *a, **k: conv(x, w.flip(-2, -1), *a, **k))


def torch_output_padding_ignored(mp):
    import torch.nn.functional as F
    for name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        def make(op):
            def faulty(x, w, bias=None, stride=1, padding=0, output_padding=0, *a, **k):
                return op(x, w, bias, stride, padding, 0, *a, **k)
            return faulty
        _wrap(mp, F, name, make)


def torch_pixel_shuffle_in_dcr_order(mp):
    import torch.nn.functional as F

    def dcr(x, r):
        n, c, h, w = x.shape[-4:] if x.ndim == 4 else (1, *x.shape)
        out = x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
        return out.reshape(*x.shape[:-3], c // (r * r), h * r, w * r)
    mp.setattr(F, "pixel_shuffle", dcr)


def torch_linear_untransposed_when_square(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "linear", lambda op: lambda x, w, b=None: op(x, w.T if w.shape[0] == w.shape[1] else w, b))


def torch_unpool_indices_column_major(mp):
    import torch.nn.functional as F

    def make(op):
        def faulty(y, indices, kernel_size, stride=None, padding=0, output_size=None):
            height, width = output_size[-2:]
            rows, cols = indices // width, indices % width
            return op(y, cols * height + rows, kernel_size, stride, padding, output_size)
        return faulty
    _wrap(mp, F, "max_unpool2d", make)


def torch_max_pool_indices_column_major(mp):
    """F.max_pool2d(return_indices=True) returns column-major switch indices x·H + y (Fortran order)
    instead of torch's row-major y·W + x into each (n, c) plane."""
    import torch.nn.functional as F

    def make(op):
        def faulty(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
            out = op(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=return_indices)
            if not return_indices:
                return out
            values, indices = out
            height, width = x.shape[-2:]
            return values, (indices % width) * height + indices // width
        return faulty
    _wrap(mp, F, "max_pool2d", make)


def torch_conv1d_scaled(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "conv1d", lambda op: lambda *a, **k: op(*a, **k) * (1 + 1e-3))


def torch_depthwise_multiplier_order(mp):
    """groups = C_in with M = C_out / C_in > 1: output channel m·C + c (multiplier-major, the order of a
    (M, C, *k) kernel) instead of torch's c·M + m."""
    def make(op, rank):
        def faulty(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
            axis = x.ndim - rank - 1
            channels, out = x.shape[axis], w.shape[0]
            if groups == 1 or groups != channels or out == groups:
                return op(x, w, bias, stride, padding, dilation, groups)
            m = out // channels
            y = op(x, w, bias, stride, padding, dilation, groups)  # channel c·M + m
            lead, rest = y.shape[:axis], y.shape[axis + 1:]
            return y.reshape(*lead, channels, m, *rest).transpose(axis, axis + 1).reshape(*lead, out, *rest)
        return faulty
    _wrap_torch_convs(mp, make)


def torch_groups_interleaved(mp):
    """1 < groups < C_in: input channel c belongs to group c mod g (strided, as after a channel shuffle)
    instead of group c // (C/g) (contiguous blocks)."""
    import torch

    def make(op, rank):
        def faulty(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
            axis = x.ndim - rank - 1
            channels = x.shape[axis]
            if 1 < groups < channels and channels % groups == 0:
                per = channels // groups
                order = [g + groups * j for g in range(groups) for j in range(per)]
                x = x.index_select(axis, torch.tensor(order, device=x.device))
            return op(x, w, bias, stride, padding, dilation, groups)
        return faulty
    _wrap_torch_convs(mp, make)


def torch_same_odd_pixel_first(mp):
    """F.conv{n}d(padding='same') (stride 1) puts the odd pixel of an odd total padding at the start."""
    import torch.nn.functional as F

    def make(op, rank):
        def faulty(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
            if not (isinstance(padding, str) and padding == "same") or any(s != 1 for s in _per_dim(stride, rank)):
                return op(x, w, bias, stride, padding, dilation, groups)  # torch's own error for strided 'same'
            pairs = []
            for d, k in zip(_per_dim(dilation, rank), w.shape[2:]):
                total = d * (k - 1)
                pairs.append((total - total // 2, total // 2))  # odd pixel at the START
            x = F.pad(x, [v for pair in reversed(pairs) for v in pair])
            return op(x, w, bias, stride, 0, dilation, groups)
        return faulty
    _wrap_torch_convs(mp, make)


def torch_flatten_channels_last(mp):
    """torch.nn.Flatten flattens an (N, C, *sp) map in channels-last order (*sp, C), the order the
    channels_last memory format stores it in, instead of the logical (C, *sp)."""
    import torch

    def forward(self, x):
        if x.ndim > 2 and self.start_dim == 1:
            x = x.movedim(1, -1)
        return x.flatten(self.start_dim, self.end_dim)
    mp.setattr(torch.nn.Flatten, "forward", forward)


# ---- tensorflow --------------------------------------------------------------
def tf_same_odd_pixel_first(mp):
    import tensorflow as tf

    def make(op):
        def faulty(x, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
            if padding != "SAME":
                return op(x, filters, strides, padding, data_format, dilations, name)
            pads = [(0, 0)]
            s = strides if isinstance(strides, (list, tuple)) else [strides] * 2
            s = s[-3:-1] if len(s) == 4 else s
            for n, k, st in zip(x.shape[1:3], filters.shape[:2], s):
                total = max((-(-n // st) - 1) * st + k - n, 0)
                pads.append((total - total // 2, total // 2))  # odd pixel at the START
            return op(x, filters, strides, pads + [(0, 0)], data_format, dilations, name)
        return faulty
    _wrap(mp, tf.nn, "conv2d", make)


def tf_depth_to_space_crd(mp):
    import tensorflow as tf

    def crd(x, r, data_format="NHWC", name=None):
        n, h, w, c = x.shape
        out = tf.reshape(x, (n, h, w, c // (r * r), r, r))
        return tf.reshape(tf.transpose(out, (0, 1, 4, 2, 5, 3)), (n, h * r, w * r, c // (r * r)))
    mp.setattr(tf.nn, "depth_to_space", crd)


def tf_dilation_ignored(mp):
    import tensorflow as tf
    for name in ("conv1d", "conv2d", "conv3d"):
        def make(op, name=name):
            def faulty(*a, **k):
                if "dilations" in k:
                    k["dilations"] = 1 if name == "conv1d" else [1] * len(np.atleast_1d(k["dilations"]))
                return op(*a, **k)
            return faulty
        _wrap(mp, tf.nn, name, make)


def tf_transpose_kernel_read_as_io(mp):
    import tensorflow as tf

    def make(op):
        def faulty(x, filters, *a, **k):
            axes = list(range(len(filters.shape)))
            axes[-2], axes[-1] = axes[-1], axes[-2]
            square = filters.shape[-1] == filters.shape[-2]
            return op(x, tf.transpose(filters, axes) if square else filters, *a, **k)
        return faulty
    _wrap(mp, tf.nn, "conv2d_transpose", make)


def tf_depthwise_multiplier_order(mp):
    """tf.nn.depthwise_conv2d (what Keras' DepthwiseConv1D/2D run) gives output channel m·C + c
    (multiplier-major) instead of c·M + m for its (kh, kw, C, M) filter."""
    import tensorflow as tf

    def make(op):
        def faulty(x, filters, *a, **k):
            y = op(x, filters, *a, **k)
            channels, m = filters.shape[-2], filters.shape[-1]
            if m == 1:
                return y
            axis = 1 if (k.get("data_format") or "NHWC") == "NCHW" else 3
            moved = tf.experimental.numpy.moveaxis(y, axis, -1)
            reordered = tf.reshape(tf.transpose(tf.reshape(moved, [*moved.shape[:-1], channels, m]),
                                                [0, 1, 2, 4, 3]), moved.shape)
            return tf.experimental.numpy.moveaxis(reordered, -1, axis)
        return faulty
    import tensorflow.compat.v2 as tf_v2  # Keras 2 (tf.keras 2.15) calls tf.compat.v2.nn, a module of its own
    for namespace in {id(ns): ns for ns in (tf.nn, tf_v2.nn)}.values():
        _wrap(mp, namespace, "depthwise_conv2d", make)


def keras_not_on_tensorflow():
    """Keras 3 on another backend (tox envs keras-jax, keras-torch) runs its layers on that backend, so a
    fault in a tf.nn function reaches only what the layers would have called on TensorFlow."""
    import keras
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return (f"Keras runs on {backend} (KERAS_BACKEND): its DepthwiseConv layers do not call "
                "tf.nn.depthwise_conv2d, the function this fault changes, and the tf.nn column's depthwise conv is "
                "a grouped tf.nn.conv2d")
    return None


def tf_argmax_channels_first(mp):
    """tf.nn.max_pool_with_argmax returns the channels-first flat index (c·H + y)·W + x (an NCHW
    kernel's) instead of its documented NHWC (y·W + x)·C + c."""
    import tensorflow as tf

    def make(op):
        def faulty(x, *a, **k):
            values, argmax = op(x, *a, **k)
            _, height, width, channels = x.shape
            c, pixel = argmax % channels, argmax // channels
            return values, c * (height * width) + pixel
        return faulty
    _wrap(mp, tf.nn, "max_pool_with_argmax", make)


def _keras_moveaxis_reshape():
    """``keras.ops``' moveaxis and reshape (Keras 3, any backend); Keras 2 has no keras.ops and runs on
    TensorFlow only, so there they are TensorFlow's."""
    import keras
    if hasattr(keras, "ops"):
        return keras.ops.moveaxis, keras.ops.reshape
    import tensorflow as tf
    return tf.experimental.numpy.moveaxis, tf.reshape


def keras_flatten_channels_first(mp):
    """keras.layers.Flatten(data_format='channels_last') flattens an (N, *sp, C) map in PyTorch's
    channel-major order (C, *sp) instead of its own (*sp, C)."""
    import math

    import keras
    moveaxis, reshape = _keras_moveaxis_reshape()

    def call(self, inputs):
        shape = tuple(inputs.shape)
        if len(shape) > 2 and self.data_format == "channels_last":
            inputs = moveaxis(inputs, -1, 1)
        return reshape(inputs, (-1 if shape[0] is None else shape[0], math.prod(shape[1:])))
    mp.setattr(keras.layers.Flatten, "call", call)


def keras_flatten_data_format_ignored(mp):
    """keras.layers.Flatten ignores its data_format='channels_last' and flattens as for channels_first:
    it moves axis 1 (the first spatial axis of an NHWC map) last before flattening."""
    import math

    import keras
    moveaxis, reshape = _keras_moveaxis_reshape()

    def call(self, inputs):
        shape = tuple(inputs.shape)
        if len(shape) > 2:  # Keras' channels_first branch, whatever self.data_format says
            inputs = moveaxis(inputs, 1, -1)
        return reshape(inputs, (-1 if shape[0] is None else shape[0], math.prod(shape[1:])))
    mp.setattr(keras.layers.Flatten, "call", call)


# ---- jax ---------------------------------------------------------------------
def jax_strides_swapped(mp):
    from jax import lax

    def make(op):
        def faulty(lhs, rhs, window_strides, *a, **k):
            return op(lhs, rhs, tuple(reversed(tuple(window_strides))), *a, **k)
        return faulty
    _wrap(mp, lax, "conv_general_dilated", make)


def jax_one_output_perturbed(mp):
    from jax import lax

    def make(op):
        def faulty(*a, **k):
            out = op(*a, **k)
            flat = out.reshape(-1)
            return flat.at[flat.size // 2].multiply(1 + 1e-3).reshape(out.shape)
        return faulty
    _wrap(mp, lax, "conv_general_dilated", make)


def jax_same_odd_pixel_first(mp):
    """lax.conv_general_dilated(padding='SAME') puts the odd pixel of an odd total padding at the start."""
    from jax import lax

    def make(op):
        def faulty(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                   dimension_numbers=None, **k):
            if not (isinstance(padding, str) and padding.upper() == "SAME") or lhs_dilation not in (None, ()) and \
                    any(d != 1 for d in lhs_dilation):
                return op(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers, **k)
            dims = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
            sizes = [lhs.shape[i] for i in dims.lhs_spec[2:]]
            kernel = [rhs.shape[i] for i in dims.rhs_spec[2:]]
            dilation = rhs_dilation or (1,) * len(sizes)
            pairs = []
            for n, kk, s, d in zip(sizes, kernel, window_strides, dilation):
                total = max((-(-n // s) - 1) * s + d * (kk - 1) + 1 - n, 0)
                pairs.append((total - total // 2, total // 2))  # odd pixel at the START
            return op(lhs, rhs, window_strides, pairs, lhs_dilation, rhs_dilation, dimension_numbers, **k)
        return faulty
    _wrap(mp, lax, "conv_general_dilated", make)


# ---- flax ----------------------------------------------------------------------
def _wrap_linen_lax(monkeypatch, attribute, make):
    """Give flax.linen.linear a ``lax`` whose ``attribute`` is ``make(original)``; every other name is the real lax's."""
    import flax.linen.linear as linen_linear
    real_lax = linen_linear.lax

    class Lax:
        def __getattr__(self, name):
            return getattr(real_lax, name)

    setattr(Lax, attribute, staticmethod(make(getattr(real_lax, attribute))))
    monkeypatch.setattr(linen_linear, "lax", Lax())


def flax_conv_transpose_kernel_in_out_swapped(mp):
    """Flax's linen ConvTranspose reading its (*k, I, O) kernel as (*k, O, I) when square."""
    def make(op):
        def faulty(lhs, rhs, *a, **k):
            if rhs.shape[-1] == rhs.shape[-2]:
                rhs = rhs.swapaxes(-1, -2)
            return op(lhs, rhs, *a, **k)
        return faulty
    _wrap_linen_lax(mp, "conv_transpose", make)


def flax_dense_scaled(mp):
    """Flax's linen Dense off by a factor (1 + 1e-3): a precision bug in its dot_general."""
    _wrap_linen_lax(mp, "dot_general", lambda op: lambda *a, **k: op(*a, **k) * (1 + 1e-3))


FAULTS = [
    Fault("torch-kernel-flipped", "torch", "F.conv2d computes a true convolution (kernel flipped)", torch_kernel_flipped,
          try_first=("dl_conv_is_cross_correlation",)),
    Fault("torch-output-padding-ignored", "torch", "F.conv_transpose*d ignores output_padding", torch_output_padding_ignored,
          try_first=("conv_transpose_output_padding",)),
    Fault("torch-pixel-shuffle-dcr", "torch", "F.pixel_shuffle uses DCR instead of CRD order", torch_pixel_shuffle_in_dcr_order,
          try_first=("pixel_shuffle_folding",)),
    Fault("torch-linear-untransposed", "torch", "F.linear uses W instead of Wᵀ when W is square", torch_linear_untransposed_when_square,
          try_first=("one_by_one_conv_is_linear",)),
    Fault("torch-unpool-indices-column-major", "torch", "F.max_unpool2d reads indices as x·H+y", torch_unpool_indices_column_major,
          try_first=("max_unpool_restores_switch_positions",)),
    Fault("torch-max-pool-indices-column-major", "torch", "F.max_pool2d(return_indices=True) gives x·H+y",
          torch_max_pool_indices_column_major, try_first=("max_unpool_restores_switch_positions",)),
    Fault("torch-conv1d-scaled", "torch", "F.conv1d output scaled by (1+1e-3)", torch_conv1d_scaled,
          try_first=("conv2d_is_conv3d_spanning_depth",)),
    Fault("torch-depthwise-multiplier-order", "torch",
          "F.conv{n}d with groups=C, multiplier M>1: output channel m·C+c instead of c·M+m",
          torch_depthwise_multiplier_order,
          try_first=("depthwise_multiplier_is_not_full_conv",)),
    Fault("torch-groups-interleaved", "torch",
          "F.conv{n}d with 1<groups<C: input channel c in group c mod g instead of c // (C/g)",
          torch_groups_interleaved,
          try_first=("conv_input_gradient_is_flipped_kernel_correlation",)),
    Fault("torch-same-odd-pixel-first", "torch", "F.conv{n}d padding='same' puts the odd pixel first",
          torch_same_odd_pixel_first,
          try_first=("same_padding_is_asymmetric",)),
    Fault("torch-flatten-channels-last", "torch",
          "torch.nn.Flatten flattens (N, C, *sp) in channels-last order (*sp, C)", torch_flatten_channels_last,
          try_first=("flatten_order_nchw_vs_nhwc",)),
    Fault("tensorflow-same-odd-pixel-first", "tensorflow", "tf.nn.conv2d 'SAME' puts the odd pixel first", tf_same_odd_pixel_first,
          try_first=("same_padding_is_asymmetric",)),
    Fault("tensorflow-depth-to-space-crd", "tensorflow", "tf.nn.depth_to_space uses CRD instead of DCR", tf_depth_to_space_crd,
          try_first=("pixel_shuffle_folding",)),
    Fault("tensorflow-dilation-ignored", "tensorflow", "tf.nn.conv{1,2,3}d ignore dilations", tf_dilation_ignored,
          try_first=("conv_is_im2col_matmul",)),
    Fault("tensorflow-transpose-kernel-io", "tensorflow", "tf.nn.conv2d_transpose reads its filter as (*k, I, O)", tf_transpose_kernel_read_as_io,
          try_first=("kernel_layouts",)),
    Fault("tensorflow-depthwise-multiplier-order", "tensorflow",
          "tf.nn.depthwise_conv2d (Keras DepthwiseConv1D/2D): output channel m·C+c instead of c·M+m",
          tf_depthwise_multiplier_order,
          try_first=("depthwise_multiplier_is_not_full_conv",), unreachable=keras_not_on_tensorflow),
    Fault("tensorflow-argmax-channels-first", "tensorflow",
          "tf.nn.max_pool_with_argmax index (c·H+y)·W+x instead of (y·W+x)·C+c", tf_argmax_channels_first,
          try_first=("max_unpool_restores_switch_positions",)),
    Fault("keras-flatten-channels-first", "tensorflow",
          "keras.layers.Flatten (channels_last) flattens in PyTorch's (C, *sp) order instead of (*sp, C)",
          keras_flatten_channels_first,
          try_first=("flatten_order_nchw_vs_nhwc",)),
    Fault("keras-flatten-data-format-ignored", "tensorflow",
          "keras.layers.Flatten ignores data_format='channels_last' (moves axis 1 last, as for channels_first)",
          keras_flatten_data_format_ignored,
          try_first=("flatten_order_nchw_vs_nhwc",)),
    Fault("jax-strides-swapped", "jax", "lax.conv_general_dilated swaps its window strides", jax_strides_swapped,
          try_first=("conv2d_is_conv3d_spanning_depth",)),
    Fault("jax-one-output-perturbed", "jax", "lax.conv_general_dilated: one output element off by 1e-3 relative", jax_one_output_perturbed,
          try_first=("conv2d_is_conv3d_spanning_depth",)),
    Fault("jax-same-odd-pixel-first", "jax", "lax.conv_general_dilated 'SAME' puts the odd pixel first",
          jax_same_odd_pixel_first,
          try_first=("same_padding_is_asymmetric",)),
    Fault("flax-conv-transpose-kernel-swapped", "flax", "linen ConvTranspose reads its kernel as (*k, O, I)", flax_conv_transpose_kernel_in_out_swapped,
          try_first=("conv_transpose_output_padding",)),
    Fault("flax-dense-scaled", "flax", "linen Dense off by (1+1e-3)", flax_dense_scaled,
          try_first=("conv_is_im2col_matmul",)),
]
