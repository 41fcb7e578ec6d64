"""OpenVINO: the ONNX columns' graphs, read and compiled by OpenVINO's CPU plugin.

Design rules
- Every functional op is the ONNX family's graph (:mod:`equivcheck.backends.onnx.graphs`), read with
  ``Core.read_model`` (OpenVINO's ONNX frontend) and compiled for ``"CPU"``, once per graph signature.
  Layers are torch.nn layers through ``torch.onnx.export``, as in the ONNX columns.
- **Precision is pinned.**  The CPU plugin's ``INFERENCE_PRECISION_HINT`` defaults to bf16 (or f16)
  on CPUs with those instructions and to f32 elsewhere; claims compile with ``f32`` so that their
  bound (float32's unit roundoff) is honest everywhere.  :meth:`numeric_settings` records the
  plugin's default on this CPU, and the report probes what the default does.
  ``EQUIVCHECK_OPENVINO_PRECISION=default`` runs the claims at the plugin's default instead, judged
  in that precision's unit roundoff (bf16: 2⁻⁸, f16: 2⁻¹¹); those results are a column of their own
  in the report ("default precision"), like TF32 on a GPU.
- **No float64.**  OpenVINO's CPU plugin has no f64 kernels: it accepts an f64 model and computes it
  in f32 (its outputs are f64 arrays holding f32 results).  Judging those by float64's bound would
  refute correct claims, and by float32's would not be a float64 run, so there is no float64 column:
  the adapter is unavailable for float64 with that sentence (runs and pytest skip it, saying so).
- No autodiff: ``vjp`` is n/a (the base class of the ONNX family says so).
"""
from __future__ import annotations

import os
import re

from equivcheck.backends.base import BackendUnavailable, NotApplicable
from equivcheck.backends.onnx.adapter import OnnxBackend

#: What claims compile with (the CPU plugin's property and value).
PINNED = {"INFERENCE_PRECISION_HINT": "f32"}
#: The plugin's precision hints as the tolerance model's compute precisions.
HINTS = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}
#: The environment variable choosing what claims compile with: "f32" (pinned, the default) or "default".
PRECISION_SETTING = "EQUIVCHECK_OPENVINO_PRECISION"

#: What OpenVINO's ONNX frontend says when it has no conversion for an op or an attribute value: the
#: runtime lacks that operation, so the example is n/a with its words (anything else it raises is its own).
_LACKS = re.compile(r"No conversion rule found for operations: ([^\n]+)|(Unsupported padding mode: \[\w+\])")

class OpenvinoBackend(OnnxBackend, framework="openvino"):
    """OpenVINO's CPU plugin, fed the ONNX family's graphs, inference precision pinned to f32."""

    def load(self):
        if self.dtype == "float64":
            from equivcheck.backends import dtype_unavailable
            raise BackendUnavailable(dtype_unavailable(self.framework_name, self.dtype))
        super().load()
        import openvino

        self.ov = openvino
        self.core = openvino.Core()
        self.core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
        setting = os.environ.get(PRECISION_SETTING) or "f32"
        if setting not in ("f32", "default"):
            raise ValueError(f"{PRECISION_SETTING}={setting!r}: use 'f32' (pinned, the default) or 'default' "
                             f"(the CPU plugin's own inference precision)")
        self.config = PINNED
        if setting == "default":
            hint = self.default_precision()
            if hint not in HINTS:
                raise BackendUnavailable(f"openvino: the CPU plugin's default inference precision {hint!r} has no "
                                         f"unit roundoff in equivcheck's error model ({', '.join(HINTS)})")
            self.config, self.compute_dtype, self.precision = {}, HINTS[hint], f"default ({hint})"

    def versions(self):
        import onnx
        return {"openvino": self.ov.__version__.split("-")[0], "onnx": onnx.__version__}

    def default_precision(self) -> str:
        """The CPU plugin's own ``INFERENCE_PRECISION_HINT`` on this machine (what a user gets unpinned)."""
        return self.core.get_property("CPU", "INFERENCE_PRECISION_HINT").to_string()

    def numeric_settings(self):
        pinned = self.config.get("INFERENCE_PRECISION_HINT")
        return {**super().numeric_settings(), "device": "CPU",
                "inference_precision": pinned or f"the plugin's default ({self.default_precision()})",
                "default_inference_precision": self.default_precision(), "threads": 1}

    def _compile(self, model, config=None):
        try:
            compiled = self.core.compile_model(self.core.read_model(model.SerializeToString(), b""), "CPU",
                                               self.config if config is None else config)
        except RuntimeError as exc:
            lacks = _LACKS.search(str(exc))
            if lacks:
                raise NotApplicable(f"OpenVINO {self.versions()['openvino']}'s ONNX frontend cannot convert it: "
                                    f"{(lacks.group(1) or lacks.group(2)).strip()}") from None
            raise
        return lambda feeds: [compiled(feeds)[out] for out in compiled.outputs]
