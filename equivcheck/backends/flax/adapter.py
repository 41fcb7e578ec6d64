"""The Flax adapter: linen modules for the functional ops, linen and nnx layers.

Design rules
- ``flax`` is imported in ``__init__``; this module imports no framework.
- All JAX plumbing (asarray, session with x64, vjp, jit cache, composed
  pixel shuffles, patches) is inherited from :class:`JaxBackend`: a Flax user
  reaches for ``jax.numpy``/``lax`` for what Flax lacks.
- Functional ops run a ``flax.linen`` module (``Conv``, ``ConvTranspose``,
  ``Dense``) applied to parameters made from the canonical weights through
  :mod:`equivcheck.layouts` (read at call time); data goes in Flax's ``N*C``.
- ``dtype`` and ``param_dtype`` follow the run dtype; float64 layers must be
  built inside :meth:`session` (x64), which ``layer`` checks.
- Unbatched ``(C, *sp)`` input is passed on as ``(*sp, C)``: Flax itself adds
  and removes the batch axis.
- PyTorch's ConvTranspose is reproduced by ``ConvTranspose(transpose_kernel=False)``
  (Flax's default, kernel ``(*k, I, O)``) with the kernel spatially flipped and
  explicit padding pairs (d(k−1)−p, d(k−1)−p+output_padding) of the stride-dilated
  input.  ``transpose_kernel=True`` would flip and swap I/O itself, making the
  kernel ``(*k, O, I)`` with no flip.  Flax's ConvTranspose has no
  feature_group_count, so grouped transposed convs are n/a.
- Pooling is ``flax.linen.{max,avg}_pool`` (``count_include_pad`` both ways); they have no
  window dilation and no ceil_mode (n/a).  Inference BatchNorm is ``flax.linen.BatchNorm
  (use_running_average=True)`` applied with the given statistics.  ``pad`` and the FFT ops
  are jax.numpy's (inherited), as a Flax user writes them.
- The layers (linen and nnx) are :mod:`.layers`.
"""
from __future__ import annotations

import inspect

from equivcheck import layouts
from equivcheck.backends.base import NotApplicable, padding_spec, spatial_ints, transpose_padding
from equivcheck.backends.flax.layers import FlaxLayers
from equivcheck.backends.jax.adapter import JaxBackend
from equivcheck.backends.jax.windows import no_ceil_mode


