"""LiteRT (formerly TensorFlow Lite): every op is a small TensorFlow program, converted and interpreted.

Design rules
- An op is the TensorFlow adapter's own program for it (:class:`~equivcheck.backends.tensorflow.adapter.
  TensorflowBackend`, ``tf.nn`` and Keras, canonical layouts in and out) traced as a ``tf.function``
  with the example's static shapes, converted with ``tf.lite.TFLiteConverter`` (builtin ops only, the
  converter's defaults) and run in ``ai_edge_litert``'s ``Interpreter``.  What LiteRT computes is what a
  user gets after converting that TensorFlow program: the converter's rewrites and LiteRT's kernels.
- Conversion costs about 0.25 s, so interpreters are cached per program signature (the op, its
  non-array arguments, the input shapes and dtypes).
- Tensors are NumPy arrays of the run dtype (what the interpreter takes and gives).
- A program LiteRT's builtin ops cannot express (the converter answers that it would need "TF Select"
  ops, e.g. every float64 convolution, ``MaxPoolWithArgmax``, ``FFT2D``) is ``n/a`` with the ops it
  named: LiteRT has no such kernel.  Any other converter or interpreter error is LiteRT's own and
  propagates.
- No autodiff in an inference runtime: ``vjp`` is n/a.  Layers are Keras layers (the TensorFlow
  adapter's) converted with their loaded weights, once per weight load and input shape.
"""
from __future__ import annotations

import re

import numpy as np

from equivcheck import known_issues
from equivcheck.backends.base import Backend, BackendUnavailable, LayerHandle, NotApplicable
from equivcheck.backends.tensorflow.adapter import TensorflowBackend

#: The functional ops that run as converted programs (the TensorFlow adapter's, same arguments).
PROGRAMS = ("to_native", "from_native", "conv", "conv_transpose", "linear", "pixel_shuffle", "pixel_unshuffle",
            "depth_to_space",
            "space_to_depth", "max_pool", "max_unpool", "avg_pool", "extract_patches", "pad", "batch_norm",
            "reshape", "transpose", "concat", "expand_dims", "fftn", "ifftn", "conj", "real")

_SELECT_OPS = re.compile(r"TF Select ops: ([^\n]+)")


