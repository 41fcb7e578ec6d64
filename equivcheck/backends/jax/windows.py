"""Pooling and padding in JAX: ``lax.reduce_window`` and ``jnp.pad``, in the native data layout.

A mixin of :class:`equivcheck.backends.jax.adapter.JaxBackend` (it uses the adapter's ``lax``/``jnp``,
jit cache and layout permutations).

Design rules
- Windows are told per native axis: window 1, stride 1, padding (0, 0) on the N and C axes.
- Max pooling pads with −∞: it is ``reduce_window``'s init value, which lax pads with.
- lax has no average pool: the window sum divided by the number of taps (``count_include_pad=True``)
  or by the same ``reduce_window`` of ones (``count_include_pad=False``, the in-bounds count), as
  Flax's ``avg_pool`` divides.
- lax has no ``ceil_mode`` (see :func:`no_ceil_mode`) and no argmax (no indices).
- ``pad`` is ``jnp.pad``, whose mode names are NumPy's (the canonical words): passed as given.
"""
from __future__ import annotations

import math

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import NotApplicable, is_int, padding_pairs, padding_spec, spatial_ints


def pool_rank(x, kernel) -> int:
    return x.ndim - 2 if is_int(kernel) else len(kernel)


def no_ceil_mode(api: str) -> NotApplicable:
    """Why ``ceil_mode=True`` is n/a for a pool built on ``lax.reduce_window`` (``api`` names it)."""
    return NotApplicable(f"{api} has no ceil_mode: its output size follows from the padding alone (explicit "
                         "(low, high) pairs, 'VALID' or 'SAME'); PyTorch's ceil rule would be extra right "
                         "padding and a divisor equivcheck computed, so the claim would test equivcheck, not JAX")


class WindowOps:
    """``max_pool``, ``avg_pool`` (lax.reduce_window) and ``pad`` (jnp.pad) on canonical tensors."""

    def _pool_config(self, x, kernel, stride, padding, dilation=1):
        rank = pool_rank(x, kernel)
        kernel = spatial_ints(kernel, rank)
        strides = kernel if stride is None else spatial_ints(stride, rank)
        return rank, kernel, strides, padding_spec(padding, rank), spatial_ints(dilation, rank)

    def _native_axes(self, x, rank):
        """(canonical → native perm, native → canonical perm, native layout letters) of ``x``."""
        to_native, from_native = self._data_perms(self.framework_name, x.ndim, rank)
        native = layouts.data_layout(self.framework_name, rank)
        if x.ndim == rank + 1:
            native = native.replace("N", "")
        return to_native, from_native, native

    @staticmethod
    def _per_axis(native, rank, values, other):
        """Per-spatial-dim ``values`` spread over the native axes, ``other`` on N and C."""
        spatial = layouts.SPATIAL[rank]
        return tuple(values[spatial.index(a)] if a in spatial else other for a in native)

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        if return_indices:
            raise NotApplicable("JAX has no max-pool-with-argmax (lax.reduce_window returns values only), "
                                "so there are no switch indices to record or unpool with")
        if ceil_mode:
            raise no_ceil_mode("lax.reduce_window")
        return self._reduce_window("max", x, *self._pool_config(x, kernel, stride, padding, dilation), True)

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        raise NotApplicable("JAX has no max-unpool op (and no max-pool argmax to feed one)")

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        """Window sum / prod(kernel) (padding counted), or / the in-bounds count (``count_include_pad=False``)."""
        if ceil_mode:
            raise no_ceil_mode("lax.reduce_window")
        return self._reduce_window("avg", x, *self._pool_config(x, kernel, stride, padding, dilation),
                                   bool(count_include_pad))

    def _reduce_window(self, kind, x, rank, kernel, strides, pads, dilations, count_include_pad):
        """``lax.reduce_window`` in the native layout: window 1 on the N and C axes."""
        to_native, from_native, native = self._native_axes(x, rank)

        def build():
            lax, jnp = self.lax, self.jnp
            window, steps = self._per_axis(native, rank, kernel, 1), self._per_axis(native, rank, strides, 1)
            dilation = self._per_axis(native, rank, dilations, 1)
            padding = pads if isinstance(pads, str) else self._per_axis(native, rank, pads, (0, 0))

            def run(x):
                xn = self._permute(x, to_native)
                if kind == "max":
                    y = lax.reduce_window(xn, -np.inf, lax.max, window, steps, padding, window_dilation=dilation)
                else:
                    y = lax.reduce_window(xn, 0.0, lax.add, window, steps, padding, window_dilation=dilation)
                    if count_include_pad:
                        y = y / math.prod(kernel)
                    else:
                        y = y / lax.reduce_window(jnp.ones_like(xn), 0.0, lax.add, window, steps, padding,
                                                  window_dilation=dilation)
                return self._permute(y, from_native)
            return run

        key = ("pool", kind, to_native, from_native, native, kernel, strides, pads, dilations, count_include_pad)
        return self._jit(key, build)(x)

    def pad(self, x, pads, mode="constant"):
        """``jnp.pad(x, pad_width, mode=mode)`` on the spatial axes; jnp.pad's mode names are NumPy's, so
        ``mode`` goes as given (an unknown one gets jnp.pad's own error)."""
        rank = x.ndim - 2
        pairs = padding_pairs(pads, rank)
        if pairs is None or len(pairs) != rank:  # a word, a malformed value or a wrong count: jnp.pad judges it
            return self.jnp.pad(x, pads if pairs is None else [(0, 0), (0, 0), *pairs], mode=mode)
        to_native, from_native, native = self._native_axes(x, rank)
        width = self._per_axis(native, rank, tuple(pairs), (0, 0))

        def build():
            def run(x):
                return self._permute(self.jnp.pad(self._permute(x, to_native), width, mode=mode), from_native)
            return run

        return self._jit(("pad", mode, to_native, from_native, width), build)(x)
