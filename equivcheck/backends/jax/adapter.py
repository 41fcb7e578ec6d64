"""The JAX adapter: ``jax.lax`` functional ops (JAX has no layers; see flax.py).

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
  reshape+transpose); max-pool indices raise :class:`NotApplicable`.
- Shared JAX plumbing (border crossing, session, vjp, caching, pooling) lives
  here; :class:`equivcheck.backends.flax.FlaxBackend` subclasses it.
"""
from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from equivcheck import layouts
from equivcheck import known_issues
from equivcheck.backends.base import (Backend, LayerHandle, NotApplicable, padding_spec, spatial_ints,
                                      transpose_padding)


def _lax_dimensions(rank: int) -> tuple[str, str, str]:
    """The layout lax is told: ``conv_general_dilated``'s default (lhs, rhs, out).

    >>> _lax_dimensions(2)
    ('NCHW', 'OIHW', 'NCHW')
    """
    spatial = layouts.SPATIAL[rank]
    return "NC" + spatial, "OI" + spatial, "NC" + spatial


def compilation_cache_dir(setting: str | None) -> str | None:
    """Where JAX's persistent compilation cache goes, from ``EQUIVCHECK_JAX_CACHE``; None is off.

    Unset, empty, ``1``/``on``/``yes``/``true``: on, in ``$XDG_CACHE_HOME/equivcheck/jax``
    (default ``~/.cache/equivcheck/jax``).  ``0``/``off``/``no``/``false``: off.  Anything
    else is the directory itself.  JAX keys each entry by the program, the compile options
    and the jax/jaxlib versions, so a warm cache never changes what runs, only how soon: a
    second run skips the XLA compiles (about 3× faster for the jax and flax claims, see
    benchmarks/), and within one run the same program built twice compiles once.

    >>> compilation_cache_dir("off") is None, compilation_cache_dir("/tmp/jc")
    (True, '/tmp/jc')
    """
    value = (setting or "").strip()
    if value.lower() in ("0", "off", "no", "false"):
        return None
    if value.lower() in ("", "1", "on", "yes", "true"):
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(root, "equivcheck", "jax")
    return os.path.abspath(os.path.expanduser(value))


