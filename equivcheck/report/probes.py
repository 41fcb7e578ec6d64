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
- Each framework's probes live in its folder (``equivcheck/backends/<name>/probes.py``, named by
  the registry :data:`equivcheck.backends.ENGINES`) and get native arrays, layers and framework
  modules from its adapter (``env["bk"]``), as claims do.
- They run in :mod:`equivcheck.worker` processes, one per framework, exactly as claims run: a
  probe that aborts the process (TF's oneDNN ``Check failed`` on an unbatched input does) is
  recorded as such and the worker is restarted past it.  A worker imports only its own framework.
- Output is deterministic for a given set of installed versions (names are
  fixed, error messages scrubbed of addresses and timestamps, rows sorted).

>>> Row("kernel_layout", "conv2d", "torch", "torch.nn.Conv2d", "OIHW").key
('kernel_layout', 'conv2d', 'torch', 'torch.nn.Conv2d')
"""
from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass, field
from typing import Callable

from equivcheck.report.decode import error_text, scrub

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
    "pool_divisor": ("Average-pool divisor", "what a padded average pool divides a border window by (conventions.POOL_DIVISORS), by default and with each count_include_pad the API offers, from pooling a ones input"),
    "ceil_mode": ("Pool ceil_mode rule", "output size with ceil_mode=True, and whether a last window starting in the right padding is dropped, over a grid of n, k, s, p"),
    "pad_modes": ("Padding-mode names", "each native padding-mode word and the NumPy mode (conventions.PAD_MODES) its output equals, from padding an arange input"),
    "bn_fold": ("BatchNorm folding axis", "which kernel axis the inference BatchNorm scale multiplies when folded into a conv and a transposed conv, found by folding along each axis"),
    "causal": ("Causal padding", "whether a causal 1-D conv is offered, and the left padding it uses for kernel k and dilation d"),
    "separable": ("Separable conv parameters", "a separable conv layer's parameter count and number of biases, for k, C, M, O distinct"),
    "precision": ("float32 precision defaults", "TF32, oneDNN and matmul-precision settings as the framework reports them in this process"),
}

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
# running probes: the worker side (one framework per process) and the parent side
# ---------------------------------------------------------------------------
SETTINGS_ITEM = "adapter-settings"
#: Probes run in float32: the dtype of the worker items and of the adapter they get.
PROBE_DTYPE = "float32"


def probe_module(framework: str) -> str:
    """The module registering ``framework``'s probes (its folder's ``probes``)."""
    from equivcheck import backends

    return backends.ENGINES[framework].probes


def installed(framework: str) -> bool:
    """Whether ``framework``'s probes can run here (its modules are installed; nothing is imported)."""
    from equivcheck import backends

    return backends.installed(framework)


def _probe_env(framework: str, module):
    """What the probes of ``framework`` receive: ``module.setup(bk)`` with the framework's float32 CPU
    adapter (probes call native ops on the host whatever ``--device`` says; the device only shows in
    the adapter-settings rows), or with None for a framework outside the registry."""
    from equivcheck import backends

    bk = backends.load(framework, PROBE_DTYPE, "cpu") if framework in backends.ENGINES else None
    return module.setup(bk)


def run_items(job, emit) -> int:
    """Worker side (``job.kind == "probes"``): the probe rows of ``job.framework``, one result event each.

    ``job.items`` None means every registered probe plus the adapter settings: the worker emits the
    ``plan`` (their ids) before the first, so that the parent can restart it past a probe that kills
    the process."""
    from equivcheck import backends

    framework = job.framework
    if framework in backends.ENGINES:
        # The framework first, alone: its conventions as it has them by itself.  (The adapter then
        # imports what its registry line puts first, e.g. torch for TensorFlow, which on this build
        # turns TF's oneDNN off: the report records TF's own state, as it always has.)
        for requirement in backends.ENGINES[framework].requires:
            importlib.import_module(requirement)
    module = importlib.import_module(job.module or probe_module(framework))
    specs = {spec.id: spec for spec in REGISTRY.get(framework, [])}
    env = _probe_env(framework, module)  # a worker that dies before its plan: the framework does not load
    items = job.items
    if items is None:
        items = [[probe_id, PROBE_DTYPE] for probe_id in specs] + [[SETTINGS_ITEM, PROBE_DTYPE]]
        emit("plan", items=items)
    for probe_id, dtype in items:
        emit("start", claim=probe_id, framework=framework, dtype=dtype)
        if probe_id == SETTINGS_ITEM:
            rows = adapter_settings(framework, job.device, job.allow_tf32)
        else:
            rows = [_run_one(specs[probe_id], env)]
        emit("result", result={"claim": probe_id, "framework": framework, "rows": [row.to_dict() for row in rows]})
    return 0


