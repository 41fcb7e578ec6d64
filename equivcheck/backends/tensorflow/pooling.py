"""TensorFlow pooling, padding and patch extraction (``tf.nn`` pools, ``tf.nn.pool`` for dilation,
``max_pool_with_argmax``, ``tf.pad``, ``tf.image.extract_patches``).

A mixin of :class:`equivcheck.backends.tensorflow.adapter.TensorflowBackend`: it uses the adapter's
``tf`` module (looked up at call time) and its layout conversions (``_native`` / ``_canonical``).
"""
from __future__ import annotations

import math

import numpy as np

from equivcheck.backends.base import NotApplicable, padding_pairs, spatial_ints
from equivcheck.backends.tensorflow.padding import is_seq, pad_list, pad_spec

#: What TF and Keras offer instead of PyTorch's/ONNX's ceil_mode (shared with the Keras pool layers).
NO_CEIL_MODE = "TensorFlow/Keras pooling has no ceil_mode; 'SAME' is what they offer"
#: tf.pad's modes by NumPy's name (conventions.PAD_MODES); tf.pad has no 'edge' or 'wrap'.
PAD_MODES = {"constant": "CONSTANT", "reflect": "REFLECT", "symmetric": "SYMMETRIC"}


class PoolingOps:
    """Max/average pooling, unpooling, padding and patch extraction on NHWC (channels-last) tensors."""

    # ---- pooling and patches ----------------------------------------------
    def _pool_setup(self, x, kernel, stride):
        rank = len(kernel) if is_seq(kernel) else len(x.shape) - 2
        batched = len(x.shape) != rank + 1
        k = spatial_ints(kernel, rank)
        return rank, batched, k, (k if stride is None else spatial_ints(stride, rank))

    def _pool_arguments(self, x, kernel, stride, padding, dilation, ceil_mode):
        """What max_pool and avg_pool both start from: (rank, batched, k, s, d, native x, its layout, tf.nn's
        padding); ceil_mode is n/a (TF has none)."""
        if ceil_mode:
            raise NotApplicable(NO_CEIL_MODE)
        rank, batched, k, s = self._pool_setup(x, kernel, stride)
        xn, layout = self._native(x, rank, batched)
        return rank, batched, k, s, spatial_ints(dilation, rank), xn, layout, pad_spec(padding, rank)

    def _dilated_pool(self, xn, layout, kind, k, s, d, spec, fill):
        """``tf.nn.pool``, TF's pool with ``dilations``.  It refuses strides > 1 with dilations > 1, so
        'VALID' (explicit pads are a tf.pad with ``fill`` first) runs at stride 1 and keeps every s-th
        output, as a TF user would; 'SAME' goes to tf.nn.pool as asked (TF raises its own error)."""
        tf = self.tf
        if not isinstance(spec, str):
            xn, spec = tf.pad(xn, pad_list(layout, spec), constant_values=fill), "VALID"
        if spec != "VALID" or all(si == 1 for si in s):
            return tf.nn.pool(xn, list(k), kind, strides=list(s), padding=spec, dilations=list(d))
        y = tf.nn.pool(xn, list(k), kind, strides=[1] * len(k), padding="VALID", dilations=list(d))
        spatial = [a for a in layout if a not in "NC"]
        return y[tuple(slice(None, None, s[spatial.index(a)]) if a in spatial else slice(None) for a in layout)]

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        tf = self.tf
        rank, batched, k, s, d, xn, layout, spec = self._pool_arguments(x, kernel, stride, padding, dilation, ceil_mode)
        if any(di != 1 for di in d):
            if return_indices:
                raise NotApplicable("tensorflow: tf.nn.max_pool_with_argmax has no dilation; tf.nn.pool has "
                                    "dilations but returns no indices")
            return self._canonical(self._dilated_pool(xn, layout, "MAX", k, s, d, spec, -np.inf), rank, batched)
        if not return_indices:
            if not isinstance(spec, str):
                if rank == 3:  # max_pool3d takes only 'SAME'/'VALID': pad with -inf first
                    xn, spec = tf.pad(xn, pad_list(layout, spec), constant_values=-np.inf), "VALID"
                else:  # max_pool1d/2d take explicit pairs themselves
                    spec = pad_list(layout, spec)
            pool = {1: tf.nn.max_pool1d, 2: tf.nn.max_pool2d, 3: tf.nn.max_pool3d}[rank]
            return self._canonical(pool(xn, list(k), list(s), spec), rank, batched)
        if rank != 2:
            raise NotApplicable(f"tensorflow: tf.nn.max_pool_with_argmax is 2-D only; there is no {rank}-D "
                                "max pool that returns indices")
        shift = None
        if not isinstance(spec, str):
            # max_pool_with_argmax takes only 'SAME'/'VALID': pad with -inf as a TF user would,
            # then re-base the indices onto the unpadded input (same (y*W + x)*C + c form).
            (top, _), (left, _) = spec
            width, channels = xn.shape[layout.index("W")], xn.shape[layout.index("C")]
            xn, spec = tf.pad(xn, pad_list(layout, spec), constant_values=-np.inf), "VALID"
            shift = (top, left, width, xn.shape[layout.index("W")], channels)
        values, argmax = tf.nn.max_pool_with_argmax(xn, list(k), list(s), spec)
        if shift is not None:
            top, left, width, padded_width, channels = shift
            row, rest = argmax // (padded_width * channels), argmax % (padded_width * channels)
            argmax = ((row - top) * width + rest // channels - left) * channels + rest % channels
        return self._canonical(values, rank, batched), self._canonical(argmax, rank, batched)

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        tf = self.tf
        rank, batched, k, s = self._pool_setup(y, kernel, stride)
        if rank != 2 or not batched:
            raise NotApplicable("tensorflow: indices come from tf.nn.max_pool_with_argmax, which is 2-D and batched only")
        yn, layout = self._native(y, 2)
        idx = self._native(tf.cast(indices, tf.int64), 2)[0]
        spatial = [a for a in layout if a not in "NC"]
        pooled = [yn.shape[layout.index(a)] for a in spatial]
        size = ([(o - 1) * si + ki for o, si, ki in zip(pooled, s, k)] if output_size is None
                else [int(v) for v in output_size][-rank:])
        batch, channels = yn.shape[layout.index("N")], yn.shape[layout.index("C")]
        # TF has no unpooling op: scatter each value to its flat (y*W + x)*C + c slot of
        # its batch row.  tensor_scatter_nd_update writes (overlapping windows repeat an
        # index with the same value); tf.scatter_nd would add those repeats up.
        rows = tf.broadcast_to(tf.reshape(tf.range(batch, dtype=tf.int64), [-1] + [1] * (len(layout) - 1)),
                               tf.shape(idx, out_type=tf.int64))
        where = tf.stack([tf.reshape(rows, [-1]), tf.reshape(idx, [-1])], axis=1)
        flat = tf.tensor_scatter_nd_update(tf.zeros([batch, math.prod(size) * channels], yn.dtype),
                                           where, tf.reshape(yn, [-1]))
        out = tf.reshape(flat, [batch if a == "N" else channels if a == "C" else size[spatial.index(a)]
                                for a in layout])
        return self._canonical(out, 2)

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        tf = self.tf
        rank, batched, k, s, d, xn, layout, spec = self._pool_arguments(x, kernel, stride, padding, dilation, ceil_mode)
        if spec == "SAME" and count_include_pad:
            raise NotApplicable("tensorflow: tf.nn.avg_pool's 'SAME' always leaves the padding out of the "
                                "divisor (count_include_pad=False); TF has no 'SAME' average that counts it")
        if not isinstance(spec, str):
            if not count_include_pad:
                raise NotApplicable("tensorflow: tf.nn.avg_pool takes only 'SAME'/'VALID'; explicit padding is "
                                    "tf.pad's zeros first, which count in the divisor (count_include_pad=True); "
                                    "only 'SAME' leaves the padding out")
            # zero-padding first counts the pad in, like PyTorch's count_include_pad=True
            xn, spec = tf.pad(xn, pad_list(layout, spec)), "VALID"
        if any(di != 1 for di in d):
            return self._canonical(self._dilated_pool(xn, layout, "AVG", k, s, d, spec, 0.0), rank, batched)
        pool = {1: tf.nn.avg_pool1d, 2: tf.nn.avg_pool2d, 3: tf.nn.avg_pool3d}[rank]
        return self._canonical(pool(xn, list(k), list(s), spec), rank, batched)

    def pad(self, x, pads, mode="constant"):
        if mode in ("edge", "wrap"):
            raise NotApplicable(f"tensorflow: tf.pad has no {mode!r} mode; its three modes are CONSTANT, REFLECT "
                                "and SYMMETRIC (NumPy's constant, reflect, symmetric)")
        if mode not in PAD_MODES:
            raise ValueError(f"pad mode must be a NumPy pad mode (constant, reflect, edge, wrap, symmetric), "
                             f"got {mode!r}")
        rank = len(x.shape) - 2
        pairs = padding_pairs(pads, rank)
        if pairs is None or len(pairs) != rank:
            raise ValueError(f"pads must be one (before, after) pair per spatial axis of the (N, C, *spatial) "
                             f"input of shape {tuple(x.shape)}, got {pads!r}")
        xn, layout = self._native(x, rank)
        return self._canonical(self.tf.pad(xn, pad_list(layout, pairs), mode=PAD_MODES[mode]), rank)

    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        tf = self.tf
        rank = len(kernel) if is_seq(kernel) else len(x.shape) - 2
        batched = len(x.shape) != rank + 1
        k, s, d = spatial_ints(kernel, rank), spatial_ints(stride, rank), spatial_ints(dilation, rank)
        xn, layout = self._native(x, rank, batched)
        spec = pad_spec(padding, rank)
        if not isinstance(spec, str):  # extract_patches takes only 'SAME'/'VALID': zero-pad first
            xn, spec = tf.pad(xn, pad_list(layout, spec)), "VALID"
        if rank == 3:
            if any(di != 1 for di in d):
                raise NotApplicable("tensorflow: tf.extract_volume_patches has no dilation (rates) argument")
            patches = tf.extract_volume_patches(xn, [1, *k, 1], [1, *s, 1], spec)
        else:
            if rank == 1:  # a sequence as a one-row image, the way a TF user reaches for extract_patches
                xn, k, s, d = tf.expand_dims(xn, layout.index("W")), (1, *k), (1, *s), (1, *d)
            patches = tf.image.extract_patches(xn, [1, *k, 1], [1, *s, 1], [1, *d, 1], spec)
        batch = patches.shape[0]
        return tf.transpose(tf.reshape(patches, [batch, -1, patches.shape[-1]]), [0, 2, 1])

