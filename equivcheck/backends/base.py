"""The small interface every framework adapter implements.

Design rules (after einops' ``_backends.py``)
- One class per framework, with a ``framework_name``; the framework is imported
  inside ``__init__`` so importing this package never imports a framework.
- Every method takes and returns arrays in the *canonical* layout: data
  ``(N, C, *spatial)``, conv kernels ``(O, I/groups, *k)``, transposed kernels
  ``(I, O/groups, *k)``, depthwise kernels ``(C, M, *k)``, dense ``(out, in)``.
  The adapter converts to its native layout through :mod:`equivcheck.layouts`
  (read at call time), runs native code, and converts back.
- Arrays passed in and out are the framework's own tensors (so autodiff can
  flow through them); :meth:`asarray` / :meth:`to_numpy` cross the border.
- An operation the framework lacks raises :class:`NotApplicable` with a sentence
  saying why; the default methods here do exactly that.
- Errors the *framework* raises (a wrong shape, say) propagate untouched: the
  runner turns them into the verdict ``raises`` with their type and message.
"""
from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from equivcheck.tolerance import compute_precision


# ---- the argument model: one normalisation of per-dimension arguments, for every adapter ----------
def is_int(value) -> bool:
    """An int-like scalar (int, NumPy integer), not a sequence.

    >>> is_int(2), is_int((2, 2))
    (True, False)
    """
    try:
        operator.index(value)
        return True
    except TypeError:
        return False


def spatial_ints(value, rank: int) -> tuple[int, ...]:
    """A stride, dilation, kernel size or output_padding → a tuple of ``rank`` Python ints (a hashable
    cache key); a sequence passes through as given, so the framework judges a wrong length.

    >>> spatial_ints(2, 3), spatial_ints([1, 2], 2)
    ((2, 2, 2), (1, 2))
    """
    if is_int(value):
        return (operator.index(value),) * rank
    return tuple(int(v) for v in value)


def padding_spec(padding, rank: int):
    """Conv padding → an upper-case word ('SAME', 'VALID', or another string for the framework to
    judge) or per-dimension (before, after) pairs.

    >>> padding_spec(1, 2), padding_spec([0, (1, 2)], 2), padding_spec("same", 1)
    (((1, 1), (1, 1)), ((0, 0), (1, 2)), 'SAME')
    """
    if isinstance(padding, str):
        return padding.upper()
    if is_int(padding):
        return ((int(padding), int(padding)),) * rank
    return tuple((int(p), int(p)) if is_int(p) else tuple(int(v) for v in p) for p in padding)


def padding_pairs(padding, rank: int):
    """Explicit per-dimension (before, after) pairs, or None when ``padding`` is a word or something
    the framework itself should judge (a malformed value reaches the framework, which raises its own error).

    >>> padding_pairs([1, (0, 2)], 2), padding_pairs("same", 2), padding_pairs([(1, 2, 3)], 1)
    ([(1, 1), (0, 2)], None, None)
    """
    if isinstance(padding, str):
        return None
    if is_int(padding):
        return [(int(padding),) * 2] * rank
    try:
        items = list(padding)
    except TypeError:
        return None
    pairs = []
    for item in items:
        if is_int(item):
            pairs.append((int(item),) * 2)
        else:
            pair = tuple(item)
            if len(pair) != 2 or not all(is_int(v) for v in pair):
                return None
            pairs.append((int(pair[0]), int(pair[1])))
    return pairs


def transpose_padding(padding, output_padding, kernel, dilation, rank: int, *, op: str):
    """PyTorch's conv_transpose (padding, output_padding) → pads of the stride-dilated input.

    before = d(k−1) − p_before, after = d(k−1) − p_after + output_padding (negative crops).  A word is
    the framework's own 'SAME'/'VALID', which has no output_padding (``op`` names the native call in
    that error).

    >>> transpose_padding(1, 1, (3,), (1,), 1, op="lax.conv_transpose")
    ((1, 2),)
    """
    if isinstance(padding, str):
        if any(spatial_ints(output_padding, rank)):
            raise NotApplicable(f"{op} padding={padding!r} has no output_padding")
        return padding.upper()
    return tuple((d * (k - 1) - before, d * (k - 1) - after + extra)
                 for (before, after), k, d, extra in zip(padding_spec(padding, rank), kernel, dilation,
                                                         spatial_ints(output_padding, rank)))


class NotApplicable(Exception):
    """The framework has no such operation; the message says why (verdict ``n/a``)."""


class BackendUnavailable(Exception):
    """The framework cannot be imported here; the message is the skip reason."""