def _run_one(spec: ProbeSpec, env) -> Row:
    try:
        result = spec.fn(env)
    except Exception as exc:  # a probe that fails records why; the others go on
        result = Row(spec.topic, spec.item, spec.framework, spec.api, f"probe failed: {error_text(exc)}")
    if not isinstance(result, Row):
        value, *rest = result if isinstance(result, tuple) else (result,)
        result = Row(spec.topic, spec.item, spec.framework, spec.api, str(value), *rest)
    return result


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


def _crash_row(framework: str, probe_id: str, stderr: str, returncode) -> Row:
    topic, item, api = probe_id.split("|") if probe_id.count("|") == 2 else ("precision", probe_id, framework)
    lines = [scrub(line[line.index("Check failed"):] if "Check failed" in line else line)
             for line in stderr.splitlines() if "Check failed" in line or "Error" in line]
    why = lines[0] if lines else f"exit status {returncode}"
    return Row(topic, item, framework, api, "aborts the process",
               detail=f"the Python process died (status {returncode}): {why}")


def _job(framework: str, device: str, allow_tf32: bool, module: str | None):
    from equivcheck.worker import Job

    return Job(framework, None, kind="probes", device=device, allow_tf32=allow_tf32, module=module)


def run_frameworks(frameworks, device: str = "cpu", jobs: int = 2, allow_tf32: bool = False,
                   module: str | None = None) -> dict[str, list[Row]]:
    """Probe rows per framework, each framework in its own worker (``jobs`` at a time).

    ``module`` names the module registering the probes (default: each framework's ``probes``)."""
    from equivcheck import worker

    rows: dict[str, list[Row]] = {framework: [] for framework in frameworks}

    def on_event(kind, payload):
        if kind == "result":
            rows[payload["framework"]].extend(Row.from_dict(row) for row in payload["rows"])
        elif kind == "crash":
            framework = payload["framework"]
            if payload["claim"] is None:  # died before any probe: the framework does not import
                lines = payload["stderr"].strip().splitlines()
                rows[framework].append(Row("precision", "import", framework, framework,
                                           f"cannot probe: {scrub(lines[-1] if lines else payload['returncode'])}"))
            else:
                rows[framework].append(_crash_row(framework, payload["claim"], payload["stderr"],
                                                  payload["returncode"]))

    worker.run_jobs([_job(framework, device, allow_tf32, module) for framework in frameworks], on_event,
                    parallel=max(1, jobs), env={"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"})
    return rows


def run_framework(framework: str, device: str = "cpu", module: str | None = None,
                  allow_tf32: bool = False) -> list[Row]:
    """All probe rows of ``framework`` (its worker restarted past any crash)."""
    return run_frameworks([framework], device, 1, allow_tf32, module)[framework]


def probe_all(frameworks=None, device: str = "cpu", jobs: int = 2, allow_tf32: bool = False) -> list[Row]:
    """Probe rows for every installed framework in ``frameworks`` (default: all), sorted."""
    from equivcheck import backends

    wanted = [f for f in (frameworks or backends.FRAMEWORKS) if installed(f)]
    # the slowest (tensorflow) first, so the other core takes the rest meanwhile
    order = sorted(wanted, key=lambda f: f != "tensorflow")
    results = run_frameworks(order, device, jobs, allow_tf32)
    return sort_rows([row for framework in order for row in results[framework]])


def sort_rows(rows: list[Row]) -> list[Row]:
    from equivcheck import backends

    topic_order = {t: i for i, t in enumerate(TOPICS)}
    framework_order = {f: i for i, f in enumerate(backends.FRAMEWORKS)}
    return sorted(rows, key=lambda r: (topic_order.get(r.topic, 99), _item_key(r.item),
                                       framework_order.get(r.framework, 99), r.api))


def _item_key(item: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", item)]
