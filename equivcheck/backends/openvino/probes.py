"""OpenVINO conventions: the ONNX family's rows (:mod:`equivcheck.backends.onnx.probe_rows`) run by OpenVINO's
CPU plugin, and its precision: the plugin's default inference precision and what it does to a conv's
error against the float32 bound."""
from __future__ import annotations

import numpy as np

from equivcheck import op_bounds, oracle, tolerance
from equivcheck.backends.onnx.graphs import Signature, build
from equivcheck.backends.onnx.probe_rows import register_all, setup  # noqa: F401  (setup: the probe worker's)
from equivcheck.backends.openvino.adapter import PINNED
from equivcheck.report.probes import probe

FRAMEWORK = "openvino"
register_all(FRAMEWORK)


@probe(FRAMEWORK, "precision", "INFERENCE_PRECISION_HINT default", "openvino CPU plugin")
def _default_precision(env):
    bk = env["bk"]
    return f"{bk.default_precision()} on this CPU (claims pin f32)"


@probe(FRAMEWORK, "precision", "conv error/bound: pinned f32 vs the default", "openvino CPU plugin")
def _default_vs_pinned(env):
    """A 3×3×16-channel conv compiled twice, with the pinned f32 and with the plugin's default: each
    result's largest error over the float32 bound of the tolerance model (> 1: outside it)."""
    bk = env["bk"]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, 16, 8, 8)).astype(np.float32)
    w = rng.uniform(-1, 1, (8, 16, 3, 3)).astype(np.float32)
    model = build(Signature.of("Conv", [x.shape, w.shape], ("float32", "float32")))
    want = oracle.conv(x.astype(np.float64), w.astype(np.float64))
    ratios = []
    for config in (PINNED, {}):
        got = bk._compile(model, config)([x, w])[0]
        result = tolerance.compare(got, want, magnitude=op_bounds.magnitude(oracle.conv, x, w),
                                   terms=op_bounds.terms(oracle.conv, x, w), dtype="float32", sides=1)
        ratios.append(result.ratio)
    return (f"pinned f32: {ratios[0]:.3g}; default ({bk.default_precision()}): {ratios[1]:.3g} "
            f"(largest error / float32 bound)")
