"""Oracle throughput against torch and onnx.reference, and the oracle's peak memory.

Run by ``benchmarks/run.py`` in a fresh interpreter whose thread counts are set
through the environment (``OPENBLAS_NUM_THREADS`` and friends must be set
before NumPy loads its BLAS); prints one JSON document.

Timing: after one warm-up call each, the contestants run in turn, round
after round, for at least ``--seconds`` per conv (and at least 5 rounds), and
each one's *minimum* is kept, in wall time and in this process's CPU time.  On a machine shared with other
jobs, CPU time of a single-threaded run is the reproducible figure (a
preempted call is charged its wall time, not its CPU time); with two threads,
CPU time also counts threads that spin while waiting, so wall time is shown.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
import tracemalloc

import numpy as np

from equivcheck import oracle

#: (label, input shape, kernel shape, padding): the issue's convs, all 3×3 (3×3×3 in 3-D).
CONVS = [
    ("1×8×16²→8", (1, 8, 16, 16), (8, 8, 3, 3), 1),
    ("2×32×32²→32", (2, 32, 32, 32), (32, 32, 3, 3), 1),
    ("1×64×64²→64", (1, 64, 64, 64), (64, 64, 3, 3), 1),
    ("2×16×16³→16 (3-D)", (2, 16, 16, 16, 16), (16, 16, 3, 3, 3), 1),
]


def _interleaved(contestants: dict, seconds: float, at_least: int = 5) -> dict:
    """Best wall and CPU time of each contestant, calling them in turn, round after round.

    Interleaving makes a burst of load from elsewhere hit every contestant alike,
    so the ratios between them survive a shared machine better than the
    absolute times do.
    """
    best = {name: {"wall_ms": math.inf, "cpu_ms": math.inf, "runs": 0} for name in contestants}
    for fn in contestants.values():
        fn()  # warm-up: BLAS thread pools, torch's first-call dispatch, onnx session set-up
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < at_least or time.perf_counter() < deadline:
        for name, fn in contestants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            c1, w1 = time.process_time(), time.perf_counter()
            entry = best[name]
            entry["wall_ms"] = min(entry["wall_ms"], (w1 - w0) * 1e3)
            entry["cpu_ms"] = min(entry["cpu_ms"], (c1 - c0) * 1e3)
            entry["runs"] += 1
        rounds += 1
    return best


def _onnx_conv(rank: int):
    """An onnx.reference evaluator for one float64 Conv node with pads of 1, or None if onnx is absent."""
    try:
        from onnx import TensorProto, helper
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return None
    node = helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1] * (2 * rank))
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, None),
         helper.make_tensor_value_info("W", TensorProto.DOUBLE, None)],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, None)])
    evaluator = ReferenceEvaluator(helper.make_model(graph))
    return lambda x, w: evaluator.run(None, {"X": x, "W": w})[0]


def throughput(seconds: float, threads: int) -> list[dict]:
    import torch

    torch.set_num_threads(threads)
    functional = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}
    rng = np.random.default_rng(0)
    rows = []
    for label, x_shape, w_shape, padding in CONVS:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        rank = len(x_shape) - 2
        conv = functional[rank]
        x64, w64 = torch.from_numpy(x), torch.from_numpy(w)
        x32, w32 = x64.float(), w64.float()
        want = oracle.conv(x, w, padding=padding)
        got = conv(x64, w64, padding=padding).numpy()
        macs = math.prod(want.shape) * math.prod(w_shape[1:])
        # the GEMM every im2col-style conv ends in: (O, C·K) @ (C·K, N·P), a floor for the oracle
        gemm_a = rng.standard_normal((w_shape[0], math.prod(w_shape[1:])))
        gemm_b = rng.standard_normal((math.prod(w_shape[1:]), math.prod(want.shape) // w_shape[0]))
        contestants = {"oracle_f64": lambda: oracle.conv(x, w, padding=padding),
                       "torch_f64": lambda: conv(x64, w64, padding=padding),
                       "torch_f32": lambda: conv(x32, w32, padding=padding),
                       "numpy_gemm_f64": lambda: gemm_a @ gemm_b}
        row = {"conv": label, "gflop": 2 * macs / 1e9, "threads": threads,
               "max_abs_diff_vs_torch64": float(np.abs(got - want).max())}
        onnx_conv = _onnx_conv(rank)
        if onnx_conv is not None:
            row["max_abs_diff_vs_onnx"] = float(np.abs(onnx_conv(x, w) - want).max())
            contestants["onnx_reference_f64"] = lambda: onnx_conv(x, w)
        row.update(_interleaved(contestants, seconds))
        rows.append(row)
    return rows


def _peak(fn) -> int:
    """Bytes NumPy allocated at the peak of ``fn()`` above what was held before (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def memory() -> list[dict]:
    """Peak extra memory of one big conv, unchunked and under budgets, for both GEMM strategies."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((8, 64, 64, 64)), rng.standard_normal((64, 64, 3, 3))
    rows = []
    for stride in (1, 2):
        out = oracle.conv(x, w, padding=1, stride=stride)
        padded = x.shape[0] * x.shape[1] * math.prod(n + 2 for n in x.shape[2:]) * 8
        im2col = x.shape[0] * math.prod(w.shape[1:]) * math.prod(out.shape[2:]) * 8
        for name, budget in (("unlimited", 2**62), ("default 64 MiB", None), ("4 MiB", 4 * 2**20)):
            started = time.perf_counter()
            peak = _peak(lambda: oracle.conv(x, w, padding=1, stride=stride, budget_bytes=budget))
            seconds = time.perf_counter() - started
            rows.append({"conv": f"8×64×64²→64 3×3 stride {stride}", "budget": name,
                         "budget_bytes": oracle.IM2COL_BUDGET_BYTES if budget is None else budget,
                         "peak_bytes": peak, "output_bytes": out.nbytes, "extra_bytes": peak - out.nbytes,
                         "padded_input_bytes": padded, "full_im2col_bytes": im2col, "seconds": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="minimum timing time per conv")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set BLAS threads in the env)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    args = parser.parse_args()
    report = {"threads": args.threads, "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
              "throughput": throughput(args.seconds, args.threads)}
    if args.memory:
        report["memory"] = memory()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
