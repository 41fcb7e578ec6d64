"""The floor's first half: import every framework and run one tiny op in each.

Run by ``benchmarks/run.py`` in a fresh interpreter; prints one JSON line with
the time of each step.  Frameworks are loaded through the adapters in the
suite's own order (torch before TensorFlow), exactly as a test worker loads
them, and each runs one 1×2×5×5 conv with a 3×3 kernel in float32, so JAX and
Flax include their first compile of one program.
"""
from __future__ import annotations

import json
import sys
import time

started = time.perf_counter()

import numpy as np  # noqa: E402


def main() -> None:
    from equivcheck import backends

    steps = {"python+numpy": time.perf_counter() - started}
    x = np.arange(50, dtype=np.float32).reshape(1, 2, 5, 5) / 50
    w = np.ones((3, 2, 3, 3), dtype=np.float32)
    missing = []
    for framework in backends.FRAMEWORKS:
        t0 = time.perf_counter()
        try:
            bk = backends.load(framework, "float32")
        except backends.BackendUnavailable as exc:
            missing.append(f"{framework}: {exc}")
            continue
        t1 = time.perf_counter()
        with bk.session():
            bk.to_numpy(bk.conv(bk.asarray(x), bk.asarray(w), padding=1))
        t2 = time.perf_counter()
        steps[f"import {framework}"] = t1 - t0
        steps[f"first conv {framework}"] = t2 - t1
    print(json.dumps({"steps": steps, "total_s": time.perf_counter() - started, "missing": missing}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
