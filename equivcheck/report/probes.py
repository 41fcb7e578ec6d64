"""Conventions probed live from the installed frameworks.

Design rules
- Nothing here is typed in: every value is read off a native op or layer
  called on a probe input and decoded (a one-hot impulse for the SAME split,
  an ``arange`` input for patch, flatten, pixel-shuffle and argmax orders,
  layers built with distinct I/O/k sizes for kernel layouts, a search over
  axis orders against the float64 oracle for functional ops).
- Next to each probed value sits what :mod:`equivcheck.layouts` (the table
  the adapters convert through) or the adapter says, and whether the two
  agree, so the report can never silently disagree with the code.
- Each framework is probed in its own child process
  (``python -m equivcheck.report.probes <framework>``): a probe that aborts
  the process (TF's oneDNN ``Check failed`` on an unbatched input does) is
  recorded as such and the child is restarted past it.  The child imports
  only its own framework.
- Output is deterministic for a given set of installed versions (names are
  fixed, error messages scrubbed of addresses and timestamps, rows sorted).

>>> Row("kernel_layout", "conv2d", "torch", "torch.nn.Conv2d", "OIHW").key
('kernel_layout', 'conv2d', 'torch', 'torch.nn.Conv2d')
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from equivcheck import layouts

#: Topics in report order: id → (title, what a porter learns from it).
TOPICS = {
    "data_layout": ("Default data layout", "axis order of activations an op or layer expects when no data_format/dimension_numbers is given; found by running it on every candidate order and matching the float64 oracle"),
    "kernel_layout": ("Kernel layout", "native kernel axis order: layers are built with distinct sizes (O=5, I=3, k=2,4,6) and their kernel shape decoded; functional ops are searched over axis orders against the oracle. Letters: O out, I in (per group), C channels, M depth multiplier, D/H/W spatial"),
    "same_padding": ("'SAME' padding split", "where 'same' puts the padding, decoded from a 1-D conv with a first-tap one-hot kernel on 1..n; the odd pixel goes at the end when after > before"),
    "strided_same": ("Strided 'same'", "whether padding='same' is accepted with stride 2"),
    "default_padding": ("Default padding", "padding used when none is given, read from the signature/attribute and checked by the output size of an 8×9 input with a 3×3 kernel"),
    "output_size": ("Output-size formula", "out = floor((n + p_before + p_after - d(k-1) - 1)/s) + 1 (explicit), ceil(n/s) ('same'), checked over a grid of n, k, s, p, d"),
    "output_padding": ("Transposed-conv output size choice", "stride 2, k=3, input 3: a conv maps both 7 and 8 to 3; how the transposed conv picks 7 or 8"),
    "pixel_shuffle": ("Pixel-shuffle order", "CRD: channel c·r² + i·r + j goes to (c, h·r+i, w·r+j) (PyTorch pixel_shuffle); DCR: channel (i·r + j)·C + c (TF depth_to_space)"),
    "patch_order": ("Patch-extraction feature order", "order of the features of one extracted patch (channel-major C,kh,kw or kh,kw,C), from an arange input"),
    "flatten_order": ("Flatten order", "which axis varies fastest when the framework's usual flatten follows a conv, from an arange feature map"),
    "argmax": ("Max-pool argmax index", "what the indices returned with a max-pool count, from pooling an arange input"),
    "unbatched": ("Unbatched input", "whether a conv accepts (C, *spatial) without a batch axis, with the framework's own error"),
    "precision": ("float32 precision defaults", "TF32, oneDNN and matmul-precision settings as the framework reports them in this process"),
}

DIM_SIZES = {"N": 2, "O": 5, "I": 3}
KERNEL_SPATIAL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}
DATA_SPATIAL = {1: (9,), 2: (7, 9), 3: (7, 8, 9)}


@dataclass
class Row:
    """One probed convention: a value, the table's claim, and whether they agree."""

    topic: str
    item: str
    framework: str
    api: str
    value: str
    table: str | None = None
    agrees: bool | None = None
    detail: str = ""
    data: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return (self.topic, self.item, self.framework, self.api)

    def to_dict(self) -> dict:
        return {"kind": "probe", **asdict(self)}

    @classmethod
    def from_dict(cls, record: dict) -> "Row":
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record})


