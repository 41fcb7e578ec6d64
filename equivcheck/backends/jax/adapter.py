"""The JAX adapter: ``jax.lax`` functional ops (JAX has no layers; see the flax folder).

Design rules
- ``jax`` is imported in ``__init__``; this module imports no framework.
- lax is told one fixed layout, the default of ``lax.conv_general_dilated``
  (``dimension_numbers=None`` means NC*/OI*/NC*; see :func:`_lax_dimensions`).
  Canonical arrays are permuted into it through :mod:`equivcheck.layouts`, read
  at call time, so a wrong table entry breaks the outputs instead of being
  silently agreed with.
- Each op is one ``jax.jit`` callable per static configuration (strides,
  padding, permutations …), cached on the adapter: a new shape costs one XLA
  compile (≈ 70 ms) instead of one per eager primitive (≈ 120–280 ms measured).
- float64 exists only inside :meth:`JaxBackend.session` (``jax.enable_x64``),
  so a float64 run never leaks x64 into a float32 one; ``asarray`` refuses to
  hand out a silently downcast array.
- Inside the session JAX's traceback filtering is off, so an error JAX raises
  keeps its innermost frame inside JAX and the runner records ``raises``.
- Operations lax lacks are composed as a JAX user would (pixel shuffles by
  reshape+transpose, :mod:`.composed`); pooling and padding are ``lax.reduce_window``
  and ``jnp.pad`` (:mod:`.windows`); compile caching and the known-abort guard are
  :mod:`.runtime`.  Max-pool indices and ceil_mode raise :class:`NotApplicable`.
- Complex tensors (the FFT ops) stay native; ``to_numpy`` gives complex128 for them.
- Shared JAX plumbing (border crossing, session, vjp, caching, pooling) lives
  here; :class:`equivcheck.backends.flax.FlaxBackend` subclasses it.
"""
from __future__ import annotations

import contextlib

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import Backend, NotApplicable, padding_spec, spatial_ints, transpose_padding
from equivcheck.backends.jax.composed import ComposedOps
from equivcheck.backends.jax.runtime import Guarded, compilation_cache_dir, use_compilation_cache  # noqa: F401
from equivcheck.backends.jax.windows import WindowOps, pool_rank


def _lax_dimensions(rank: int) -> tuple[str, str, str]:
    """The layout lax is told: ``conv_general_dilated``'s default (lhs, rhs, out).

    >>> _lax_dimensions(2)
    ('NCHW', 'OIHW', 'NCHW')
    """
    spatial = layouts.SPATIAL[rank]
    return "NC" + spatial, "OI" + spatial, "NC" + spatial