@dataclass
class LayerHandle:
    """A native layer built by :meth:`Backend.layer`, with canonical-layout I/O.

    ``api`` names the class used (``"keras.layers.Conv2D"``), ``kernel_shape`` is
    the *native* kernel shape read off the built layer, ``kernel_layout`` the
    layout string from the table, ``param_count`` the framework's own count.
    ``set_weights(kernel, bias)`` loads canonical weights through the layout
    table; calling the handle runs the layer on a canonical-layout tensor.
    """

    api: str
    kernel_shape: tuple
    kernel_layout: str
    param_count: int
    set_weights: Callable[..., None]
    call: Callable[[Any], Any]
    native: Any = None
    extra: dict = field(default_factory=dict)

    def __call__(self, x):
        return self.call(x)


class Backend:
    """Base adapter.  A subclass declares who it is in its class statement and implements what it can::

        class TorchBackend(Backend, framework="torch", functional_api="functional", layer_apis=("nn",),
                           patch_order="C,k", array_functions=("torch", "reshape", "permute", "cat", "unsqueeze")):

    Each keyword sets the class attribute of that name (``framework`` sets ``framework_name``); one left
    out is inherited."""

    #: The class keywords of :meth:`__init_subclass__` and the attribute each one sets.
    IDENTITY = {"framework": "framework_name", "functional_api": "functional_api", "layer_apis": "layer_apis",
                "patch_order": "patch_order", "array_functions": "array_functions"}

    def __init_subclass__(cls, **identity):
        unknown = sorted(set(identity) - set(Backend.IDENTITY))
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown adapter keyword(s) {unknown}; "
                            f"the class statement takes {sorted(Backend.IDENTITY)}")
        super().__init_subclass__()
        for keyword, value in identity.items():
            setattr(cls, Backend.IDENTITY[keyword], value)

    framework_name: str = "?"
    #: The layer APIs this framework offers, e.g. ("keras",) or ("linen", "nnx").
    layer_apis: tuple[str, ...] = ()
    #: The API whose kernel layout the functional ops use (key into layouts.KERNEL_LAYOUTS).
    functional_api: str = "?"
    #: The precision comparisons assume the framework computes in (the ``dtype`` of
    #: :func:`equivcheck.tolerance.bound`).  ``None`` here: set per instance from the run's dtype,
    #: device and TF32 permission (:func:`equivcheck.tolerance.compute_precision`); an adapter whose
    #: arithmetic is fixed whatever the run dtype (the NumPy oracle: float64) sets it on its class.
    compute_dtype: str | None = None
    #: Engines that run on the CPU only say so here (a sentence: what runs where); asked for another
    #: device they are unavailable with it, so the column is skipped with the reason.
    cpu_only: str | None = None
    #: Engines that build a program per distinct shape at a real cost (an ONNX export, a LiteRT
    #: conversion, an OpenVINO compile) set how many distinct parameter sets a run of more draws than
    #: this takes from a claim's space: the draws then share those parameter sets and differ in their
    #: values (kind and seed), so the programs, cached per signature, are built that many times, not
    #: once per draw.  The fixed examples always run; a run of at most this many draws is unchanged.
    distinct_draws: int | None = None
    #: An engine run at a precision setting other than equivcheck's pinned one names it here (OpenVINO's
    #: "default (bf16)"); results carry it and the report gives those results a column of their own.
    precision: str = ""

    def __init__(self, dtype: str = "float32", device: str = "cpu", allow_tf32: bool = False):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if device not in ("cpu", "gpu"):
            raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
        if self.cpu_only and device != "cpu":
            raise BackendUnavailable(f"{self.framework_name}: {self.cpu_only} (device={device!r})")
        self.dtype = dtype
        self.device = device
        #: On a GPU, claims run with TF32 off unless this is set (``--allow-tf32``).
        self.allow_tf32 = allow_tf32
        #: float32 on a GPU with TF32 allowed computes in "tf32": comparisons use its unit roundoff.
        self.compute_dtype = type(self).compute_dtype or compute_precision(dtype, device, allow_tf32)
        self.load()

    def load(self) -> None:
        """Import the framework and keep its handles, once the run's settings (``self.dtype``,
        ``self.device``, ``self.allow_tf32``) are set: an adapter's only start-up code.  Import inside,
        never at module level; what this machine cannot run (the package, a device, a dtype) raises
        :class:`BackendUnavailable` with a sentence saying so.  A subclass calls ``super().load()`` first."""

    # ---- identity -------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """Versions of the packages this adapter runs, e.g. {"tensorflow": "2.21.0", "keras": "3.15.1"}."""
        raise NotImplementedError(f"{type(self).__name__} does not report its versions")

    def numeric_settings(self) -> dict[str, Any]:
        """Precision-relevant state: TF32 flags, oneDNN, matmul precision, device."""
        return {}

    @contextlib.contextmanager
    def session(self):
        """Context every example runs in (e.g. JAX x64 for float64, the device)."""
        yield

    # ---- crossing the border ---------------------------------------------
    def asarray(self, array):
        """NumPy array → framework tensor of the run dtype, same (canonical) layout."""
        raise NotImplementedError(f"{self.framework_name}: asarray is not implemented")

    def to_numpy(self, tensor):
        """Framework tensor → float64 NumPy array (shape preserved)."""
        raise NotImplementedError(f"{self.framework_name}: to_numpy is not implemented")

    # ---- array ops (native semantics, e.g. reshape is row-major) -----------
    #: Where the array ops below are: (the adapter attribute holding the framework's array namespace,
    #: then its reshape, transpose, concat and expand_dims function names), looked up at call time;
    #: e.g. ``("torch", "reshape", "permute", "cat", "unsqueeze")``.  None: the adapter has none.
    array_functions: tuple[str, str, str, str, str] | None = None

    def _array_function(self, which: int, what: str):
        if self.array_functions is None:
            raise NotImplementedError(f"{self.framework_name}: {what} is not implemented")
        return getattr(getattr(self, self.array_functions[0]), self.array_functions[which])

    def reshape(self, x, shape: Sequence[int]):
        return self._array_function(1, "reshape")(x, tuple(shape))

    def transpose(self, x, axes: Sequence[int]):
        return self._array_function(2, "transpose")(x, tuple(axes))

    def concat(self, xs: Sequence[Any], axis: int):
        return self._array_function(3, "concat")(list(xs), axis)

    def expand_dims(self, x, axis: int):
        return self._array_function(4, "expand_dims")(x, axis)

    def to_native(self, x):
        """Canonical ``(N, C, *sp)`` tensor → the framework's native data layout."""
        raise NotImplementedError(f"{self.framework_name}: to_native is not implemented")

    def from_native(self, x):
        """Inverse of :meth:`to_native`."""
        raise NotImplementedError(f"{self.framework_name}: from_native is not implemented")

    # ---- convolution family ------------------------------------------------
    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        """Functional N-d cross-correlation. ``padding``: int, per-dim ints,
        per-dim (before, after) pairs, 'valid' or 'same' (the framework's own
        'same').  An unbatched ``(C, *sp)`` input is passed through as the
        framework's unbatched form, so the framework decides whether it accepts it."""
        raise NotApplicable(f"{self.framework_name} has no functional convolution")

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        """Functional transposed conv with PyTorch's meaning of padding/output_padding."""
        raise NotApplicable(f"{self.framework_name} has no transposed convolution")

    def linear(self, x, w, b=None):
        """Dense/Linear on the last axis; ``w`` is (out, in)."""
        raise NotApplicable(f"{self.framework_name} has no linear op")

    def pixel_shuffle(self, x, r: int):
        raise NotApplicable(f"{self.framework_name} has no pixel_shuffle")

    def pixel_unshuffle(self, x, r: int):
        raise NotApplicable(f"{self.framework_name} has no pixel_unshuffle")

    def depth_to_space(self, x, r: int):
        raise NotApplicable(f"{self.framework_name} has no depth_to_space")

    def space_to_depth(self, x, r: int):
        raise NotApplicable(f"{self.framework_name} has no space_to_depth")

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        """Max pooling; with ``return_indices`` also the framework's argmax
        indices, *in the framework's own index convention* (recorded by claims).

        ``padding``: int, per-dim ints, per-dim (before, after) pairs, 'valid' or 'same' (the framework's
        own 'same').  ``ceil_mode=True`` asks for the ceil output-size rule (PyTorch/ONNX); a framework
        without it raises :class:`NotApplicable` with a sentence naming what it offers instead."""
        raise NotApplicable(f"{self.framework_name} has no max pooling")

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        """Inverse of max_pool using the indices from :meth:`max_pool`."""
        raise NotApplicable(f"{self.framework_name} has no max unpooling")

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        """Average pooling.  ``count_include_pad``: whether the zero padding counts in each window's
        divisor (PyTorch's default True; TF 'SAME' and ONNX's default exclude it).  ``padding`` as for
        :meth:`max_pool`; 'same' is the framework's own 'same' (whatever divisor it uses, the claim
        finds out).  An argument the framework cannot express raises :class:`NotApplicable` with a
        sentence (e.g. no ceil_mode in Keras)."""
        raise NotApplicable(f"{self.framework_name} has no average pooling")

    def pad(self, x, pads, mode: str = "constant"):
        """The framework's own pad of the spatial axes of a canonical ``(N, C, *sp)`` tensor.

        ``pads``: per spatial dim (before, after).  ``mode`` is NumPy's name (the canonical vocabulary,
        :data:`equivcheck.conventions.PAD_MODES`): 'constant' (zeros), 'reflect', 'edge', 'wrap',
        'symmetric'; the adapter maps it to its native word (torch 'replicate'/'circular', tf.pad
        'SYMMETRIC', ...).  A mode the framework lacks raises :class:`NotApplicable` naming it."""
        raise NotApplicable(f"{self.framework_name} has no pad op")

    def batch_norm(self, x, mean, var, gamma, beta, eps: float):
        """Inference-mode batch normalisation over axis 1 of a canonical ``(N, C, *sp)`` tensor with the
        given per-channel statistics: (x − mean)/√(var + eps)·gamma + beta, by the framework's own
        functional op (``F.batch_norm(training=False)``, ``tf.nn.batch_normalization``, ...)."""
        raise NotApplicable(f"{self.framework_name} has no functional batch normalisation")

    # ---- FFT (complex tensors stay native; to_numpy of a complex tensor returns complex128) ----------
    def fftn(self, x, axes: Sequence[int]):
        """The framework's N-d FFT of a real or complex tensor over ``axes``."""
        raise NotApplicable(f"{self.framework_name} has no FFT")

    def ifftn(self, x, axes: Sequence[int]):
        """The framework's inverse N-d FFT over ``axes``."""
        raise NotApplicable(f"{self.framework_name} has no inverse FFT")

    def conj(self, x):
        """Complex conjugate (native)."""
        raise NotApplicable(f"{self.framework_name} has no complex conjugate")

    def real(self, x):
        """Real part of a complex tensor, in the run dtype (native)."""
        raise NotApplicable(f"{self.framework_name} has no complex tensors")

    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        """The framework's own patch extraction (im2col), returned as
        ``(N, F, L)`` with F in the framework's *native* feature order and L
        row-major over output positions.  ``patch_order`` names that order."""
        raise NotApplicable(f"{self.framework_name} has no patch extraction")

    #: Feature order of :meth:`extract_patches`, e.g. "C,k" (channel-major) or "k,C".
    patch_order: str = "?"

    # ---- autodiff ------------------------------------------------------------
    def vjp(self, fn: Callable, primals: Sequence[Any], cotangent):
        """Vector-Jacobian product of ``fn(*primals)`` with ``cotangent``, by the
        framework's own autodiff; returns one gradient per primal."""
        raise NotApplicable(f"{self.framework_name} has no automatic differentiation")

    # ---- layers --------------------------------------------------------------
    def layer_api(self, api: str | None, options=(), known=()) -> str:
        """The layer API to build with: ``api`` (None: the first of :attr:`layer_apis`), after checking it
        and the ``options`` given to :meth:`layer` against ``known``; a one-line ``ValueError`` names a
        wrong one."""
        api = api or self.layer_apis[0]
        if api not in self.layer_apis:
            raise ValueError(f"{self.framework_name} layer api must be one of {self.layer_apis}, got {api!r}")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"{self.framework_name} layer: unknown option {unknown[0]!r}; known: {', '.join(known)}")
        return api

    def layer(self, kind: str, *, rank: int = 2, in_channels: int, out_channels: int | None = None,
              kernel_size=1, stride=1, padding="valid", dilation=1, groups=1, depth_multiplier=1,
              use_bias=True, api: str | None = None, input_shape=None, **options) -> LayerHandle:
        """Build a native layer: ``kind`` is conv, conv_transpose, depthwise, dense, flatten, and (for
        the porting-pitfall claims) separable, batch_norm, avg_pool and max_pool.

        ``options`` (keyword, each ignored by kinds it does not concern; a value the framework cannot
        build raises :class:`NotApplicable` with a sentence):

        - conv: ``padding_mode`` in NumPy's words ('constant', 'reflect', 'edge', 'wrap'; torch
          ``padding_mode``, Flax ``padding='CIRCULAR'``); ``padding='causal'`` (Keras Conv1D).
        - separable: ``depth_multiplier``; ``set_weights(kernel, bias, pointwise=...)`` takes the
          canonical depthwise kernel (C·M, 1, *k), the pointwise kernel (O, C·M, 1…) and one bias (O,).
        - batch_norm: ``in_channels``, ``eps``; ``set_weights(mean=, var=, gamma=, beta=)`` loads the
          inference statistics; the handle runs in inference mode (torch ``.eval()``, Keras
          ``training=False``, Flax ``use_running_average=True``).
        - avg_pool / max_pool: ``kernel_size``, ``stride``, ``padding`` (ints, pairs, 'valid', 'same'),
          ``ceil_mode``, ``count_include_pad``.  No weights: ``set_weights`` is a no-op.

        ``flatten`` is the framework's Flatten layer (or, where it has none, the reshape its users
        write): its handle takes the tensor in the framework's *native* layout, passes it untouched,
        and returns ``(N, features)`` in the order the layer produces (``extra["input_layout"]``
        names that layout).

        ``api`` picks one of :attr:`layer_apis` (default: the first).  ``input_shape``
        is the canonical batched shape, for frameworks that build lazily."""
        raise NotApplicable(f"{self.framework_name} has no layer API")