def _use_compilation_cache(jax) -> None:
    """Point JAX's persistent cache where ``EQUIVCHECK_JAX_CACHE`` says (default: on).

    The suite's programs compile in ~0.1 s, under JAX's default 1 s threshold for
    writing an entry, so the threshold is lowered to 0 for them to be kept.  A cache
    the user configured through JAX itself (``JAX_COMPILATION_CACHE_DIR``) is left alone.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    directory = compilation_cache_dir(os.environ.get("EQUIVCHECK_JAX_CACHE"))
    if directory is not None and jax.config.jax_compilation_cache_dir != directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _pool_rank(x, kernel) -> int:
    return x.ndim - 2 if isinstance(kernel, (int, np.integer)) else len(kernel)


class _Guarded:
    """A jitted callable whose every new input signature is checked for a known XLA abort first."""

    def __init__(self, fn, backend):
        self.fn, self.jax, self.checked = fn, backend.jax, set()
        self.jaxlib_version = backend.versions()["jaxlib"]

    def __call__(self, *args):
        signature = tuple(None if a is None else (tuple(a.shape), str(a.dtype))
                          for a in self.jax.tree_util.tree_leaves(args, is_leaf=lambda a: a is None))
        if signature not in self.checked:
            known_issues.check_program(self.jax.make_jaxpr(self.fn)(*args).jaxpr, self.jaxlib_version)
            self.checked.add(signature)
        return self.fn(*args)


class JaxBackend(Backend):
    """``jax.lax`` ops on canonical tensors; every array is a ``jax.Array``."""

    framework_name = "jax"
    functional_api = "lax"
    layer_apis = ()
    #: lax.conv_general_dilated_patches: feature = c * prod(k) + row-major kernel offset.
    patch_order = "C,k"
    array_functions = ("jnp", "reshape", "transpose", "concatenate", "expand_dims")

    def __init__(self, dtype: str = "float32", device: str = "cpu", allow_tf32: bool = False):
        super().__init__(dtype, device, allow_tf32)
        import jax
        import jax.numpy as jnp
        from jax import lax

        self.jax, self.jnp, self.lax = jax, jnp, lax
        _use_compilation_cache(jax)
        self._compiled: dict[tuple, object] = {}
        try:
            self._device = jax.devices(device)[0]
        except RuntimeError as exc:
            raise RuntimeError(f"device={device!r} was asked for, but JAX finds no {device} device: {exc}") from None
        if device == "gpu" and not allow_tf32:
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
                fn = _Guarded(fn, self)
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

    # JAX has no pixel-shuffle ops: composed with reshape+transpose on the canonical
    # (N, C, *sp) array, as a JAX user would write them.
    def pixel_shuffle(self, x, r):
        return self._shuffle("pixel_shuffle", x, r)

    def pixel_unshuffle(self, x, r):
        return self._shuffle("pixel_unshuffle", x, r)

    def depth_to_space(self, x, r):
        return self._shuffle("depth_to_space", x, r)

    def space_to_depth(self, x, r):
        return self._shuffle("space_to_depth", x, r)

    def _shuffle(self, kind: str, x, r):
        rank = x.ndim - 2
        factors = spatial_ints(r, rank)

        def build():
            jnp = self.jnp
            interleaved = tuple(a for i in range(rank) for a in (2 + rank + i, 2 + i))  # (sp0, r0, sp1, r1, …)

            def run(x):
                n, c, *sp = x.shape
                block = math.prod(factors)
                if kind in ("pixel_shuffle", "depth_to_space"):
                    # CRD: channel = c*r² + offset; DCR: channel = offset*C + c
                    head = (n, c // block) + factors if kind == "pixel_shuffle" else (n,) + factors + (c // block,)
                    y = jnp.reshape(x, head + tuple(sp))
                    if kind == "depth_to_space":
                        y = jnp.moveaxis(y, 1 + rank, 1)
                    y = jnp.transpose(y, (0, 1) + interleaved)
                    return jnp.reshape(y, (n, c // block) + tuple(s * f for s, f in zip(sp, factors)))
                # the inverses: (N, C, sp0, r0, …) → (N, C, *r, *sp), space_to_depth then (N, *r, C, *sp)
                small = tuple(s // f for s, f in zip(sp, factors))
                y = jnp.reshape(x, (n, c) + tuple(v for pair in zip(small, factors) for v in pair))
                y = jnp.transpose(y, (0, 1) + tuple(3 + 2 * i for i in range(rank)) + tuple(2 + 2 * i for i in range(rank)))
                if kind == "space_to_depth":
                    y = jnp.moveaxis(y, 1, 1 + rank)
                return jnp.reshape(y, (n, c * block) + small)
            return run

        return self._jit((kind, factors), build)(x)

    # ---- pooling -------------------------------------------------------------------------
    def _pool_config(self, x, kernel, stride, padding):
        rank = _pool_rank(x, kernel)
        kernel = spatial_ints(kernel, rank)
        return rank, kernel, kernel if stride is None else spatial_ints(stride, rank), padding_spec(padding, rank)

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False):
        if return_indices:
            raise NotApplicable("JAX has no max-pool-with-argmax (lax.reduce_window returns values only), "
                                "so there are no switch indices to record or unpool with")
        return self._reduce_window("max", x, *self._pool_config(x, kernel, stride, padding))

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        raise NotApplicable("JAX has no max-unpool op (and no max-pool argmax to feed one)")

    def avg_pool(self, x, kernel, stride=None, padding=0):
        """Sum over the window / prod(kernel): zero padding counts (count_include_pad=True)."""
        return self._reduce_window("avg", x, *self._pool_config(x, kernel, stride, padding))

    def _reduce_window(self, kind, x, rank, kernel, strides, pads):
        """``lax.reduce_window`` in lax's NC* layout: window 1 on the N and C axes."""
        to_native, from_native = self._data_perms("jax", x.ndim, rank)
        native = layouts.data_layout("jax", rank)
        if x.ndim == rank + 1:
            native = native.replace("N", "")
        spatial = layouts.SPATIAL[rank]

        def per_axis(values, other):
            return tuple(values[spatial.index(a)] if a in spatial else other for a in native)

        def build():
            lax = self.lax
            window, steps = per_axis(kernel, 1), per_axis(strides, 1)
            padding = pads if isinstance(pads, str) else per_axis(pads, (0, 0))

            def run(x):
                xn = self._permute(x, to_native)
                if kind == "max":
                    y = lax.reduce_window(xn, -np.inf, lax.max, window, steps, padding)
                else:
                    y = lax.reduce_window(xn, 0.0, lax.add, window, steps, padding) / math.prod(kernel)
                return self._permute(y, from_native)
            return run

        return self._jit(("pool", kind, to_native, from_native, native, kernel, strides, pads), build)(x)

    # ---- patches ------------------------------------------------------------------------
    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        """``lax.conv_general_dilated_patches`` → (N, C·prod(k), L); its feature order is "C,k"."""
        rank = _pool_rank(x, kernel)
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

    def _reshape_flatten(self, rank, api, note):
        """A flatten handle that is a row-major reshape ``(N, *rest)`` → ``(N, prod(rest))``, for
        frameworks without a Flatten layer (JAX; Flax, whose docs flatten with ``x.reshape``).

        Unlike the conv/dense handles its input is *not* converted from the canonical layout: ``x``
        is reshaped exactly as given.  ``extra["input_layout"]`` is this adapter's native data layout
        (``handle(bk.to_native(x))`` flattens a canonical map as a model in this framework does);
        ``extra["note"]`` says that no layer exists and what runs instead."""
        self._require_session()

        def build():
            if api == "jax.Array.reshape":  # the method, as Flax's examples write it
                return lambda x: x.reshape((x.shape[0], -1))
            return lambda x: self.jnp.reshape(x, (x.shape[0], -1))

        def set_weights(kernel=None, bias=None):
            raise ValueError(f"{api} has no weights")

        return LayerHandle(api=api, kernel_shape=(), kernel_layout="", param_count=0, set_weights=set_weights,
                           call=lambda x: self._jit(("flatten", api), build)(x),
                           extra={"input_layout": layouts.data_layout(self.framework_name, rank), "note": note})
