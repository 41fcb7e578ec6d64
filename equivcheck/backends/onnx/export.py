"""Layers for the ONNX columns: the torch.nn layer a porter exports with ``torch.onnx.export``, run by the engine.

Design rules
- The torch.nn module is the one the torch column builds (:class:`equivcheck.backends.torch.TorchBackend`),
  exported with torch's default exporter (``torch.onnx.export(..., dynamo=True)``, the default since torch
  2.9) with every axis dynamic but the channel (feature) axis, as a porter exporting for variable batch and
  image sizes does; one export per layer configuration and input rank, cached in the process and on disk
  (:mod:`.export_cache`; an export takes seconds).
- The native kernel shape, the parameter count and the op the layer became are read from the exported
  model (its initializers and nodes), never from torch.
- Weights are loaded into the exported model's initializers: canonical → the ONNX column's layout table
  entry (api ``torch.onnx``) → the initializer, with the axis permutation the exporter applied (learned
  once per export by exporting distinct values: identity except nn.Linear on an input of rank > 2, which
  becomes MatMul with the transposed weight).
"""
from __future__ import annotations

import copy
import inspect
import itertools
import logging
import warnings

import numpy as np
from onnx import numpy_helper

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable
from equivcheck.backends.onnx.export_cache import ExportCache, export_key

EXPORTER = "torch.onnx.export (dynamo=True, the default exporter)"


def _summary(model):
    """The exported nodes as (op type, {attribute: value}), for facts."""
    from onnx import helper

    return [(node.op_type, {a.name: _plain(helper.get_attribute_value(a)) for a in node.attribute})
            for node in model.graph.node]


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str)) else str(type(value).__name__)


class Export:
    """One exported model: ``model``, ``mapping`` {torch parameter name: (initializer name, permutation)}."""

    def __init__(self, model, mapping):
        self.model, self.mapping = model, mapping
        self.initializers = {init.name: tuple(init.dims) for init in model.graph.initializer}
        self.input_name = model.graph.input[0].name


def has_dynamo_exporter(torch) -> bool:
    """Whether this torch's ``torch.onnx.export`` takes ``dynamo=`` and ``dynamic_shapes=`` (torch ≥ 2.5)."""
    return {"dynamo", "dynamic_shapes"} <= set(inspect.signature(torch.onnx.export).parameters)


