"""The ONNX columns: ONNX Runtime (``onnxruntime``) and the ONNX reference (``onnx``), one graph each op.

Design rules
- Every functional op is a small ONNX graph from :mod:`.graphs` (Conv, ConvTranspose, MaxPool with
  Indices, MaxUnpool, AveragePool, DepthToSpace DCR/CRD, SpaceToDepth, Gemm/MatMul, Reshape, Transpose,
  Concat, Unsqueeze), compiled once per graph signature (op, attributes, input shapes, dtype) by the
  engine: an ``onnxruntime.InferenceSession`` on the CPU provider, or ``onnx.reference.ReferenceEvaluator``.
  The two classes differ only in :meth:`OnnxBackend._compile`.
- Tensors are NumPy arrays of the run dtype (what both engines take and give).  ONNX's layouts are the
  canonical ones; kernels still go through the layout table (:mod:`equivcheck.layouts`, read at call
  time), so a wrong entry shows up.
- Native ONNX semantics pass through untouched: ``'same'`` is ``auto_pad=SAME_UPPER`` (ONNX's word for
  the split TensorFlow uses; the odd pixel last), ``'valid'`` is ``auto_pad=VALID``, explicit padding is
  ``pads`` (before and after per axis, asymmetric allowed), MaxPool's Indices are ONNX's (flattened over
  the whole (N, C, *spatial) tensor), inputs ONNX rejects (unbatched ``(C, *sp)``) raise ONNX's error.
- What ONNX lacks raises NotApplicable with the reason: autodiff, im2col, a 3-D DepthToSpace, and
  ONNX Runtime's CPU provider's missing float64 kernels (a record of :mod:`equivcheck.known_issues`).
- Layers are torch.nn layers exported with ``torch.onnx.export`` (:mod:`.export`); n/a without torch.
"""
from __future__ import annotations

import re

import numpy as np

from equivcheck import known_issues, layouts
from equivcheck.backends.base import (Backend, BackendUnavailable, NotApplicable, is_int, padding_pairs,
                                      padding_spec, spatial_ints)
from equivcheck.conventions import PAD_MODES
from equivcheck.backends.onnx.graphs import OPSET, GraphCache, Signature


def _padding_attrs(padding, rank) -> dict:
    """``padding`` as ONNX attributes: a word → ``auto_pad``; ints or (before, after) pairs → ``pads``
    (all befores, then all afters).  Anything else goes to ONNX as given, so ONNX judges it."""
    if isinstance(padding, str):
        return {"auto_pad": {"same": "SAME_UPPER", "valid": "VALID"}.get(padding.lower(), padding)}
    pairs = padding_spec(padding, rank)
    return {"pads": tuple(b for b, _ in pairs) + tuple(a for _, a in pairs)}


_NO_FFT = ("ONNX has no complex tensor type in its operators' inputs: its DFT op (opset 17/20) transforms one axis of a "
           "real (..., 1) or complex-as-(..., 2) float tensor at a time, and the ONNX columns do not rebuild fftn, "
           "conj or real from it")


def _check_epsilon(bk, eps) -> None:
    """ONNX attributes of type FLOAT are 32-bit: a float64 run with an eps float32 cannot hold would normalise
    with another eps than asked (the conventions report's 'BatchNormalization epsilon' row)."""
    if bk.dtype == "float64" and float(np.float32(eps)) != float(eps):
        raise NotApplicable(f"ONNX's BatchNormalization takes epsilon as a 32-bit FLOAT attribute: eps={eps!r} is "
                            f"stored as {float(np.float32(eps))!r}, so a float64 run cannot use it exactly (an eps a "
                            f"float32 holds exactly, 2**-10 say, runs)")


