"""TensorFlow adapter: ``tf.nn`` for the functional ops, ``keras.layers`` for layers.

Design rules
- TensorFlow and Keras are imported in ``__init__`` (torch first when it is
  installed; ``TF_CPP_MIN_LOG_LEVEL=2`` unless already set, to keep logs short).
- Canonical layouts in and out.  Activations go to the native layout of
  ``layouts.data_layout`` and kernels to ``layouts.kernel_layout``, both read
  at call time; explicit padding lists are built from the same layout strings.
- Native ops first, with their own semantics ('SAME', index conventions,
  errors).  Only what ``tf.nn`` cannot express is composed, the way a TF user
  would, and each such place says so: ``tf.pad`` where an op takes only
  'SAME'/'VALID', split+concat where a build has no grouped kernel,
  reshape+transpose for PyTorch's CRD pixel shuffle, ``tf.tensor_scatter_nd_update``
  for unpooling.
- The Keras path runs on any Keras backend (``KERAS_BACKEND``): inputs cross via
  ``keras.ops.convert_to_tensor`` and outputs via ``keras.ops.convert_to_numpy``
  when that backend is not TensorFlow (autodiff then stops at the layer).
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from equivcheck import layouts
from equivcheck import known_issues
from equivcheck.backends.base import Backend, NotApplicable, spatial_ints
from equivcheck.backends.tensorflow.fft import FftOps
from equivcheck.backends.tensorflow.keras_layers import KerasLayers
from equivcheck.backends.tensorflow.padding import pad_list, pad_spec
from equivcheck.backends.tensorflow.pooling import PoolingOps


# patch order: tf.image.extract_patches's feature = (row-major kernel offset) * C + c
class TensorflowBackend(PoolingOps, FftOps, KerasLayers, Backend, framework="tensorflow", functional_api="tf.nn",
                        layer_apis=("keras",), patch_order="k,C",
                        array_functions=("tf", "reshape", "transpose", "concat", "expand_dims")):
    """TensorFlow: functional ops via ``tf.nn`` (NHWC), layers via ``keras.layers``."""

    def load(self):
        super().load()
        from equivcheck.backends import import_torch_first
        import_torch_first("tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf
        self.tf, self.keras = tf, keras
        self.keras_backend = keras.backend.backend()
        self._device_name = "/GPU:0" if self.device == "gpu" else "/CPU:0"
        self._grouped = {}
        if self.device == "gpu":
            if not tf.config.list_physical_devices("GPU"):
                raise RuntimeError("tensorflow: device='gpu' was asked for but TensorFlow sees no GPU "
                                   "(tf.config.list_physical_devices('GPU') is empty)")
            self._set_tf32()

    def _set_tf32(self):
        """Claims compare in full float32: TF32 off on a GPU unless allowed."""
        self.tf.config.experimental.enable_tensor_float_32_execution(self.allow_tf32)
        if self.keras_backend == "torch":
            import torch
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.allow_tf32
        elif self.keras_backend == "jax":
            import jax
            jax.config.update("jax_default_matmul_precision", None if self.allow_tf32 else "highest")

    # ---- identity -------------------------------------------------------
    def versions(self):
        found = {"tensorflow": self.tf.__version__, "keras": self.keras.__version__,
                 "keras_backend": self.keras_backend}
        if self.keras_backend in ("jax", "torch"):
            found[self.keras_backend] = __import__(self.keras_backend).__version__
        return found

    def numeric_settings(self):
        try:  # oneDNN is on by default on x86 Linux since TF 2.9; this reports the runtime state
            from tensorflow.python.util import _pywrap_util_port
            onednn = bool(_pywrap_util_port.IsMklEnabled())
        except (ImportError, AttributeError):
            onednn = "unknown"
        floatx = getattr(getattr(self.keras, "config", self.keras.backend), "floatx", lambda: "?")()
        return {"device": self._device_name,
                "tensor_float_32_execution": bool(self.tf.config.experimental.tensor_float_32_execution_enabled()),
                "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
                "onednn_enabled": onednn, "keras_backend": self.keras_backend, "keras_floatx": floatx}

    @contextlib.contextmanager
    def session(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.tf.device(self._device_name))
            if self.keras_backend != "tensorflow" and hasattr(self.keras, "device"):
                stack.enter_context(self.keras.device(self._device_name.strip("/").lower()))
            if self.keras_backend == "jax" and self.dtype == "float64":
                import jax  # Keras-on-JAX silently computes float64 in float32 without x64
                stack.enter_context(jax.enable_x64(True) if hasattr(jax, "enable_x64")
                                    else __import__("jax.experimental", fromlist=["x"]).enable_x64())
            if self.device == "gpu":
                self._set_tf32()
            yield

    # ---- crossing the border ---------------------------------------------
    def asarray(self, array):
        array = np.asarray(array)
        with self.tf.device(self._device_name):
            if np.iscomplexobj(array):  # complex stays complex, at the run's precision
                return self._complex(self.tf.convert_to_tensor(array))
            return self.tf.cast(self.tf.convert_to_tensor(array), self.dtype)

    def to_numpy(self, tensor):
        if self.tf.is_tensor(tensor):
            if self.tf.as_dtype(tensor.dtype).is_complex:  # a Keras 3 variable's dtype is a string
                return np.asarray(tensor.numpy(), dtype=np.complex128)
            return np.asarray(tensor.numpy(), dtype=np.float64)
        if self.keras_backend != "tensorflow":  # a tensor of another Keras backend
            tensor = self.keras.ops.convert_to_numpy(tensor)
        return np.asarray(tensor, dtype=np.float64)

    # ---- layouts ----------------------------------------------------------
    def _layouts(self, rank, batched):
        canon, native = layouts.canonical("data", rank), layouts.data_layout("tensorflow", rank)
        return (canon, native) if batched else (canon.replace("N", ""), native.replace("N", ""))

    def _native(self, x, rank, batched=True):
        """Canonical → native activation; returns (tensor, native layout string)."""
        canon, native = self._layouts(rank, batched)
        return self.tf.transpose(x, layouts.permutation(canon, native)), native

    def _canonical(self, y, rank, batched=True):
        canon, native = self._layouts(rank, batched)
        return self.tf.transpose(y, layouts.permutation(native, canon))

    def to_native(self, x):
        return self._native(x, len(x.shape) - 2)[0]

    def from_native(self, x):
        return self._canonical(x, len(x.shape) - 2)

    def _kernel(self, w, op, rank):
        dst = layouts.kernel_layout("tensorflow", op, rank, api=self.functional_api)
        return self.tf.transpose(w, layouts.permutation(layouts.canonical(op, rank), dst)), dst

    def _add_bias(self, y, b, layout):
        if b is None:
            return y
        shape = [-1 if a == "C" else 1 for a in layout]
        return y + self.tf.reshape(self.tf.cast(b, y.dtype), shape)

    def _run(self, fn, batched, *args):
        # Unbatched input goes to TF as it is, but in graph mode: there TF's shape
        # inference rejects it with a ValueError, whereas the eager oneDNN conv kernel
        # (TF 2.21, x86) aborts the whole process on a rank-3 input (CHECK failure).
        return fn(*args) if batched else self.tf.function(fn, autograph=False)(*args)

    # ---- convolution family ----------------------------------------------
    def _nn_conv(self, xn, wn, rank, strides, pad, dil):
        nn = self.tf.nn
        if rank == 1:
            return nn.conv1d(xn, wn, stride=strides[0], padding=pad, dilations=dil[0])
        if rank == 2:
            self._check_conv2d(xn.shape, wn.shape, strides, pad, dil)
            return nn.conv2d(xn, wn, strides=list(strides), padding=pad, dilations=list(dil))
        if any(d > 1 for d in dil) and self.device == "cpu" and (pad == "VALID" or max(strides) == 1):
            # tf.nn.conv3d's CPU kernel has no dilation in float32 or float64 ("CPU implementation of Conv3D
            # currently only supports dilated rates of 1"); tf.nn.convolution, TF's general entry point, has it
            # (space_to_batch) but not together with strides > 1, so a TF user runs it at stride 1 and
            # keeps every s-th output ('VALID' only: 'SAME' pads by the stride).
            y = nn.convolution(xn, wn, padding=pad, dilations=list(dil))
            return y[:, ::strides[0], ::strides[1], ::strides[2], :]
        return nn.conv3d(xn, wn, strides=[1, *strides, 1], padding=pad, dilations=[1, *dil, 1])

    def _check_conv2d(self, x_shape, kernel_shape, strides, pad, dil):
        """Ask :mod:`equivcheck.known_issues` about this NHWC conv2d before TF runs it
        (``pad``: 'SAME', 'VALID' or NHWC (before, after) pairs)."""
        known_issues.check_tf_conv2d(tuple(x_shape), tuple(kernel_shape), tuple(strides),
                                      pad if isinstance(pad, str) else pad[1:3], tuple(dil),
                                      self.dtype, self.tf.__version__)

    def _nn_conv_transpose(self, xn, wn, out_shape, rank, strides, pad, dil):
        nn = self.tf.nn
        if rank == 1:
            return nn.conv1d_transpose(xn, wn, out_shape, strides=strides[0], padding=pad, dilations=dil[0])
        if rank == 2:
            return nn.conv2d_transpose(xn, wn, out_shape, strides=list(strides), padding=pad, dilations=list(dil))
        return nn.conv3d_transpose(xn, wn, out_shape, strides=[1, *strides, 1], padding=pad,
                                   dilations=[1, *dil, 1])

    def _grouped_ok(self, op, rank):
        """Does this build run a grouped ``op`` natively (filter depth = C/groups)?
        Probed once per (op, rank) on a tiny input: TF infers groups from the filter."""
        if (op, rank) not in self._grouped:
            tf, ones = self.tf, (1,) * rank
            x = tf.zeros((1, *(3,) * rank, 4), self.dtype)
            try:
                if op == "conv":
                    self._nn_conv(x, tf.zeros((*ones, 2, 4), self.dtype), rank, ones, "VALID", ones)
                else:
                    self._nn_conv_transpose(x, tf.zeros((*ones, 2, 4), self.dtype), [1, *(3,) * rank, 4],
                                            rank, ones, "VALID", ones)
                self._grouped[(op, rank)] = True
            except Exception:  # noqa: BLE001 - any failure means "not on this build"
                self._grouped[(op, rank)] = False
        return self._grouped[(op, rank)]

    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        tf, rank = self.tf, len(w.shape) - 2
        batched = len(x.shape) != rank + 1
        xn, layout = self._native(x, rank, batched)
        wn, klayout = self._kernel(w, "conv", rank)
        strides, dil, pad = spatial_ints(stride, rank), spatial_ints(dilation, rank), pad_spec(padding, rank)
        if not isinstance(pad, str):
            if rank == 2 and batched:  # tf.nn.conv2d takes explicit (before, after) pairs itself
                pad = pad_list(layout, pad)
            else:  # conv1d/conv3d take only 'SAME'/'VALID' (and unbatched input should meet
                # TF's rank check, not its padding-list check): zero-pad first, as a TF user would
                xn, pad = tf.pad(xn, pad_list(layout, pad)), "VALID"
        channel = layout.index("C")

        def run(xn, wn):
            if groups == 1 or (self._grouped_ok("conv", rank)
                               and xn.shape[channel] == wn.shape[klayout.index("I")] * groups):
                return self._nn_conv(xn, wn, rank, strides, pad, dil)
            # No grouped kernel on this build (CPU conv3d): one conv per group, then concat.
            parts = zip(tf.split(xn, groups, axis=channel), tf.split(wn, groups, axis=klayout.index("O")))
            return tf.concat([self._nn_conv(a, k, rank, strides, pad, dil) for a, k in parts], axis=channel)

        y = self._add_bias(self._run(run, batched, xn, wn), b, layout)
        return self._canonical(y, rank, batched)

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        """PyTorch semantics on tf.nn.conv{1,2,3}d_transpose with 'VALID' padding.

        TF asks for the output shape instead of padding: with 'VALID' any length in
        [full, full+s-1] is accepted, full = (n-1)s + d(k-1) + 1, and the extra rows
        are zero, which is exactly PyTorch's output_padding.  PyTorch's padding p then
        crops p rows per side (a slice, as a TF user would write it).  conv2d_transpose
        also takes explicit padding, but on CPU that sends it to a kernel without
        dilation or groups ("Current CPU implementations do not yet support dilation
        rates larger than 1"), and conv1d/3d_transpose take only 'SAME'/'VALID'."""
        tf, rank = self.tf, len(w.shape) - 2
        batched = len(x.shape) != rank + 1
        xn, layout = self._native(x, rank, batched)
        wn, klayout = self._kernel(w, "conv_transpose", rank)
        s, d, extra = spatial_ints(stride, rank), spatial_ints(dilation, rank), spatial_ints(output_padding, rank)
        spatial = [a for a in layout if a not in "NC"]
        n = [xn.shape[layout.index(a)] for a in spatial]
        full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, si, di, ki in zip(n, s, d, w.shape[2:])]
        spec, crop = pad_spec(padding, rank), None
        if spec == "SAME":  # TF's own 'SAME': output n*s, as Keras' Conv{n}DTranspose does
            if any(extra):
                raise NotApplicable("tensorflow conv_transpose: padding='same' fixes the output to n*stride; "
                                    "output_padding has no meaning there")
            sizes = [ni * si for ni, si in zip(n, s)]
        elif isinstance(spec, str):  # 'VALID', or a string TF itself should judge
            sizes = [f + e for f, e in zip(full, extra)]
        else:
            # TF rejects an output longer than full+s-1; PyTorch allows output_padding up to
            # the dilation too: those rows are zero-padded after the op.
            sizes = [f + min(e, si - 1) for f, e, si in zip(full, extra, s)]
            crop, spec = [(bf, af - e + min(e, si - 1)) for (bf, af), e, si in zip(spec, extra, s)], "VALID"
        channel = layout.index("C")
        native_groups = groups == 1 or self._grouped_ok("conv_transpose", rank)
        out_channels = w.shape[1] * (groups if native_groups else 1)
        out_shape = [xn.shape[0] if a == "N" else out_channels if a == "C" else sizes[spatial.index(a)]
                     for a in layout]

        def run(xn, wn):
            if native_groups:
                return self._nn_conv_transpose(xn, wn, out_shape, rank, s, spec, d)
            # No grouped transposed kernel on this build (CPU without oneDNN, any 3-D): one per group.
            parts = zip(tf.split(xn, groups, axis=channel), tf.split(wn, groups, axis=klayout.index("I")))
            return tf.concat([self._nn_conv_transpose(a, k, out_shape, rank, s, spec, d) for a, k in parts],
                             axis=channel)

        y = self._run(run, batched, xn, wn)
        if crop is not None:
            if any(af < 0 for _, af in crop):
                y = tf.pad(y, pad_list(layout, [(0, max(-af, 0)) for _, af in crop]))
            y = y[tuple(slice(crop[spatial.index(a)][0], y.shape[i] - max(crop[spatial.index(a)][1], 0))
                        if a in spatial else slice(None) for i, a in enumerate(layout))]
        return self._canonical(self._add_bias(y, b, layout), rank, batched)

    def linear(self, x, w, b=None):
        wn = self.tf.transpose(w, layouts.permutation(
            layouts.canonical("dense", 1), layouts.kernel_layout("tensorflow", "dense", 1, api=self.functional_api)))
        y = self.tf.matmul(x, wn) if len(x.shape) >= 2 else self.tf.tensordot(x, wn, 1)
        return y if b is None else y + self.tf.cast(b, y.dtype)

    def batch_norm(self, x, mean, var, gamma, beta, eps):
        rank = len(x.shape) - 2
        # (N, C) features have no spatial axes: that layout is the same in TF
        xn, layout = self._native(x, rank) if rank else (x, "NC")
        # per-channel statistics broadcast along the native channel axis (last in NHWC)
        shape = [-1 if a == "C" else 1 for a in layout]
        stats = [None if v is None else self.tf.reshape(self.tf.cast(v, xn.dtype), shape)
                 for v in (mean, var, beta, gamma)]
        y = self.tf.nn.batch_normalization(xn, *stats, variance_epsilon=eps)
        return self._canonical(y, rank) if rank else y

    # ---- rearrangements (2-D, NHWC) ---------------------------------------
    def _rearrange(self, x, fn):
        batched = len(x.shape) != 3
        xn, _ = self._native(x, 2, batched)
        return self._canonical(fn(xn), 2, batched)

    def depth_to_space(self, x, r):
        return self._rearrange(x, lambda xn: self.tf.nn.depth_to_space(xn, r))

    def space_to_depth(self, x, r):
        return self._rearrange(x, lambda xn: self.tf.nn.space_to_depth(xn, r))

    def pixel_shuffle(self, x, r):
        # TF has only DCR depth_to_space; PyTorch's CRD order (channel c*r*r + i*r + j)
        # is written on NHWC with reshape+transpose, as a TF user porting it would.
        tf = self.tf

        def shuffle(xn):
            *lead, h, w_, c = xn.shape
            m = len(lead)
            y = tf.reshape(xn, [*lead, h, w_, c // (r * r), r, r])
            y = tf.transpose(y, [*range(m), m, m + 3, m + 1, m + 4, m + 2])
            return tf.reshape(y, [*lead, h * r, w_ * r, c // (r * r)])
        return self._rearrange(x, shuffle)

    def pixel_unshuffle(self, x, r):
        tf = self.tf  # inverse of pixel_shuffle above, same reshape+transpose route

        def unshuffle(xn):
            *lead, h, w_, c = xn.shape
            m = len(lead)
            y = tf.reshape(xn, [*lead, h // r, r, w_ // r, r, c])
            y = tf.transpose(y, [*range(m), m, m + 2, m + 4, m + 1, m + 3])
            return tf.reshape(y, [*lead, h // r, w_ // r, c * r * r])
        return self._rearrange(x, unshuffle)

    # ---- pooling and patches ----------------------------------------------
    # ---- autodiff ----------------------------------------------------------
    def vjp(self, fn, primals, cotangent):
        tf = self.tf
        primals = [tf.convert_to_tensor(p) for p in primals]
        with tf.GradientTape() as tape:
            for p in primals:
                tape.watch(p)
            out = fn(*primals)
        return list(tape.gradient(tf.nest.flatten(out), primals, output_gradients=tf.nest.flatten(cotangent),
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO))