class Exporter:
    """Exports torch.nn layers for one ONNX adapter ``bk`` and builds their handles."""

    def __init__(self, bk):
        import torch

        from equivcheck.backends.torch import TorchBackend

        self.bk, self.torch = bk, torch
        if not has_dynamo_exporter(torch):
            raise NotApplicable(f"{bk.framework_name} layers are torch.nn layers exported with torch.onnx.export's "
                                f"dynamo exporter, which torch {torch.__version__} does not have (torch ≥ 2.5 has it)")
        self.torch_bk = TorchBackend(dtype=bk.dtype)
        self._exports: dict[tuple, Export] = {}
        self.cache = ExportCache.from_environment()
        self.versions = {"torch": torch.__version__, "onnx": _version("onnx"), "onnxscript": _version("onnxscript")}

    # ---- the export ------------------------------------------------------------
    def export(self, module, example_shape, static_axes, key=None) -> Export:
        """``module`` exported for inputs shaped like ``example_shape`` (every axis dynamic but
        ``static_axes``); cached under ``key`` when given."""
        if key is not None and key in self._exports:
            return self._exports[key]
        torch = self.torch
        probe = copy.deepcopy(module).eval()
        with torch.no_grad():  # distinct (positive) values, so each initializer can be traced back to its tensor
            offset = 1
            for tensor in _state(probe).values():
                tensor.copy_(torch.arange(offset, offset + tensor.numel()).reshape(tensor.shape))
                offset += tensor.numel()
        model = self.export_module(probe, example_shape, static_axes)
        params = {name: t.detach().numpy() for name, t in _state(probe).items()}
        mapping = {}
        for init in model.graph.initializer:
            value = numpy_helper.to_array(init)
            for name, param in params.items():
                perm = _find_permutation(param, value)
                if perm is not None and name not in mapping:
                    mapping[name] = (init.name, perm)
        missing = sorted(set(params) - set(mapping))
        if missing:
            raise RuntimeError(f"{EXPORTER}: parameters {missing} of {type(module).__name__} are not initializers "
                               f"of the exported model (folded into other values?)")
        result = Export(model, mapping)
        if key is not None:
            self._exports[key] = result
        return result

    def export_module(self, module, example_shape, static_axes=None):
        """``module`` (in eval mode, its own weights) exported for inputs like ``example_shape``: every axis
        dynamic but ``static_axes`` (None: all static, the shape as given).  A model exported before for the
        same key (:func:`.export_cache.export_key`: versions, construction signature, weights, shape) comes
        from the persistent cache."""
        example = self.torch.zeros(example_shape, dtype=self.torch_bk._dtype)
        static = tuple(range(len(example_shape)) if static_axes is None else static_axes)
        module = module.eval()
        key = export_key(self.torch, module, example_shape, self.torch_bk._dtype, static, self.versions)
        model = self.cache.get(key)
        if model is None:
            model = self._export(module, example, static)
            self.cache.put(key, model)
        return model

    def _export(self, module, example, static_axes):
        from torch.export import Dim

        dynamic = {axis: Dim.DYNAMIC for axis in range(example.ndim) if axis not in static_axes}
        with warnings.catch_warnings(), _quiet_logs():
            warnings.simplefilter("ignore")
            try:
                program = self.torch.onnx.export(module, (example,), None, verbose=False, dynamo=True,
                                                 dynamic_shapes=(dynamic,) if dynamic else None)
            except ModuleNotFoundError as exc:
                raise self._exporter_cannot_run(exc) from None
            except Exception:  # a dynamic axis torch specialises (size-1 axes, say): let it decide
                try:
                    program = self.torch.onnx.export(module, (example,), None, verbose=False, dynamo=True,
                                                     dynamic_shapes=({a: Dim.AUTO for a in dynamic},) if dynamic
                                                     else None)
                except ModuleNotFoundError as exc:
                    raise self._exporter_cannot_run(exc) from None
        return program.model_proto

    def _exporter_cannot_run(self, exc: ModuleNotFoundError) -> Exception:
        """The exporter's own missing piece: torch's exporter imports the onnxscript module written for its
        torch version (``onnxscript._framework_apis.torch_2_11`` for torch 2.11 and later), which an older
        onnxscript lacks; onnxscript 0.6, the first with it, needs onnx ≥ 1.17.  Anything else is raised."""
        if not (exc.name or "").startswith("onnxscript"):
            return exc
        return NotApplicable(f"{self.bk.framework_name} layers are torch.nn layers exported with torch.onnx.export, "
                             f"and torch {self.torch.__version__}'s exporter cannot run with the installed onnxscript "
                             f"{self.versions['onnxscript']} (no module {exc.name}; the onnxscript versions that have "
                             f"it need onnx ≥ 1.17, this is onnx {self.versions['onnx']})")

    # ---- handles -------------------------------------------------------------------
    def layer(self, kind, *, rank, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
              depth_multiplier, use_bias, input_shape, options):
        torch_handle = self.torch_bk.layer(kind, rank=rank, in_channels=in_channels, out_channels=out_channels,
                                           kernel_size=kernel_size, stride=stride, padding=padding,
                                           dilation=dilation, groups=groups, depth_multiplier=depth_multiplier,
                                           use_bias=use_bias, input_shape=input_shape, **options)
        module = torch_handle.native.eval()
        if kind == "batch_norm":  # the exported BatchNormalization's epsilon is a 32-bit attribute too
            from equivcheck.backends.onnx.adapter import _check_epsilon

            _check_epsilon(self.bk, module.eps)
        config = (kind, rank, in_channels, out_channels, _frozen(kernel_size), _frozen(stride), _frozen(padding),
                  _frozen(dilation), groups, depth_multiplier, use_bias,
                  tuple(sorted((k, _frozen(v)) for k, v in options.items())))
        layer = _Layer(self, kind, rank, module, config, torch_handle.api, torch_handle)
        shape = _example_shape(kind, rank, in_channels, kernel_size, stride, dilation, input_shape)
        base = layer.export_for(len(shape), shape)
        weight = base.mapping.get("weight")
        kernel_shape = base.initializers[weight[0]] if weight else ()
        kernel_rank = 2 if kind == "dense" else rank
        kernel_layout = "" if kind not in _LAYOUT_KINDS else layouts.kernel_layout(
            self.bk.framework_name, kind, kernel_rank, api="torch.onnx")
        extra = {**{k: v for k, v in torch_handle.extra.items() if k not in ("groups",)},
                 "exporter": EXPORTER, "exported_ops": _summary(base.model), "opset": base.model.opset_import[0].version}
        if kind == "flatten":
            extra["input_layout"] = layouts.data_layout(self.bk.framework_name, rank)
        elif kind != "dense":
            extra["groups"] = torch_handle.extra.get("groups", groups)
        parameters = {name for name, _ in module.named_parameters()}  # BatchNorm's running statistics are not
        return LayerHandle(api=f"{torch_handle.api} → torch.onnx.export → {self.bk.framework_name}",
                           kernel_shape=tuple(kernel_shape), kernel_layout=kernel_layout,
                           param_count=sum(int(np.prod(base.initializers[i])) for name, (i, _) in base.mapping.items()
                                           if name in parameters),
                           set_weights=layer.set_weights, call=layer, native=base.model, extra=extra)


