"""What the ONNX columns' export cache saves: torch.onnx.export of a layer, cold and from the cache.

    python benchmarks/onnx_export.py [--layers N] [--repeat R]

For each of N layer configurations (the kinds the layer claims build), in one process:
- **cold**: the cache off (``EQUIVCHECK_ONNX_EXPORT_CACHE=off``), a fresh adapter each time, so every
  ``bk.layer(...)`` runs ``torch.onnx.export`` (the first one also pays the exporter's imports, reported
  apart as ``first_export_s``);
- **warm**: a fresh adapter over a cache directory the cold pass filled, so ``bk.layer(...)`` reads the
  exported model back (what a second run of the claims, or the other ONNX column, pays).
Each handle is also loaded with weights and called once, so the times are what a claim sees.  Prints one
JSON line; the machine's load matters.

Measured here (2 cores shared with seven other sessions, load average 17; torch 2.13.0, onnx 1.23.2,
onnxscript 0.7.2, ``--layers 3``): the first export 99.6 s (the exporter's imports and torchlib registry
included), the next ones 22.9 s and 24.1 s (median 23.5 s), the same layers from the cache 0.079–0.083 s
(median 0.083 s, the ONNX Runtime session included): about 280× less per layer.  On an idle core an export
takes 1.5–2.5 s (issue 13); the cached path does not depend on the exporter at all.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

LAYERS = [  # (kind, keywords) like those of conv_parameter_count, dense_head_is_strided_conv, ...
    ("conv", dict(rank=2, in_channels=4, out_channels=6, kernel_size=3, padding=1)),
    ("conv_transpose", dict(rank=2, in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1)),
    ("dense", dict(in_channels=8, out_channels=3)),
    ("conv", dict(rank=1, in_channels=2, out_channels=4, kernel_size=5, stride=2, groups=2)),
    ("depthwise", dict(rank=2, in_channels=3, kernel_size=3, depth_multiplier=2)),
    ("conv", dict(rank=3, in_channels=2, out_channels=2, kernel_size=2)),
]


def _build_and_call(kind, kw):
    from equivcheck.backends.onnx.adapter import OnnxRuntimeBackend

    bk = OnnxRuntimeBackend(dtype="float32")
    started = time.perf_counter()
    layer = bk.layer(kind, **kw)
    built = time.perf_counter() - started
    rng = np.random.default_rng(0)
    # the exported kernel's layout is the canonical one (OI*, IO*, (out, in)) except depthwise's (C·M, 1, *k)
    kernel = rng.standard_normal(layer.kernel_shape)
    if kind == "depthwise":
        kernel = kernel.reshape(kw["in_channels"], kw["depth_multiplier"], *layer.kernel_shape[2:])
    layer.set_weights(kernel, None)
    if kind == "dense":
        x = rng.standard_normal((2, kw["in_channels"]))
    else:
        x = rng.standard_normal((1, kw["in_channels"]) + (7,) * kw["rank"])
    layer(x)
    return built, time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3, help=f"how many of the {len(LAYERS)} configurations")
    parser.add_argument("--repeat", type=int, default=1, help="warm repetitions per configuration")
    args = parser.parse_args(argv)
    configs = LAYERS[:args.layers]
    directory = tempfile.mkdtemp(prefix="onnx-export-bench-")

    os.environ["EQUIVCHECK_ONNX_EXPORT_CACHE"] = directory  # the cold pass writes, never reads: fresh dir
    cold = []
    for kind, kw in configs:
        built, total = _build_and_call(kind, kw)
        cold.append({"kind": kind, "export_s": round(built, 3), "with_call_s": round(total, 3)})
    warm = []
    for kind, kw in configs:
        runs = [_build_and_call(kind, kw) for _ in range(args.repeat)]
        warm.append({"kind": kind, "export_s": round(statistics.median(r[0] for r in runs), 4),
                     "with_call_s": round(statistics.median(r[1] for r in runs), 4)})
    later_cold = [c["export_s"] for c in cold[1:]] or [cold[0]["export_s"]]
    print(json.dumps({
        "python": sys.version.split()[0], "layers": len(configs), "cache_dir": directory,
        "first_export_s": cold[0]["export_s"],
        "cold_median_export_s (after the first)": statistics.median(later_cold),
        "warm_median_export_s": statistics.median(w["export_s"] for w in warm),
        "cold": cold, "warm": warm, "loadavg": os.getloadavg(),
    }))


if __name__ == "__main__":
    main()
