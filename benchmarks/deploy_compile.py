"""What building a program costs the deployment columns, and what their per-signature caches save.

    python benchmarks/deploy_compile.py [--shapes N] [--engines openvino,litert]

For N distinct conv shapes (2-D, 3×3 kernel, growing spatial size), engine after engine in this process:
- **first call**: the engine builds the program (OpenVINO: ``read_model`` + ``compile_model`` of the ONNX
  graph on the CPU plugin; LiteRT: trace the TensorFlow program, ``TFLiteConverter.convert``, allocate the
  interpreter) and runs it;
- **cached call**: the same signature again with new values, which only runs it.
The engine's import and first build are reported apart (``import_s``, ``first_build_s``).  Prints one JSON
line per engine; the machine's load matters, so compare figures from one run.

Measured here (2 cores, load average ~2 from another test run; openvino 2026.4.1, ai-edge-litert 2.3.0 with
TensorFlow 2.21.0, ``--shapes 6``): OpenVINO builds a conv in 0.050 s (median; the first 0.083 s) and runs a
cached one in 0.00046 s; LiteRT converts and prepares one in 0.14 s (the first 0.29 s) and runs a cached one
in 0.0001 s.  Importing the engine (and, for LiteRT, TensorFlow) costs 2.9 s and 10.5 s.  So a claim pays
per distinct shape it draws, which is why both columns' programs are cached per signature.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def measure(engine: str, shapes: int) -> dict:
    started = time.perf_counter()
    import torch  # noqa: F401  (torch before tensorflow, as the registry loads them)

    from equivcheck import backends

    bk = backends.load(engine, "float32", "cpu")
    import_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    first, cached = [], []
    for i in range(shapes + 1):
        x, w = rng.standard_normal((1, 4, 8 + i, 8 + i)), rng.standard_normal((6, 4, 3, 3))
        t = time.perf_counter()
        bk.to_numpy(bk.conv(bk.asarray(x), bk.asarray(w), padding=1))
        first.append(time.perf_counter() - t)
        x2 = rng.standard_normal(x.shape)
        t = time.perf_counter()
        bk.to_numpy(bk.conv(bk.asarray(x2), bk.asarray(w), padding=1))
        cached.append(time.perf_counter() - t)
    return {"engine": engine, "versions": bk.versions(), "import_s": round(import_s, 2),
            "first_build_s": round(first[0], 3), "build_and_run_median_s": round(statistics.median(first[1:]), 4),
            "cached_run_median_s": round(statistics.median(cached[1:]), 5), "shapes": shapes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=8, help="distinct conv shapes per engine (default 8)")
    parser.add_argument("--engines", default="openvino,litert", help="comma-separated (default openvino,litert)")
    args = parser.parse_args()
    if args.shapes < 1:
        parser.error(f"--shapes must be at least 1, got {args.shapes}")
    for engine in [e for e in args.engines.split(",") if e]:
        print(json.dumps(measure(engine, args.shapes)), flush=True)


if __name__ == "__main__":
    main()