class _Layer:
    """One handle's state: the exports per input rank, the loaded weights, the compiled sessions."""

    def __init__(self, exporter, kind, rank, module, config, api, torch_handle):
        self.exporter, self.kind, self.rank, self.module, self.config, self.api = \
            exporter, kind, rank, module, config, api
        self.torch_handle = torch_handle
        self.weights = {name: t.detach().numpy().copy() for name, t in _state(module).items()}
        self.version, self._compiled = 0, {}

    def static_axes(self, ndim):
        if self.kind == "flatten":
            return ()
        if self.kind == "dense":
            return (ndim - 1,)
        return (ndim - self.rank - 1,)  # the channel axis, batched or not

    def export_for(self, ndim, shape=None):
        static = self.static_axes(ndim)
        shape = self._shape_hint(ndim) if shape is None else shape
        return self.exporter.export(self.module, _grown(shape, static), static, key=(self.config, ndim))

    def _shape_hint(self, ndim):
        kind, rank, in_channels, _, k, s, _, d, *_ = self.config
        batched = _example_shape(kind, rank, in_channels, k, s, d, None)
        if kind == "dense":  # nn.Linear acts on the last axis of any rank
            return (2,) * (ndim - 1) + (in_channels,)
        return batched[len(batched) - ndim:] if ndim <= len(batched) else (2,) * (ndim - len(batched)) + batched

    def set_weights(self, kernel=None, bias=None, **named):
        """Canonical weights → the exported initializers (through the ONNX column's layout table).  Kinds
        without a layout row (separable's two kernels, BatchNorm's statistics, the pools) load through the
        torch layer's own ``set_weights``, whose tensors the exported initializers then take."""
        bk = self.exporter.bk
        if self.kind not in _LAYOUT_KINDS:
            self.torch_handle.set_weights(*(() if kernel is None else (kernel,)) + (() if bias is None else (bias,)),
                                          **named)
            self.weights = {name: t.detach().numpy().astype(bk._np_dtype) for name, t in _state(self.module).items()}
            self.version += 1
            return
        if named:
            raise TypeError(f"{self.api}.set_weights takes (kernel, bias), got {sorted(named)}")
        if self.kind == "flatten":
            raise ValueError(f"{self.api} has no weights")
        kernel_rank = 2 if self.kind == "dense" else self.rank
        native = layouts.convert(np.asarray(kernel, dtype=np.float64), layouts.canonical(self.kind, kernel_rank),
                                 layouts.kernel_layout(bk.framework_name, self.kind, kernel_rank, api="torch.onnx"))
        if self.kind == "depthwise":
            native = layouts.depthwise_to_grouped(native)
        weights = {"weight": native}
        if "bias" in self.weights:
            weights["bias"] = np.zeros(self.weights["bias"].shape) if bias is None else np.asarray(bias, np.float64)
        elif bias is not None:
            raise ValueError(f"{self.api} was built with bias=False but a bias was given")
        for name, value in weights.items():
            if value.shape != self.weights[name].shape:
                raise ValueError(f"{self.api}: size mismatch for {name}: copying a param with shape {value.shape}, "
                                 f"the exported initializer holds {self.weights[name].shape}")
        self.weights = {name: value.astype(bk._np_dtype) for name, value in weights.items()}
        self.version += 1

    def _session(self, ndim):
        key = (ndim, self.version)
        if key not in self._compiled:
            export = self.export_for(ndim)
            model = copy.deepcopy(export.model)
            for init in model.graph.initializer:
                for name, (init_name, perm) in export.mapping.items():
                    if init.name == init_name:
                        init.CopyFrom(numpy_helper.from_array(
                            np.ascontiguousarray(self.weights[name].transpose(perm)), name=init_name))
            self._compiled = {k: v for k, v in self._compiled.items() if k[1] == self.version}
            self._compiled[key] = (export.input_name, self.exporter.bk._compile(model))
        return self._compiled[key]

    def __call__(self, x):
        bk = self.exporter.bk
        x = np.asarray(x, dtype=bk._np_dtype)
        input_name, run = self._session(x.ndim)
        if self.kind in ("flatten", "dense"):
            return run([x])[0]
        rank = self.rank
        return bk.from_native(run([bk.to_native(x)])[0]) if x.ndim == rank + 2 else run([x])[0]