# ---------------------------------------------------------------------------
# registry of probes: one function per row, registered per framework
# ---------------------------------------------------------------------------
@dataclass
class ProbeSpec:
    framework: str
    topic: str
    item: str
    api: str
    fn: Callable

    @property
    def id(self) -> str:
        return f"{self.topic}|{self.item}|{self.api}"


REGISTRY: dict[str, list[ProbeSpec]] = {}


def register(framework: str, topic: str, item: str, api: str, fn: Callable) -> None:
    """Register ``fn(env) -> Row | tuple`` as the probe of one row."""
    REGISTRY.setdefault(framework, []).append(ProbeSpec(framework, topic, item, api, fn))


def probe(framework: str, topic: str, item: str, api: str):
    """Decorator form of :func:`register`."""
    def decorate(fn):
        register(framework, topic, item, api, fn)
        return fn
    return decorate


# ---------------------------------------------------------------------------
# decoding helpers shared by the framework modules
# ---------------------------------------------------------------------------
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_LOGPREFIX = re.compile(r"^[FEWI]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")


def scrub(message: str, limit: int = 240) -> str:
    """First meaningful line of an error message, without addresses, log prefixes or object ids.

    >>> scrub("F0000 00:00:1795.38  16328 tensor_format.h:428] Check failed: index >= 0")
    'Check failed: index >= 0'
    """
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = _LOGPREFIX.sub("", text)
    text = _ADDRESS.sub("0x…", text)
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {scrub(str(exc))}"


def decode_shape(shape, sizes: dict[str, int]) -> str:
    """Axis letters of ``shape`` given the distinct size of each letter.

    >>> decode_shape((2, 4, 3, 5), {"O": 5, "I": 3, "H": 2, "W": 4})
    'HWIO'
    """
    by_size = {v: k for k, v in sizes.items()}
    if len(by_size) != len(sizes):
        raise ValueError(f"sizes must be distinct to decode a shape: {sizes}")
    return "".join(by_size.get(int(s), "?") for s in shape)


GROUPS = 2


def canonical_sizes(op: str, rank: int) -> dict[str, int]:
    """Distinct per-letter sizes of a probe kernel (O=5, I=3, spatial 2,4,6)."""
    letters = layouts.canonical(op if op != "grouped" else "conv", rank)
    spatial = dict(zip(layouts.SPATIAL[rank], KERNEL_SPATIAL[rank]))
    sizes = {"O": DIM_SIZES["O"], "I": DIM_SIZES["I"], "C": 3, "M": 5, **spatial}
    if op == "grouped":
        sizes.update(O=GROUPS * 3, I=3)  # I is in-channels per group; O=6 with 2 groups
    return {letter: sizes[letter] for letter in letters}


def integer_array(shape, seed: int) -> np.ndarray:
    """Small integers (exact in float32 sums) of ``shape``."""
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(np.float32)


def layout_candidates(canonical: str, rank: int):
    """Axis orders to try: spatial letters kept in canonical order first, then all others."""
    spatial = layouts.SPATIAL[rank]
    ordered, rest = [], []
    for perm in itertools.permutations(canonical):
        text = "".join(perm)
        (ordered if "".join(c for c in text if c in spatial) == spatial else rest).append(text)
    return ordered, rest


