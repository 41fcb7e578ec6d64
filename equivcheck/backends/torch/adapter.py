"""PyTorch adapter: ``torch.nn.functional`` ops (pooling and patches in :mod:`.pooling`), and ``torch.nn``
layers (built in :mod:`.layers`).

Design rules
- torch is imported in ``__init__``, never at module import time.
- Canonical layouts in and out; every kernel and activation goes through the
  layout table (:mod:`equivcheck.layouts`), read at call time, even where the
  permutation is the identity for torch, so a wrong table entry shows up.
- Native torch semantics are passed through untouched: torch's own 'same'
  padding (and its error for stride > 1), its unbatched ``(C, *sp)`` inputs,
  its max-pool index convention, its errors.  Only what torch cannot express
  is composed, the way a torch user would (``F.pad`` for asymmetric padding,
  cropping for asymmetric transposed padding, reshape+permute for the DCR
  depth_to_space), and each such place says so; where the composition would not be the same op
  (F.pad before a pool with ceil_mode or count_include_pad=False) it is n/a instead.
- Tensors carry the run dtype; autodiff is never switched off, so ``vjp`` can
  differentiate any composition of these methods.
"""
from __future__ import annotations

import contextlib

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import Backend, BackendUnavailable, NotApplicable, is_int, padding_pairs
from equivcheck.backends.torch import layers
from equivcheck.backends.torch.padding import native_padding, pad_spec
from equivcheck.backends.torch.pooling import PoolingOps


#: NumPy pad-mode word (conventions.PAD_MODES) → F.pad's ``mode``; torch has no 'symmetric'.
PAD_WORDS = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _has_fp32_precision(holder) -> bool:
    """Whether a torch.backends namespace has the torch >= 2.9 ``fp32_precision`` setting.
    Older torch's ``cuda.matmul`` raises AssertionError("Unknown attribute") rather than
    AttributeError for unknown names, which ``hasattr`` does not catch."""
    try:
        return holder is not None and hasattr(holder, "fp32_precision")
    except AssertionError:
        return False