#: The kinds whose kernel goes through the ONNX column's layout table (api "torch.onnx").
_LAYOUT_KINDS = ("conv", "conv_transpose", "depthwise", "dense")


def _state(module):
    """The module's floating-point parameters and buffers by name (BatchNorm's running statistics are
    initializers of the exported model too; its integer num_batches_tracked is not)."""
    return {name: t for name, t in module.state_dict(keep_vars=True).items() if t.is_floating_point()}


def _find_permutation(param, value):
    """The axis permutation taking ``param`` to ``value`` (equal values), or None."""
    if param.size != value.size or param.ndim != value.ndim:
        return None
    for perm in itertools.permutations(range(param.ndim)):
        moved = param.transpose(perm)
        if moved.shape == value.shape and np.array_equal(moved, value):
            return perm
    return None


def _version(distribution):
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


def _example_shape(kind, rank, in_channels, kernel_size, stride, dilation, input_shape):
    """The input an export is traced with: ``input_shape`` when given, else a batch of two big enough."""
    if input_shape is not None:
        return tuple(input_shape)
    if kind == "dense":
        return (2, in_channels)
    k = [kernel_size] * rank if isinstance(kernel_size, int) else list(kernel_size)
    s = [stride] * rank if isinstance(stride, int) else list(stride)
    d = [dilation] * rank if isinstance(dilation, int) else list(dilation)
    return (2, in_channels, *(di * (ki - 1) + 1 + 2 * si for ki, si, di in zip(k, s, d)))


def _grown(shape, static_axes):
    """Every dynamic axis at least 2 long, so torch.export does not specialise it to size 1."""
    return tuple(int(n) if axis in static_axes else max(int(n), 2) for axis, n in enumerate(shape))


class _quiet_logs:
    """torch.onnx's progress lines and torchvision notices are not the run's output."""

    def __enter__(self):
        self._levels = {}
        for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "torch.onnx._internal"):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