class OnnxBackend(Backend, functional_api="ops", layer_apis=("torch.onnx",), patch_order="?"):
    """What both ONNX columns share; subclasses give :meth:`_compile` and their versions."""

    #: a layer is a ``torch.onnx.export`` per construction (1.5–2.5 s, benchmarks/onnx_export.py), an
    #: OpenVINO graph a compile per shape: long runs take 24 distinct parameter sets and vary the values
    distinct_draws = 24

    def load(self):
        super().load()
        if self.device != "cpu":
            raise BackendUnavailable(f"{self.framework_name}: equivcheck runs ONNX on the CPU only (device={self.device!r})")
        self._np_dtype = np.dtype(self.dtype)
        self.graphs = GraphCache(self._compile)
        self._exporter = None

    # ---- engine hook ---------------------------------------------------------
    def _compile(self, model):
        """ONNX model → callable(list of arrays) → list of outputs."""
        raise NotImplementedError

    def _asking_the_registry(self, model, run):
        """``run`` for a compiled ``model``, with a run-time refusal of a functional op's one-node graph put to
        :func:`equivcheck.known_issues.missing_kernel` (a known gap is n/a, its words outside the record's
        bounds an error); anything else, and any refusal of a multi-node graph, is raised as it is."""
        node = model.graph.node[0] if len(model.graph.node) == 1 else None

        def guarded(feeds):
            try:
                return run(feeds)
            except Exception as exc:  # the engine refusing these attributes when run: the registry decides
                if node is not None:
                    dilations = next((list(a.ints) for a in node.attribute if a.name == "dilations"), [1])
                    known_issues.missing_kernel(self, node.op_type, len(dilations), exc, dilation=dilations)
                raise
        return guarded

    def _run(self, kind, arrays, outputs=1, **attrs):
        arrays = [np.asarray(a) for a in arrays]
        types = tuple("int64" if a.dtype.kind in "iu" else self.dtype for a in arrays)
        sig = Signature.of(kind, [a.shape for a in arrays], types, outputs=outputs, **attrs)
        feeds = [a.astype(np.int64 if t == "int64" else self._np_dtype, copy=False) for a, t in zip(arrays, types)]
        results = self.graphs.get(sig)(feeds)
        return results[0] if outputs == 1 else tuple(results)

    def numeric_settings(self):
        return {"device": "cpu", "dtype": self.dtype, "opset": OPSET}

    # ---- crossing the border ---------------------------------------------
    def asarray(self, array):
        return np.array(array, dtype=self._np_dtype)

    def to_numpy(self, tensor):
        return np.asarray(tensor, dtype=np.float64)

    # ---- array ops -------------------------------------------------------
    def reshape(self, x, shape):
        return self._run("Reshape", [x], const_shape=tuple(int(d) for d in shape))

    def transpose(self, x, axes):
        return self._run("Transpose", [x], perm=tuple(int(a) for a in axes))

    def concat(self, xs, axis):
        return self._run("Concat", list(xs), axis=int(axis))

    def expand_dims(self, x, axis):
        return self._run("Unsqueeze", [x], const_axes=(int(axis),))

    def _permute(self, x, src, dst):
        perm = layouts.permutation(src, dst)
        return x if perm == tuple(range(len(perm))) else self.transpose(x, perm)

    def to_native(self, x):
        rank = np.ndim(x) - 2
        return self._permute(x, layouts.canonical("data", rank), layouts.data_layout(self.framework_name, rank))

    def from_native(self, x):
        rank = np.ndim(x) - 2
        return self._permute(x, layouts.data_layout(self.framework_name, rank), layouts.canonical("data", rank))

    def _kernel(self, w, op, rank):
        native = layouts.kernel_layout(self.framework_name, op, rank, api=self.functional_api)
        return self._permute(w, layouts.canonical(op, rank), native)

    # ---- convolution family ------------------------------------------------
    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        rank = np.ndim(w) - 2
        return self._run("Conv", [x, self._kernel(w, "conv", rank)] + ([] if b is None else [b]),
                         strides=tuple(spatial_ints(stride, rank)), dilations=tuple(spatial_ints(dilation, rank)),
                         group=int(groups), kernel_shape=tuple(np.shape(w)[2:]), **_padding_attrs(padding, rank))

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        rank = np.ndim(w) - 2
        return self._run("ConvTranspose", [x, self._kernel(w, "conv_transpose", rank)] + ([] if b is None else [b]),
                         strides=tuple(spatial_ints(stride, rank)), dilations=tuple(spatial_ints(dilation, rank)),
                         output_padding=tuple(spatial_ints(output_padding, rank)), group=int(groups),
                         kernel_shape=tuple(np.shape(w)[2:]), **_padding_attrs(padding, rank))

    def linear(self, x, w, b=None):
        return self._run("linear", [x, self._kernel(w, "dense", 2)] + ([] if b is None else [b]))

    @staticmethod
    def _blocksize(x, r, what):
        if not is_int(r):
            r = tuple(r)
            if len(r) != 2 or r[0] != r[1]:
                raise NotApplicable(f"ONNX {what} takes one blocksize for both spatial axes, got r={r}")
            r = r[0]
        if np.ndim(x) > 4:
            raise NotApplicable(f"ONNX {what} is defined for 4-D (N, C, H, W) input only: there is no "
                                f"{np.ndim(x) - 2}-D form")
        return int(r)

    def pixel_shuffle(self, x, r):
        return self._run("DepthToSpace", [x], blocksize=self._blocksize(x, r, "DepthToSpace"), mode="CRD")

    def depth_to_space(self, x, r):
        return self._run("DepthToSpace", [x], blocksize=self._blocksize(x, r, "DepthToSpace"), mode="DCR")

    def space_to_depth(self, x, r):
        return self._run("SpaceToDepth", [x], blocksize=self._blocksize(x, r, "SpaceToDepth"))

    def pixel_unshuffle(self, x, r):
        # ONNX's SpaceToDepth has no CRD mode: Reshape → Transpose → Reshape, as torch.onnx.export writes it
        r = self._blocksize(x, r, "SpaceToDepth")
        if np.ndim(x) != 4:  # the composition reshapes (N, C, H, W); ONNX's Reshape judges anything else
            return self._run("SpaceToDepth", [x], blocksize=r)
        return self._run("pixel_unshuffle", [x], blocksize=r)

    # ---- pooling -------------------------------------------------------------
    @staticmethod
    def _pool_attrs(x, kernel, stride, padding, ceil_mode=False, dilation=1):
        rank = np.ndim(x) - 2 if is_int(kernel) else len(tuple(kernel))
        k = spatial_ints(kernel, rank)
        attrs = {"kernel_shape": k, "strides": k if stride is None else spatial_ints(stride, rank),
                 **_padding_attrs(padding, rank)}
        if ceil_mode:  # attributes left at their default stay out of the graph (ONNX's own defaults)
            attrs["ceil_mode"] = 1
        if any(d != 1 for d in spatial_ints(dilation, rank)):
            attrs["dilations"] = spatial_ints(dilation, rank)
        return attrs

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        """``return_indices``: ONNX's Indices (storage_order=0): the row-major flat index into the whole
        (N, C, *spatial) input, not per (n, c) plane."""
        return self._run("MaxPool", [x], outputs=2 if return_indices else 1, storage_order=0,
                         **self._pool_attrs(x, kernel, stride, padding, ceil_mode, dilation))

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        indices = np.asarray(indices)
        if indices.dtype.kind == "f":  # indices that crossed the border through asarray
            indices = np.rint(indices).astype(np.int64)
        attrs = self._pool_attrs(y, kernel, stride, 0)
        if output_size is not None:
            size = tuple(int(v) for v in output_size)
            attrs["const_output_shape"] = size if len(size) == np.ndim(y) else tuple(np.shape(y)[:2]) + size
        return self._run("MaxUnpool", [y, indices], **attrs)

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        # ONNX's default count_include_pad is 0 (padding left out of the divisor); the interface's default
        # (PyTorch's) counts it, so the attribute is always written
        return self._run("AveragePool", [x], count_include_pad=int(bool(count_include_pad)),
                         **self._pool_attrs(x, kernel, stride, padding, ceil_mode, dilation))

    # ---- padding, normalisation, FFT ------------------------------------------------
    def pad(self, x, pads, mode="constant"):
        if mode == "symmetric":
            raise NotApplicable("ONNX's Pad has no 'symmetric' mode (a mirror repeating the edge pixel); it offers "
                                "'constant', 'reflect', 'edge' and 'wrap' (opset 19)")
        if mode not in PAD_MODES:
            raise ValueError(f"pad mode must be a NumPy pad mode ({', '.join(PAD_MODES)}), got {mode!r}")
        rank = np.ndim(x) - 2
        pairs = padding_pairs(pads, rank)
        if pairs is None or len(pairs) != rank:
            raise ValueError(f"pads must be one (before, after) pair per spatial axis of the (N, C, *spatial) "
                             f"input of shape {tuple(np.shape(x))}, got {pads!r}")
        # ONNX's pads input: every axis' begin, then every axis' end (N and C unpadded); the mode words are
        # NumPy's, which ONNX's Pad uses too
        native = [0, 0] + [b for b, _ in pairs] + [0, 0] + [a for _, a in pairs]
        return self._run("Pad", [x], mode=mode, const_pads=tuple(native))

    def batch_norm(self, x, mean, var, gamma, beta, eps):
        _check_epsilon(self, eps)
        return self._run("BatchNormalization", [x, gamma, beta, mean, var], epsilon=float(eps))

    def fftn(self, x, axes):
        raise NotApplicable(_NO_FFT)

    def ifftn(self, x, axes):
        raise NotApplicable(_NO_FFT)

    def conj(self, x):
        raise NotApplicable(_NO_FFT)

    def real(self, x):
        raise NotApplicable(_NO_FFT)

    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        raise NotApplicable("ONNX has no patch-extraction (im2col) operator: it has Col2Im (opset 18) but no "
                            "Im2Col; exporters lower unfold to Gather/Slice graphs of their own")

    # ---- autodiff, layers ------------------------------------------------------
    def vjp(self, fn, primals, cotangent):
        raise NotApplicable(f"{self.framework_name} is an inference engine: ONNX graphs carry no automatic "
                            f"differentiation (the ai.onnx.preview.training Gradient op is not run by it)")

    def _exporter_for_torch(self):
        if self._exporter is None:
            try:
                import torch  # noqa: F401
            except ImportError as exc:
                raise NotApplicable(f"{self.framework_name} layers are torch.nn layers exported with "
                                    f"torch.onnx.export, and torch is not installed ({exc})") from None
            from equivcheck.backends.onnx.export import Exporter

            self._exporter = Exporter(self)
        return self._exporter

    def run_exported(self, module, x):
        """ONNX columns only (for claims about the export path): ``module`` (a torch.nn.Module of the run
        dtype) exported by ``torch.onnx.export`` for ``x``'s shape, run by this engine on ``x`` (NumPy).
        Returns (outputs as a list, the exported nodes as [(op type, attributes)])."""
        from equivcheck.backends.onnx.export import _summary

        model = self._exporter_for_torch().export_module(module, tuple(np.shape(x)))
        outputs = self._compile(model)([np.asarray(x, dtype=self._np_dtype)])
        return list(outputs), _summary(model)

    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1, padding="valid",
              dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None, input_shape=None, **options):
        """The torch.nn layer exported with ``torch.onnx.export`` and run by this engine (:mod:`.export`)."""
        api = api or self.layer_apis[0]
        if api not in self.layer_apis:
            raise ValueError(f"{self.framework_name} layer api must be one of {self.layer_apis}, got {api!r}")
        return self._exporter_for_torch().layer(kind, rank=rank, in_channels=in_channels, out_channels=out_channels,
                                    kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                                    groups=groups, depth_multiplier=depth_multiplier, use_bias=use_bias,
                                    input_shape=input_shape, options=options)