def search_layout(call, x, w, want, *, rank: int, kernel_canonical: str, data_candidates=None,
                  flips=(False,), errors: dict | None = None) -> list[tuple[str, str, bool]]:
    """Find (data layout, kernel layout, flipped) under which ``call`` computes ``want``.

    ``call(x_native, w_native, data_layout)`` runs the framework op and returns a
    NumPy array in ``data_layout``; ``x``/``w``/``want`` are canonical (NC*, OI*).
    Spatially reordered kernels are tried only when no order keeping D,H,W works.
    ``errors`` (if given) collects the framework's error per (data, kernel) layout tried.
    """
    data_candidates = data_candidates or [layouts.expand("NC*", rank), layouts.expand("N*C", rank)]
    canonical_data = layouts.expand("NC*", rank)
    ordered, rest = layout_candidates(kernel_canonical, rank)
    found = []
    for candidates in (ordered, rest):
        for data_layout, kernel_layout, flip in itertools.product(data_candidates, candidates, flips):
            kernel = np.flip(w, axis=tuple(range(2, w.ndim))) if flip else w
            try:
                out = call(layouts.convert(x, canonical_data, data_layout),
                           np.ascontiguousarray(layouts.convert(kernel, kernel_canonical, kernel_layout)),
                           data_layout)
                out = layouts.convert(np.asarray(out, dtype=np.float64), data_layout, canonical_data)
            except Exception as exc:
                if errors is not None:
                    errors[(data_layout, kernel_layout)] = error_text(exc)
                continue
            if out.shape == want.shape and np.allclose(out, want, atol=1e-3):
                found.append((data_layout, kernel_layout, flip))
        if found:
            break
    return found


def same_split_from_output(y, n: int, k: int, stride: int) -> tuple[int, int]:
    """(before, after) padding from a 1-D 'same' conv of 1..n with kernel e_0 (first tap).

    y[i] = x[i·s − before] (1-based values, 0 where it reads padding).

    >>> same_split_from_output([2, 4, 6, 8], n=8, k=3, stride=2)
    (0, 1)
    """
    y = [int(round(float(v))) for v in np.ravel(y)]
    out = len(y)
    total = max((out - 1) * stride + k - n, 0)
    for i, value in enumerate(y):
        if value:
            before = i * stride + 1 - value
            return before, total - before
    raise ValueError(f"every output read padding: {y}")


SAME_CASES = (  # (n, k, stride): odd totals show where the extra pixel goes
    (8, 2, 1),
    (8, 4, 1),
    (8, 3, 2),
    (7, 3, 2),
)


def same_item(n, k, s) -> str:
    return f"n={n} k={k} s={s}"


def describe_split(before: int, after: int) -> str:
    if before == after:
        return f"{before}+{after} (symmetric)"
    return f"{before}+{after} ({'extra at end' if after > before else 'extra at start'})"


def order_name(sequence, names) -> str:
    """Name the lexicographic axis order of a sequence of index tuples (slowest axis first).

    >>> order_name([(0, 0, 0), (0, 0, 1), (1, 0, 0)], ("C", "kh", "kw"))
    'C,kh,kw'
    >>> order_name([(0, 0, 0), (1, 0, 0), (0, 0, 1)], ("C", "kh", "kw"))
    'kh,kw,C'
    """
    sequence = [tuple(s) for s in sequence]
    for perm in itertools.permutations(range(len(names))):
        if sorted(sequence, key=lambda t: tuple(t[p] for p in perm)) == sequence:
            return ",".join(names[p] for p in perm)
    return "irregular"


def pixel_shuffle_order(mapping, channels_out: int, r: int) -> str:
    """'CRD' or 'DCR' from ``mapping[c][y][x]`` = input channel landing at output (c, y, x)."""
    crd = dcr = True
    for c in range(channels_out):
        for i in range(r):
            for j in range(r):
                got = int(round(float(mapping[c][i][j])))
                crd &= got == c * r * r + i * r + j
                dcr &= got == (i * r + j) * channels_out + c
    return "CRD" if crd else "DCR" if dcr else "other"