# patch order: lax.conv_general_dilated_patches's feature = c * prod(k) + row-major kernel offset
class JaxBackend(ComposedOps, WindowOps, Backend, framework="jax", functional_api="lax", layer_apis=(),
                 patch_order="C,k", array_functions=("jnp", "reshape", "transpose", "concatenate", "expand_dims")):
    """``jax.lax`` ops on canonical tensors; every array is a ``jax.Array``."""

    def load(self):
        super().load()
        import jax
        import jax.numpy as jnp
        from jax import lax

        self.jax, self.jnp, self.lax = jax, jnp, lax
        use_compilation_cache(jax)
        self._compiled: dict[tuple, object] = {}
        try:
            self._device = jax.devices(self.device)[0]
        except RuntimeError as exc:
            raise RuntimeError(f"device={self.device!r} was asked for, but JAX finds no {self.device} device: {exc}") from None
        if self.device == "gpu" and not self.allow_tf32:
            # JAX's documented global switch: float32 matmuls/convs at full precision, no TF32.
            jax.config.update("jax_default_matmul_precision", "highest")

    # ---- identity -------------------------------------------------------------
    def versions(self):
        import jaxlib

        return {"jax": self.jax.__version__, "jaxlib": jaxlib.__version__}

    def numeric_settings(self):
        config = self.jax.config
        precision = config.jax_default_matmul_precision
        if self.device == "gpu":
            tf32 = "allowed" if self.allow_tf32 else f"off (jax_default_matmul_precision={precision})"
        else:
            tf32 = "n/a on cpu"
        return {"jax_default_matmul_precision": str(precision), "jax_enable_x64": bool(config.jax_enable_x64),
                "x64_in_session": self.dtype == "float64", "platform": self.jax.default_backend(),
                "devices": ", ".join(str(d) for d in self.jax.devices()), "device": str(self._device),
                "tf32": tf32, "compilation_cache": config.jax_compilation_cache_dir or "off"}

    def _x64(self):
        """``jax.enable_x64(True)`` (new JAX) or ``jax.experimental.enable_x64()`` (0.4.x)."""
        if hasattr(self.jax, "enable_x64"):
            return self.jax.enable_x64(True)
        from jax.experimental import enable_x64

        return enable_x64()

    @contextlib.contextmanager
    def session(self):
        """x64 on for float64 runs only, the adapter's device, JAX traceback filtering off."""
        config = self.jax.config
        with contextlib.ExitStack() as stack:
            if self.dtype == "float64":
                stack.enter_context(self._x64())
            stack.enter_context(self.jax.default_device(self._device))
            stack.callback(config.update, "jax_traceback_filtering", config.jax_traceback_filtering)
            config.update("jax_traceback_filtering", "off")
            yield

    # ---- crossing the border ----------------------------------------------------
    def _require_session(self):
        """Outside the session JAX would silently make float32 of float64: refuse instead."""
        if self.dtype == "float64" and not self.jax.config.jax_enable_x64:
            raise RuntimeError("float64 JAX runs must happen inside backend.session(), which enables x64")

    def asarray(self, array):
        self._require_session()
        return self.jax.device_put(np.asarray(array, dtype=self.dtype), self._device)

    def to_numpy(self, tensor):
        if np.iscomplexobj(tensor):
            return np.asarray(tensor, dtype=np.complex128)
        return np.asarray(tensor, dtype=np.float64)

    # ---- array ops ----------------------------------------------------------------
    def to_native(self, x):
        return self._permute(x, self._data_perms(self.framework_name, x.ndim, x.ndim - 2)[0])

    def from_native(self, x):
        return self._permute(x, self._data_perms(self.framework_name, x.ndim, x.ndim - 2)[1])

    # ---- layout plumbing (shared with flax) ------------------------------------------
    @staticmethod
    def _data_perms(framework: str, ndim: int, rank: int):
        """(canonical → native, native → canonical) data permutations; unbatched drops N.

        An input of neither (N, C, *sp) nor (C, *sp) rank is left as it is (identity), so
        the framework, not a transpose here, judges it."""
        if ndim not in (rank + 1, rank + 2):
            return (tuple(range(ndim)),) * 2
        native, canonical = layouts.data_layout(framework, rank), layouts.canonical("data", rank)
        if ndim == rank + 1:
            native, canonical = native.replace("N", ""), canonical.replace("N", "")
        return layouts.permutation(canonical, native), layouts.permutation(native, canonical)

    @staticmethod
    def _kernel_perm(framework: str, api: str, op: str, rank: int):
        return layouts.permutation(layouts.canonical(op, rank), layouts.kernel_layout(framework, op, rank, api=api))

    def _permute(self, x, perm):
        return x if perm == tuple(range(len(perm))) else self.jnp.transpose(x, perm)

    def _add_bias(self, y, b, rank: int):
        """Bias on the channel axis of a canonical (channels-first, maybe unbatched) output."""
        return y if b is None else y + self.jnp.reshape(b, (-1,) + (1,) * rank)

    def _jit(self, key: tuple, build, *, guard: bool = False):
        """One jitted callable per static configuration ``key``; ``build()`` makes the Python function.

        ``guard=True`` (programs with a transposed convolution, whose base-dilated input can
        trip a known XLA abort) traces each new input-shape signature once and asks
        :mod:`equivcheck.known_issues` before XLA compiles it."""
        fn = self._compiled.get(key)
        if fn is None:
            fn = self.jax.jit(build())
            if guard and self.device == "cpu":
                fn = Guarded(fn, self)
            self._compiled[key] = fn
        return fn

    # ---- convolution family (lax) ------------------------------------------------------
    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        rank = w.ndim - 2
        to_native, from_native = self._data_perms("jax", x.ndim, rank)
        kernel_perm = self._kernel_perm("jax", "lax", "conv", rank)
        config = (spatial_ints(stride, rank), padding_spec(padding, rank), spatial_ints(dilation, rank), int(groups))

        def build():
            strides, pads, dilations, group_count = config

            def run(x, w, b):
                y = self.lax.conv_general_dilated(
                    self._permute(x, to_native), self._permute(w, kernel_perm), strides, pads,
                    rhs_dilation=dilations, dimension_numbers=_lax_dimensions(rank),
                    feature_group_count=group_count)
                return self._add_bias(self._permute(y, from_native), b, rank)
            return run

        return self._jit(("conv", to_native, from_native, kernel_perm) + config, build)(x, w, b)

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        """``lax.conv_transpose(transpose_kernel=True)``: the canonical (I, O, *k) kernel is
        passed as the forward conv's OI* kernel (lax flips it and swaps I/O), with pads from
        :func:`equivcheck.backends.base.transpose_padding`.  lax.conv_transpose has no feature_group_count, so for
        groups > 1 the op is composed as JAX's own conv gradient is: conv_general_dilated with
        lhs_dilation=stride and the per-group in/out-swapped, flipped kernel."""
        rank = w.ndim - 2
        to_native, from_native = self._data_perms("jax", x.ndim, rank)
        kernel_perm = self._kernel_perm("jax", "lax", "conv_transpose", rank)
        kernel, strides, dilations = tuple(int(k) for k in w.shape[2:]), spatial_ints(stride, rank), spatial_ints(dilation, rank)
        pads = transpose_padding(padding, output_padding, kernel, dilations, rank, op="lax.conv_transpose")
        groups = int(groups)
        if groups != 1 and isinstance(pads, str):
            raise NotApplicable("lax.conv_transpose has no feature_group_count, and the grouped composition "
                                f"via conv_general_dilated(lhs_dilation=…) has no {pads!r} transposed padding")
        config = (strides, pads, dilations, groups)

        def build():
            lax, jnp = self.lax, self.jnp
            dims = _lax_dimensions(rank)

            def run(x, w, b):
                xn, wn = self._permute(x, to_native), self._permute(w, kernel_perm)
                if groups == 1:
                    y = lax.conv_transpose(xn, wn, strides, pads, rhs_dilation=dilations,
                                           dimension_numbers=dims, transpose_kernel=True)
                else:
                    # (I, O/g, *k) → (g, I/g, O/g, *k) → (O, I/g, *k), spatially flipped
                    i, og = wn.shape[:2]
                    wn = jnp.swapaxes(jnp.reshape(wn, (groups, i // groups, og) + kernel), 1, 2)
                    wn = jnp.flip(jnp.reshape(wn, (groups * og, i // groups) + kernel), tuple(range(2, 2 + rank)))
                    y = lax.conv_general_dilated(xn, wn, (1,) * rank, pads, lhs_dilation=strides,
                                                 rhs_dilation=dilations, dimension_numbers=dims,
                                                 feature_group_count=groups)
                return self._add_bias(self._permute(y, from_native), b, rank)
            return run

        # the kernel size is in the key: the grouped composition reshapes with it (found by the soak:
        # two kernels with equal strides/pads/dilations/groups shared one traced reshape)
        return self._jit(("conv_transpose", to_native, from_native, kernel_perm, kernel) + config, build,
                         guard=True)(x, w, b)

    def linear(self, x, w, b=None):
        """JAX has no Linear op: ``x @ W`` with W in the table's dense layout (IO), plus b."""
        perm = self._kernel_perm("jax", "lax", "dense", 0)

        def build():
            def run(x, w, b):
                y = self.jnp.matmul(x, self._permute(w, perm))
                return y if b is None else y + b
            return run

        return self._jit(("linear", perm), build)(x, w, b)

    # ---- normalisation and FFT -------------------------------------------------------------
    def batch_norm(self, x, mean, var, gamma, beta, eps):
        """``jax.nn.standardize(x, mean=, variance=, epsilon=)`` (JAX's own (x − mean)·rsqrt(var + eps),
        which takes given statistics) · gamma + beta, on the channel axis of the native NC* array.
        lax itself has no batch-norm op; Flax's ``BatchNorm`` is the flax column's."""
        rank = x.ndim - 2
        to_native, from_native = self._data_perms("jax", x.ndim, rank)

        def build():
            jax, jnp = self.jax, self.jnp

            def run(x, mean, var, gamma, beta):
                column = (-1,) + (1,) * rank  # axis 1 of NC*
                y = jax.nn.standardize(self._permute(x, to_native), axis=(0,) + tuple(range(2, 2 + rank)),
                                       mean=jnp.reshape(mean, column), variance=jnp.reshape(var, column), epsilon=eps)
                return self._permute(y * jnp.reshape(gamma, column) + jnp.reshape(beta, column), from_native)
            return run

        return self._jit(("batch_norm", to_native, from_native, float(eps)), build)(x, mean, var, gamma, beta)

    def fftn(self, x, axes):
        return self._fft("fftn", x, tuple(int(a) for a in axes))

    def ifftn(self, x, axes):
        return self._fft("ifftn", x, tuple(int(a) for a in axes))

    def _fft(self, name, x, axes):
        def build():
            return lambda x: getattr(self.jnp.fft, name)(x, axes=axes)

        return self._jit((name, axes), build)(x)

    def conj(self, x):
        return self.jnp.conj(x)

    def real(self, x):
        return self.jnp.real(x)

    # ---- patches ------------------------------------------------------------------------
    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        """``lax.conv_general_dilated_patches`` → (N, C·prod(k), L); its feature order is "C,k"."""
        rank = pool_rank(x, kernel)
        to_native, from_native = self._data_perms("jax", x.ndim, rank)
        config = (spatial_ints(kernel, rank), spatial_ints(stride, rank), padding_spec(padding, rank), spatial_ints(dilation, rank))

        def build():
            filter_shape, strides, pads, dilations = config

            def run(x):
                y = self.lax.conv_general_dilated_patches(
                    self._permute(x, to_native), filter_shape, strides, pads, rhs_dilation=dilations,
                    dimension_numbers=_lax_dimensions(rank))
                y = self._permute(y, from_native)
                return self.jnp.reshape(y, y.shape[:2] + (-1,))
            return run

        return self._jit(("patches", to_native, from_native) + config, build)(x)

    # ---- autodiff ---------------------------------------------------------------------------
    def vjp(self, fn, primals, cotangent):
        """``jax.vjp``: one gradient per primal."""
        _, pullback = self.jax.vjp(fn, *primals)
        return list(pullback(cotangent))

    def layer(self, kind, **kwargs):
        """JAX has no layers (see the flax column); ``kind="flatten"`` alone gives a handle, the reshape
        a JAX user flattens with (:meth:`_reshape_flatten`)."""
        if kind == "flatten":
            return self._reshape_flatten(kwargs.get("rank", 2), "jax.numpy.reshape",
                                         "JAX has no Flatten layer: jnp.reshape(x, (x.shape[0], -1))")
        raise NotApplicable("JAX (lax) has no layer API; see the flax column")