# patch order: F.unfold's feature index is c * prod(k) + row-major kernel offset
class TorchBackend(PoolingOps, Backend, framework="torch", functional_api="functional", layer_apis=("nn",),
                   patch_order="C,k", array_functions=("torch", "reshape", "permute", "cat", "unsqueeze")):
    """PyTorch: functional ops via ``torch.nn.functional``, layers via ``torch.nn``."""

    def load(self):
        super().load()
        import torch
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        self._dtype = getattr(torch, self.dtype)
        self._device = torch.device("cuda" if self.device == "gpu" else "cpu")
        if self.device == "gpu":
            if not torch.cuda.is_available():
                raise BackendUnavailable("torch: device='gpu' was asked for but torch.cuda.is_available() "
                                         f"is False (torch {torch.__version__}, CUDA build {torch.version.cuda})")
            if not self.allow_tf32:
                self._disable_tf32()

    def _disable_tf32(self):
        """Turn TF32 off for cuBLAS matmuls and cuDNN convs (process-wide, as Keras' conftest does)."""
        backends = self.torch.backends
        if _has_fp32_precision(backends.cuda.matmul):
            # torch >= 2.9: the new per-backend API; mixing it with the legacy
            # allow_tf32 flags makes torch raise, so only this one is used.
            backends.cuda.matmul.fp32_precision = "ieee"
            backends.cudnn.conv.fp32_precision = "ieee"
        else:
            backends.cuda.matmul.allow_tf32 = False
            backends.cudnn.allow_tf32 = False
            self.torch.set_float32_matmul_precision("highest")

    # ---- identity -------------------------------------------------------
    def versions(self):
        found = {"torch": self.torch.__version__}
        if self.torch.version.cuda:
            found["cuda"] = self.torch.version.cuda
        return found

    def numeric_settings(self):
        torch, backends = self.torch, self.torch.backends

        def read(getter):
            # The legacy TF32 getters raise when the new API set mixed flags; record that.
            try:
                return getter()
            except RuntimeError as exc:
                return f"unreadable: {str(exc)[:80]}"

        settings = {
            "device": str(self._device),
            "dtype": self.dtype,
            "cuda.matmul.allow_tf32": read(lambda: backends.cuda.matmul.allow_tf32),
            "cudnn.allow_tf32": read(lambda: backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "mkldnn.available": backends.mkldnn.is_available(),
            "mkldnn.enabled": bool(backends.mkldnn.enabled),
            "num_threads": torch.get_num_threads(),
            "cudnn.enabled": bool(backends.cudnn.enabled),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        }
        # torch >= 2.9 per-backend precision ("ieee", "tf32", "bf16"; "none" = inherit)
        for name in ("cuda.matmul", "cudnn.conv", "mkldnn.conv", "mkldnn.matmul"):
            holder = backends
            for part in name.split("."):
                holder = getattr(holder, part, None)
            if _has_fp32_precision(holder):
                settings[f"{name}.fp32_precision"] = str(holder.fp32_precision)
        if self._device.type == "cuda":
            settings["cuda.device_name"] = torch.cuda.get_device_name(self._device)
            settings["cudnn.version"] = backends.cudnn.version()
        return settings

    @contextlib.contextmanager
    def session(self):
        # Tensors are placed explicitly; the device context also catches
        # factory calls made inside case bodies through the native API.
        with self.torch.device(self._device) if self._device.type == "cuda" else contextlib.nullcontext():
            yield

    # ---- crossing the border ---------------------------------------------
    def asarray(self, array):
        if isinstance(array, self.torch.Tensor):
            return array.to(dtype=self._dtype, device=self._device)
        array = np.asarray(array)
        if any(step < 0 for step in array.strides):
            # torch.as_tensor rejects NumPy views with negative strides (np.flip), even of one element
            array = array.copy()
        return self.torch.as_tensor(array, dtype=self._dtype, device=self._device)

    def to_numpy(self, tensor):
        if tensor.is_complex():  # a lazily conjugated view must be materialised before .numpy()
            return tensor.detach().resolve_conj().to("cpu", self.torch.complex128).numpy()
        return tensor.detach().to("cpu", self.torch.float64).numpy()

    # ---- array ops -------------------------------------------------------
    def _permute(self, x, src, dst):
        perm = layouts.permutation(src, dst)
        return x if perm == tuple(range(len(perm))) else x.permute(perm)

    @staticmethod
    def _form(x, rank):
        """'batched' (N, C, *sp), 'unbatched' (C, *sp), or None: any other input
        goes to torch untouched, so that torch raises its own error."""
        return {rank + 2: "batched", rank + 1: "unbatched"}.get(x.ndim)

    def _data_layouts(self, rank, form="batched"):
        """(canonical, native) activation layouts; the unbatched form drops the N axis."""
        canonical, native = layouts.canonical("data", rank), layouts.data_layout("torch", rank)
        if form == "unbatched":
            canonical, native = canonical.replace("N", ""), native.replace("N", "")
        return canonical, native

    def to_native(self, x, form="batched"):
        if form is None:
            return x
        return self._permute(x, *self._data_layouts(x.ndim - (2 if form == "batched" else 1), form))

    def from_native(self, x, form="batched"):
        if form is None:
            return x
        canonical, native = self._data_layouts(x.ndim - (2 if form == "batched" else 1), form)
        return self._permute(x, native, canonical)

    def _kernel(self, w, op, rank, api="functional"):
        """Canonical kernel → torch's native kernel, through the layout table."""
        native = self._permute(w, layouts.canonical(op, rank), layouts.kernel_layout("torch", op, rank, api=api))
        return layouts.depthwise_to_grouped(native) if op == "depthwise" else native

    def _fn(self, name, rank, what):
        if rank not in (1, 2, 3):
            raise NotApplicable(f"torch.nn.functional has {what} for 1-D, 2-D and 3-D only, not rank {rank}")
        return getattr(self.F, f"{name}{rank}d")

    # ---- convolution family ------------------------------------------------
    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        rank = w.ndim - 2
        form = self._form(x, rank)
        torch_padding, explicit = native_padding(padding, rank)
        if explicit is not None:
            # torch's padding= is symmetric; a user pads asymmetric amounts with F.pad first.
            x = self.F.pad(x, pad_spec(explicit))
        out = self._fn("conv", rank, "convolution")(
            self.to_native(x, form), self._kernel(w, "conv", rank), b,
            stride=stride, padding=torch_padding, dilation=dilation, groups=groups)
        return self.from_native(out, form)

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        rank = w.ndim - 2
        form = self._form(x, rank)
        torch_padding, explicit = native_padding(padding, rank, strings=False)
        out = self._fn("conv_transpose", rank, "transposed convolution")(
            self.to_native(x, form), self._kernel(w, "conv_transpose", rank), b, stride=stride,
            padding=torch_padding, output_padding=output_padding, groups=groups, dilation=dilation)
        out = self.from_native(out, form)
        if explicit is not None:
            # Transposed padding crops the output; torch's is symmetric, so a
            # user computes with padding=0 and crops (before, after) per dim.
            crop = tuple(slice(before, out.shape[axis] - after)
                         for axis, (before, after) in zip(range(-rank, 0), explicit))
            out = out[(Ellipsis,) + crop]
        return out

    def linear(self, x, w, b=None):
        return self.F.linear(x, self._kernel(w, "dense", 2), b)

    def _spatial_2d(self, x, r, what):
        """torch's shuffle ops work on (*, C, H, W): accept 2-D (batched or unbatched) only."""
        if not is_int(r):
            r = tuple(r)
            if len(r) != 2 or r[0] != r[1]:
                raise NotApplicable(f"torch {what} takes one int factor for both spatial axes, got r={r}")
            r = r[0]
        if x.ndim not in (3, 4):
            raise NotApplicable(f"torch {what} is 2-D only: it rearranges the last three axes (C, H, W), "
                                f"so a {x.ndim}-D input would not be treated as (N, C, *spatial)")
        return int(r), "batched" if x.ndim == 4 else "unbatched"

    def pixel_shuffle(self, x, r):
        r, form = self._spatial_2d(x, r, "pixel_shuffle")
        return self.from_native(self.F.pixel_shuffle(self.to_native(x, form), r), form)

    def pixel_unshuffle(self, x, r):
        r, form = self._spatial_2d(x, r, "pixel_unshuffle")
        return self.from_native(self.F.pixel_unshuffle(self.to_native(x, form), r), form)

    def depth_to_space(self, x, r):
        # torch has no DCR depth_to_space (pixel_shuffle is CRD); a torch user
        # writes it as reshape + permute: channel (i*r + j)*C + c → (c, h*r+i, w*r+j).
        r, form = self._spatial_2d(x, r, "depth_to_space")
        y = self.to_native(x, form)
        *lead, channels, height, width = y.shape
        c_out = channels // (r * r)
        y = y.reshape(-1, r, r, c_out, height, width).permute(0, 3, 4, 1, 5, 2)
        return self.from_native(y.reshape(*lead, c_out, height * r, width * r), form)

    def space_to_depth(self, x, r):
        # Inverse of depth_to_space above, composed the same way (torch has no
        # DCR space_to_depth; pixel_unshuffle is CRD).
        r, form = self._spatial_2d(x, r, "space_to_depth")
        y = self.to_native(x, form)
        *lead, channels, height, width = y.shape
        y = y.reshape(-1, channels, height // r, r, width // r, r).permute(0, 3, 5, 1, 2, 4)
        return self.from_native(y.reshape(*lead, r * r * channels, height // r, width // r), form)

    # ---- padding, normalisation, FFT ------------------------------------------------
    def pad(self, x, pads, mode="constant"):
        rank = x.ndim - 2
        if mode == "symmetric":
            raise NotApplicable("torch F.pad has no 'symmetric' mode (mirror repeating the edge pixel); it offers "
                                "'constant', 'reflect', 'replicate' and 'circular'")
        if mode not in PAD_WORDS:
            raise ValueError(f"pad mode must be a NumPy pad mode ({', '.join(PAD_WORDS)}, symmetric), got {mode!r}")
        pairs = padding_pairs(pads, rank)
        if pairs is None or len(pairs) != rank:
            raise ValueError(f"pads must be one (before, after) pair per spatial axis of the (N, C, *spatial) "
                             f"input of shape {tuple(x.shape)}, got {pads!r}")
        out = self.F.pad(self.to_native(x), pad_spec(pairs), mode=PAD_WORDS[mode])
        return self.from_native(out)

    def batch_norm(self, x, mean, var, gamma, beta, eps):
        form = self._form(x, x.ndim - 2) if x.ndim > 2 else None  # (N, C) has no spatial axes to lay out
        out = self.F.batch_norm(self.to_native(x, form), mean, var, weight=gamma, bias=beta, training=False, eps=eps)
        return self.from_native(out, form)

    def fftn(self, x, axes):
        return self.torch.fft.fftn(x, dim=tuple(axes))

    def ifftn(self, x, axes):
        return self.torch.fft.ifftn(x, dim=tuple(axes))

    def conj(self, x):  # torch's lazy conjugate view; to_numpy resolves it
        return self.torch.conj(x)

    def real(self, x):
        return self.torch.real(x)

    # ---- autodiff ------------------------------------------------------------
    def vjp(self, fn, primals, cotangent):
        torch = self.torch
        leaves = [p.detach().requires_grad_(p.is_floating_point()) for p in primals]
        outputs = fn(*leaves)
        if isinstance(outputs, (tuple, list)):
            outputs, cotangents = tuple(outputs), tuple(cotangent)
        else:
            outputs, cotangents = (outputs,), (cotangent,)
        cotangents = tuple(c if isinstance(c, torch.Tensor) else self.asarray(c) for c in cotangents)
        wanted = [leaf for leaf in leaves if leaf.requires_grad]
        grads = iter(torch.autograd.grad(outputs, wanted, grad_outputs=cotangents, allow_unused=True))
        result = []
        for leaf in leaves:
            grad = next(grads) if leaf.requires_grad else None
            result.append(torch.zeros_like(leaf) if grad is None else grad)
        return result

    # ---- layers (built in layers.py) ----------------------------------------------
    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1,
              padding="valid", dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None,
              input_shape=None, **options):
        api = self.layer_api(api, options, layers.OPTIONS)
        return layers.build(self, kind, rank=rank, in_channels=in_channels, out_channels=out_channels,
                            kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                            groups=groups, depth_multiplier=depth_multiplier, use_bias=use_bias, api=api,
                            options=options)