class OnnxRuntimeBackend(OnnxBackend, framework="onnxruntime"):
    """ONNX Runtime's ``InferenceSession`` on the CPU execution provider (one intra-op thread)."""

    def load(self):
        super().load()
        import onnx
        import onnxruntime

        self.ort, self.onnx = onnxruntime, onnx
        self._options = onnxruntime.SessionOptions()
        self._options.intra_op_num_threads = 1
        self._options.inter_op_num_threads = 1
        self._options.log_severity_level = 3  # the error is raised; ORT's own stderr copy is noise
        self._run_options = onnxruntime.RunOptions()
        self._run_options.log_severity_level = 3

    def versions(self):
        return {"onnxruntime": self.ort.__version__, "onnx": self.onnx.__version__}

    def numeric_settings(self):
        return {**super().numeric_settings(), "provider": "CPUExecutionProvider", "intra_op_num_threads": 1,
                "graph_optimization_level": str(self._options.graph_optimization_level)}

    def _compile(self, model):
        try:
            session = self.ort.InferenceSession(model.SerializeToString(), self._options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            # a missing kernel names its op ("Could not find an implementation for Conv(22)"): the registry
            # decides whether that is the known float64 gap (n/a) or something new (an error of the run)
            named = re.search(r"(?:implementation|kernel) for (?:[\w.]+\.)?(\w+)\(", str(exc))
            if named:
                known_issues.missing_kernel(self, named.group(1), 0, exc)
            raise
        names = [i.name for i in session.get_inputs()]
        return self._asking_the_registry(model, lambda feeds: session.run(None, dict(zip(names, feeds)),
                                                                          self._run_options))


class OnnxReferenceBackend(OnnxBackend, framework="onnx"):
    """``onnx.reference.ReferenceEvaluator``: the ONNX spec's own Python (NumPy) implementation."""

    def load(self):
        super().load()
        import onnx
        from onnx.reference import ReferenceEvaluator

        self.onnx, self._evaluator = onnx, ReferenceEvaluator

    def versions(self):
        return {"onnx": self.onnx.__version__, "numpy": np.__version__}

    def numeric_settings(self):
        return {**super().numeric_settings(), "engine": "onnx.reference.ReferenceEvaluator"}

    def _compile(self, model):
        from onnx import helper, numpy_helper

        version = self.onnx.__version__
        for node in model.graph.node:  # the functional op's graph and exported layers alike
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv":
                known_issues.check_onnx_reference_conv_auto_pad(attrs.get("auto_pad", b"NOTSET").decode(), version)
            if node.op_type == "ConvTranspose":
                known_issues.check_onnx_reference_conv_transpose(attrs.get("group", 1), version)
            if node.op_type == "MaxPool":
                rank = len(attrs["kernel_shape"])
                known_issues.check_onnx_reference_max_pool_indices(
                    attrs.get("strides", [1] * rank), attrs.get("dilations", [1] * rank), version,
                    indices=len(node.output) > 1 and bool(node.output[1]), pads=attrs.get("pads", ()))
            if node.op_type == "MaxUnpool" and len(node.input) > 2:
                constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
                shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
                known_issues.check_onnx_reference_max_unpool(shapes[node.input[0]], attrs["kernel_shape"],
                                                             attrs.get("strides", [1] * len(attrs["kernel_shape"])),
                                                             list(constants[node.input[2]]), version)
        evaluator = self._evaluator(model)
        names = [i.name for i in model.graph.input]
        return self._asking_the_registry(model, lambda feeds: evaluator.run(None, dict(zip(names, feeds))))