def unshuffle_order(values, channels_out: int, r: int) -> str:
    """Order of a space → depth op from its output channels on an arange (1, C, r, r) input.

    >>> unshuffle_order([0, 1, 2, 3, 4, 5, 6, 7], 2, 2)
    'CRD'
    """
    mapping = np.zeros((channels_out, r, r), dtype=int)
    for channel, value in enumerate(np.ravel(values)):
        c, i, j = np.unravel_index(int(round(float(value))), (channels_out, r, r))
        mapping[c, i, j] = channel
    return pixel_shuffle_order(mapping, channels_out, r)


def table_kernel(framework: str, op: str, rank: int, api: str) -> str | None:
    try:
        return layouts.kernel_layout(framework, op, rank, api=api)
    except layouts.LayoutError:
        return None


def compare_layout(probed: str | None, table: str | None) -> bool | None:
    if probed is None or table is None:
        return None
    return probed == table


# ---------------------------------------------------------------------------
# running probes: a child process per framework, streaming one JSON line per row
# ---------------------------------------------------------------------------
FRAMEWORK_MODULES = {
    "numpy": "equivcheck.report.probe_numpy",
    "torch": "equivcheck.report.probe_torch",
    "tensorflow": "equivcheck.report.probe_tensorflow",
    "jax": "equivcheck.report.probe_jax",
    "flax": "equivcheck.report.probe_jax",
}
#: Importable modules each framework's probes need (cheap find_spec check).
NEEDS = {"numpy": ("numpy",), "torch": ("torch",), "tensorflow": ("tensorflow", "keras"),
         "jax": ("jax",), "flax": ("jax", "flax")}


def installed(framework: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in NEEDS[framework])


def _child(framework: str, skip: set[str], device: str, module_name: str | None = None,
           allow_tf32: bool = False) -> int:
    """Run in the child process: probe rows of ``framework``, one JSON line each."""
    import importlib

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    module = importlib.import_module(module_name or FRAMEWORK_MODULES[framework])
    env = module.setup(framework, device)
    out = sys.stdout
    for spec in REGISTRY.get(framework, []):
        if spec.id in skip:
            continue
        print(json.dumps({"start": spec.id}), file=out, flush=True)
        try:
            result = spec.fn(env)
        except Exception as exc:  # a probe that fails records why; the others go on
            result = Row(spec.topic, spec.item, framework, spec.api, f"probe failed: {error_text(exc)}")
        if not isinstance(result, Row):
            value, *rest = result if isinstance(result, tuple) else (result,)
            result = Row(spec.topic, spec.item, framework, spec.api, str(value), *rest)
        print(json.dumps({"row": result.to_dict()}, default=str), file=out, flush=True)
    if "adapter-settings" not in skip:
        print(json.dumps({"start": "adapter-settings"}), file=out, flush=True)
        for row in adapter_settings(framework, device, allow_tf32):
            print(json.dumps({"row": row.to_dict()}, default=str), file=out, flush=True)
    print(json.dumps({"done": True}), file=out, flush=True)
    return 0


#: numeric_settings() keys that describe the machine or the run, not the framework's precision state.
MACHINE_KEYS = ("num_threads", "devices", "device_name", "cudnn.version", "compilation_cache")


def adapter_settings(framework: str, device: str, allow_tf32: bool) -> list[Row]:
    """The precision state claims run under: the adapter's ``numeric_settings()`` after it applied
    ``--device``/``--allow-tf32`` (on a GPU, TF32 off unless allowed)."""
    from equivcheck import backends

    if framework not in backends.FRAMEWORKS:
        return []
    item_prefix = f"as claims run ({device}{', TF32 allowed' if allow_tf32 else ''})"
    api = f"equivcheck.backends.{framework}.numeric_settings()"
    try:
        settings = backends.load(framework, "float32", device, allow_tf32).numeric_settings()
    except Exception as exc:  # an adapter that cannot load here: say why
        return [Row("precision", item_prefix, framework, api, f"unavailable: {error_text(exc)}")]
    return [Row("precision", f"{item_prefix}: {key}", framework, api, str(value))
            for key, value in sorted(settings.items()) if not any(m in key for m in MACHINE_KEYS)]