def _freeze(value):
    """A hashable, order-preserving form of an op's non-array arguments (the program's signature)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    return value


class _Programs(TensorflowBackend):
    """The TensorFlow adapter as a program writer: its pre-run guards are about TensorFlow's own
    CPU kernels (oneDNN), which a converted program does not run."""

    def _check_conv2d(self, *args, **kwargs):
        return None


# The programs are the TensorFlow adapter's: its functional and layer APIs, and its patch order.
class LitertBackend(Backend, framework="litert", functional_api=TensorflowBackend.functional_api,
                    layer_apis=TensorflowBackend.layer_apis, patch_order=TensorflowBackend.patch_order):
    """LiteRT's interpreter, fed by TensorFlow programs converted with the TFLite converter."""

    cpu_only = "equivcheck runs LiteRT's interpreter on the CPU only"
    #: every program is a TFLite conversion per signature (0.14–0.25 s, benchmarks/deploy_compile.py):
    #: long runs take 12 distinct parameter sets and vary the values
    distinct_draws = 12

    def load(self):
        super().load()
        if self.dtype == "float64":
            from equivcheck.backends import dtype_unavailable
            raise BackendUnavailable(dtype_unavailable(self.framework_name, self.dtype))
        import ai_edge_litert
        from ai_edge_litert import interpreter

        self.tf_bk = _Programs(dtype=self.dtype, device="cpu")
        self.tf, self.keras = self.tf_bk.tf, self.tf_bk.keras
        self.litert, self.interpreter = ai_edge_litert, interpreter
        self._np_dtype = np.dtype(self.dtype)
        self._programs: dict = {}

    # ---- identity ------------------------------------------------------------
    def versions(self):
        from importlib.metadata import version
        return {"ai-edge-litert": version("ai-edge-litert"), **self.tf_bk.versions()}

    def numeric_settings(self):
        return {"device": "cpu", "converter": "tf.lite.TFLiteConverter, builtin ops, default optimizations off",
                "delegate": "XNNPACK (the interpreter's default CPU delegate)"}

    # ---- crossing the border -------------------------------------------------
    def asarray(self, array):
        return np.asarray(array, dtype=self._np_dtype)

    def to_numpy(self, tensor):
        tensor = np.asarray(tensor)
        return tensor.astype(np.complex128 if tensor.dtype.kind == "c" else np.float64)

    # ---- the converted programs ------------------------------------------------
    def _spec(self, value):
        value = np.asarray(value)
        complex_dtype = np.complex64 if self.dtype == "float32" else np.complex128
        dtype = self.tf.as_dtype(np.int64 if value.dtype.kind in "iu" else
                                 complex_dtype if value.dtype.kind == "c" else self._np_dtype)
        return self.tf.TensorSpec(value.shape, dtype)

    def _convert(self, fn, specs):
        tf = self.tf
        function = tf.function(fn, input_signature=specs, autograph=False)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
        try:
            flatbuffer = converter.convert()
        except Exception as exc:  # the converter's ConverterError: n/a only when it names missing builtins
            missing = _SELECT_OPS.search(str(exc))
            if missing:
                raise NotApplicable(f"LiteRT's builtin ops have no {missing.group(1).strip()} "
                                    f"(the TFLite converter would need TF Select ops; inputs "
                                    f"{[(tuple(s.shape), s.dtype.name) for s in specs]})") from None
            raise
        runner = self.interpreter.Interpreter(model_content=flatbuffer)
        runner.allocate_tensors()
        return runner

    def _invoke(self, runner, arrays):
        inputs = sorted(runner.get_input_details(), key=lambda d: d["index"])
        for detail, array in zip(inputs, arrays):
            runner.set_tensor(detail["index"], np.asarray(array, dtype=detail["dtype"]))
        runner.invoke()
        outputs = sorted(runner.get_output_details(), key=lambda d: d["name"])
        return [runner.get_tensor(d["index"]).copy() for d in outputs]

    def _program(self, name, args, kwargs):
        """Run the TensorFlow adapter's ``name`` on the array arguments as one converted LiteRT program."""
        # tensors: the float (and complex) arrays, and max_unpool's indices; integer arrays elsewhere are
        # arguments (a transpose's axes, a reshape's shape), given to the program as lists
        slots = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)
                 and (a.dtype.kind in "fc" or (name == "max_unpool" and i == 1))]
        args = tuple(a.tolist() if isinstance(a, np.ndarray) and i not in slots else a for i, a in enumerate(args))
        kwargs = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        if name == "concat":  # a list of arrays
            slots, args = list(range(len(args[0]))), (*args[0], *args[1:])
        arrays = [args[i] for i in slots]
        key = (name, _freeze([a if i not in slots else None for i, a in enumerate(args)]), _freeze(kwargs),
               tuple((a.shape, a.dtype.str) for a in arrays))
        if key not in self._programs:
            tf_bk = self.tf_bk

            def fn(*tensors):
                call = list(args)
                for i, t in zip(slots, tensors):
                    call[i] = t
                if name == "concat":
                    call = [call[:len(slots)], *call[len(slots):]]
                out = getattr(tf_bk, name)(*call, **kwargs)
                return tuple(out) if isinstance(out, (tuple, list)) else (out,)
            self._programs[key] = self._prepared(name, lambda: self._convert(fn, [self._spec(a) for a in arrays]),
                                                 args, kwargs)
        results = self._prepared(name, lambda: self._invoke(self._programs[key], arrays), args, kwargs)
        return results[0] if len(results) == 1 else tuple(results)

    def _prepared(self, name, step, args, kwargs):
        """``step()`` (convert, or invoke); a converted program LiteRT cannot prepare or invoke is classified
        by :mod:`equivcheck.known_issues` (a known gap is n/a for the example), else LiteRT's own error."""
        try:
            return step()
        except RuntimeError as exc:
            rank = max(len(np.shape(args[0])) - 2, 1) if args else 1
            known_issues.missing_kernel(self, name, rank, exc, stride=kwargs.get("stride", 1),
                                        dilation=kwargs.get("dilation", 1), groups=kwargs.get("groups", 1))
            raise

    def session(self):
        return self.tf_bk.session()

    def vjp(self, fn, primals, cotangent):
        raise NotApplicable("LiteRT is an inference runtime: it has no automatic differentiation")

    # ---- layers: Keras layers, converted with their weights -----------------------
    def layer(self, kind, **kwargs):
        handle = self.tf_bk.layer(kind, **kwargs)
        programs: dict = {}
        loads = [0]

        def set_weights(*args, **kw):
            handle.set_weights(*args, **kw)
            loads[0] += 1

        def call(x):
            key = (loads[0], x.shape)
            if key not in programs:
                programs.clear()  # earlier weights are gone from the Keras layer
                programs[key] = self._convert(lambda t: (handle(t),), [self._spec(x)])
            return self._invoke(programs[key], [x])[0]

        return LayerHandle(api=f"{handle.api} → LiteRT", kernel_shape=handle.kernel_shape,
                           kernel_layout=handle.kernel_layout, param_count=handle.param_count,
                           set_weights=set_weights, call=call, native=handle.native,
                           extra={**handle.extra, "converted_from": handle.api})


def _make(name):
    def method(self, *args, **kwargs):
        return self._program(name, args, kwargs)
    method.__name__ = name
    method.__doc__ = f"The TensorFlow adapter's ``{name}``, converted and run by LiteRT."
    return method


for _name in PROGRAMS:
    setattr(LitertBackend, _name, _make(_name))