class FlaxBackend(FlaxLayers, JaxBackend, framework="flax", functional_api="linen", layer_apis=("linen", "nnx")):
    """Flax linen/nnx on canonical tensors; every array is a ``jax.Array``."""

    def load(self):
        super().load()
        import flax
        from flax import linen, nnx

        self.flax, self.linen, self.nnx = flax, linen, nnx

    def versions(self):
        return {**super().versions(), "flax": self.flax.__version__}

    # ---- functional ops through linen modules ----------------------------------
    def _spatial_axes(self, layout: str, rank: int) -> tuple[int, ...]:
        return tuple(i for i, axis in enumerate(layout) if axis in layouts.SPATIAL[rank])

    def _run_module(self, cls_name: str, op: str, x, w, b, rank: int, config: dict):
        """Apply ``linen.<cls_name>(**config)`` to ``x`` with the canonical kernel ``w``, bias ``b``."""
        perms = self._data_perms("flax", x.ndim, rank) if op != "dense" else ((), ())
        native_kernel = layouts.kernel_layout("flax", op, rank, api="linen")
        kernel_perm = self._kernel_perm("flax", "linen", op, rank)
        flip = self._spatial_axes(native_kernel, rank) if op == "conv_transpose" else ()
        config = {**config, "use_bias": b is not None, "dtype": self.dtype, "param_dtype": self.dtype}

        def build():
            module = getattr(self.linen, cls_name)(**config)
            to_native, from_native = perms

            def run(x, w, b):
                kernel = self._permute(w, kernel_perm)
                if flip:  # transpose_kernel=False correlates with the kernel as given
                    kernel = self.jnp.flip(kernel, flip)
                params = {"kernel": kernel} if b is None else {"kernel": kernel, "bias": b}
                y = module.apply({"params": params}, self._permute(x, to_native) if to_native else x)
                return self._permute(y, from_native) if from_native else y
            return run

        key = ("linen", cls_name, perms, kernel_perm, flip, tuple(sorted(config.items())))
        return self._jit(key, build, guard=op == "conv_transpose")(x, w, b)

    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        """``flax.linen.Conv``; 'same' is Flax's (lax's) 'SAME', the TF rule."""
        rank = w.ndim - 2
        return self._run_module("Conv", "conv", x, w, b, rank, dict(
            features=int(w.shape[0]), kernel_size=tuple(int(k) for k in w.shape[2:]), strides=spatial_ints(stride, rank),
            padding=padding_spec(padding, rank), kernel_dilation=spatial_ints(dilation, rank), feature_group_count=int(groups)))

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        """``flax.linen.ConvTranspose`` (transpose_kernel=False, flipped kernel, explicit pads)."""
        if int(groups) != 1:
            raise NotApplicable("flax ConvTranspose has no feature_group_count, so it cannot express a "
                                "grouped transposed convolution")
        rank = w.ndim - 2
        kernel, dilations = tuple(int(k) for k in w.shape[2:]), spatial_ints(dilation, rank)
        return self._run_module("ConvTranspose", "conv_transpose", x, w, b, rank, dict(
            features=int(w.shape[1]), kernel_size=kernel, strides=spatial_ints(stride, rank),
            padding=transpose_padding(padding, output_padding, kernel, dilations, rank,
                                      op="lax.conv_transpose"), kernel_dilation=dilations))

    def linear(self, x, w, b=None):
        """``flax.linen.Dense`` on the last axis; kernel in the table's dense layout (IO)."""
        return self._run_module("Dense", "dense", x, w, b, 0, dict(features=int(w.shape[0])))

    # ---- pooling through flax.linen.{max,avg}_pool ---------------------------------------
    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        if return_indices:
            raise NotApplicable("Flax has no max-pool-with-argmax (flax.linen.max_pool returns values only), "
                                "so there are no switch indices to record or unpool with")
        rank, kernel, strides, pads, dilations = self._pool_config(x, kernel, stride, padding, dilation)
        self._pool_options("max_pool", ceil_mode, dilations)
        return self._pool("max_pool", x, rank, kernel, strides, pads, None)

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        raise NotApplicable("Flax has no max-unpool op (and no max-pool argmax to feed one)")

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        """``flax.linen.avg_pool``: its count_include_pad=True divides by prod(kernel), False by the
        in-bounds count (a pool of ones)."""
        rank, kernel, strides, pads, dilations = self._pool_config(x, kernel, stride, padding, dilation)
        self._pool_options("avg_pool", ceil_mode, dilations)
        if not count_include_pad and "count_include_pad" not in inspect.signature(self.linen.avg_pool).parameters:
            raise NotApplicable(f"flax {self.flax.__version__}'s linen.avg_pool has no count_include_pad "
                                "(it always divides by the window size)")
        return self._pool("avg_pool", x, rank, kernel, strides, pads, None if count_include_pad else False)

    def _pool_options(self, name, ceil_mode, dilations):
        """n/a for what flax.linen's pools cannot say: ceil_mode, window dilation."""
        if ceil_mode:
            raise no_ceil_mode(f"flax.linen.{name}")
        if any(d != 1 for d in dilations):
            raise NotApplicable(f"flax.linen.{name} has no window dilation (flax.linen.pool passes none to "
                                "lax.reduce_window); the jax column's lax.reduce_window(window_dilation=) has it")

    def _pool(self, name, x, rank, kernel, strides, pads, count_include_pad):
        """``count_include_pad`` None: Flax's default (not passed)."""
        to_native, from_native = self._data_perms("flax", x.ndim, rank)
        extra = {} if count_include_pad is None else {"count_include_pad": count_include_pad}

        def build():
            pool = getattr(self.linen, name)

            def run(x):
                return self._permute(pool(self._permute(x, to_native), kernel, strides, pads, **extra), from_native)
            return run

        return self._jit(("flax", name, to_native, from_native, kernel, strides, pads, count_include_pad), build)(x)

    # ---- inference batch normalisation: flax.linen.BatchNorm ----------------------------------
    def batch_norm(self, x, mean, var, gamma, beta, eps):
        """``flax.linen.BatchNorm(use_running_average=True, axis=-1, epsilon=eps)`` applied to the native
        N*C array with ``{"params": {scale, bias}, "batch_stats": {mean, var}}``."""
        rank = x.ndim - 2
        to_native, from_native = self._data_perms("flax", x.ndim, rank)
        config = dict(use_running_average=True, axis=-1, epsilon=float(eps), dtype=self.dtype, param_dtype=self.dtype)

        def build():
            module = self.linen.BatchNorm(**config)

            def run(x, mean, var, gamma, beta):
                variables = {"params": {"scale": gamma, "bias": beta}, "batch_stats": {"mean": mean, "var": var}}
                return self._permute(module.apply(variables, self._permute(x, to_native)), from_native)
            return run

        return self._jit(("linen", "BatchNorm", to_native, from_native, tuple(sorted(config.items()))), build)(
            x, mean, var, gamma, beta)