def _crash_row(framework: str, probe_id: str, stderr: str, returncode: int) -> Row:
    topic, item, api = probe_id.split("|") if probe_id.count("|") == 2 else ("precision", probe_id, framework)
    lines = [scrub(line[line.index("Check failed"):] if "Check failed" in line else line)
             for line in stderr.splitlines() if "Check failed" in line or "Error" in line]
    why = lines[0] if lines else f"exit status {returncode}"
    return Row(topic, item, framework, api, "aborts the process",
               detail=f"the Python process died (status {returncode}): {why}")


def run_framework(framework: str, device: str = "cpu", timeout: float = 900, module: str | None = None,
                  allow_tf32: bool = False) -> list[Row]:
    """All probe rows of ``framework``, each from a child process (restarted past any crash).

    ``module`` names the module registering the probes (default: :data:`FRAMEWORK_MODULES`).
    """
    rows: list[Row] = []
    skip: set[str] = set()
    for _attempt in range(20):
        command = [sys.executable, "-m", "equivcheck.report.probes", framework, "--device", device]
        if module:
            command += ["--module", module]
        if allow_tf32:
            command.append("--allow-tf32")
        if skip:
            command += ["--skip", json.dumps(sorted(skip))]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"})
        started, done = None, False
        for line in proc.stdout.splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # a framework printed to stdout
            if "start" in message:
                started = message["start"]
            elif "row" in message:
                rows.append(Row.from_dict(message["row"]))
                skip.add(started)
                started = None
            elif message.get("done"):
                done = True
        if done:
            break
        if started is None:  # died before any probe: the framework does not import
            rows.append(Row("precision", "import", framework, framework,
                            f"cannot probe: {scrub(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode)}"))
            break
        rows.append(_crash_row(framework, started, proc.stderr, proc.returncode))
        skip.add(started)
    return rows


def probe_all(frameworks=None, device: str = "cpu", jobs: int = 2, allow_tf32: bool = False) -> list[Row]:
    """Probe rows for every installed framework in ``frameworks`` (default: all), sorted."""
    from equivcheck import backends

    wanted = [f for f in (frameworks or backends.FRAMEWORKS) if installed(f)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        # the slowest (tensorflow) first, so the other core takes the rest meanwhile
        order = sorted(wanted, key=lambda f: f != "tensorflow")
        results = list(pool.map(lambda f: run_framework(f, device, allow_tf32=allow_tf32), order))
    rows = [row for group in results for row in group]
    return sort_rows(rows)


def sort_rows(rows: list[Row]) -> list[Row]:
    from equivcheck import backends

    topic_order = {t: i for i, t in enumerate(TOPICS)}
    framework_order = {f: i for i, f in enumerate(backends.FRAMEWORKS)}
    return sorted(rows, key=lambda r: (topic_order.get(r.topic, 99), _item_key(r.item),
                                       framework_order.get(r.framework, 99), r.api))


def _item_key(item: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", item)]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m equivcheck.report.probes",
                                     description="Probe one framework's conventions (child process of "
                                                 "'equivcheck report'); prints JSON lines.")
    parser.add_argument("framework")
    parser.add_argument("--module", help="module registering the probes (default: the framework's own)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--skip", default="[]", help="JSON list of probe ids already done")
    parser.add_argument("--allow-tf32", action="store_true")
    args = parser.parse_args(argv)
    # Run as __main__, this module is not the one the framework modules register into.
    from equivcheck.report import probes as registered

    return registered._child(args.framework, set(json.loads(args.skip)), args.device, args.module,
                             args.allow_tf32)


if __name__ == "__main__":
    sys.exit(main())
