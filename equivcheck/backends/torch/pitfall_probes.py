"""PyTorch's porting-pitfall conventions: pool divisor, ceil_mode, padding modes, BatchNorm folding,
causal padding, separable convs (registered on import by :mod:`equivcheck.backends.torch.probes`).

Every value is decoded from what torch did on a probe input (a ones input for divisors, an arange
input for padding modes, output lengths over a grid for ceil_mode, folding along each kernel axis for
BatchNorm, parameter counts for separable convs); the "table" column is what the adapter does for the
same request (its pad-mode words, its defaults, its n/a sentences) or the layout table.
"""
from __future__ import annotations

import inspect
import math
import typing

import numpy as np

from equivcheck import layouts, oracle, tolerance
from equivcheck.backends.base import NotApplicable
from equivcheck.backends.torch import adapter as torch_adapter
from equivcheck.backends.torch import layers as torch_layers
from equivcheck.conventions import PAD_MODES, POOL_DIVISORS, describe_split
from equivcheck.report.decode import PROBE_DTYPE, error_text, same_split_from_output
from equivcheck.report import probe_common
from equivcheck.report.probes import Row, probe

FRAMEWORK = "torch"


def _np(env, tensor):
    return env["bk"].to_numpy(tensor)


def _close(got, want, magnitude, terms) -> bool:
    return tolerance.compare(got, want, magnitude=magnitude, terms=terms, dtype=PROBE_DTYPE).ok


# ---- pool_divisor: a ones input, so a window's average is (in-bounds count) / divisor -----------------
def _flag_key(flag: bool) -> str:
    """The POOL_DIVISORS name that equivcheck's vocabulary gives ``count_include_pad=flag``."""
    return next(key for key, text in POOL_DIVISORS.items() if f"count_include_pad={flag}" in text)


def divisor_of(value: float, candidates: dict[str, int], terms: int) -> str:
    """The candidate divisor d with value == in_bounds / d for a ones window (``candidates`` maps each
    name to its d; ``in_bounds`` is the ``'in_bounds'`` candidate), or the divisor torch used."""
    in_bounds = candidates["in_bounds"]
    for name, divisor in candidates.items():
        if _close([value], [in_bounds / divisor], [1.0], terms):
            return name
    return f"neither: divides by {in_bounds / value:.4g}"


def _corner_divisor(pool):
    """3×3, stride 1, padding 1 on a 4×4 ones map: the corner window holds 4 of 9 pixels in bounds."""
    def run(env):
        value = float(_np(env, pool(env, env["torch"].ones(1, 1, 4, 4)))[0, 0, 0, 0])
        name = divisor_of(value, {"window": 9, "in_bounds": 4}, 9)
        return name, f"corner window of a 3×3 pool, padding 1: {value:.4g} = 4 in-bounds ones / {4 / value:.4g}"
    return run


def _divisor_rows():
    adapter_default = _flag_key(inspect.signature(torch_adapter.TorchBackend.avg_pool)
                                .parameters["count_include_pad"].default)
    for api, make in (("torch.nn.functional.avg_pool2d",
                       lambda env, **kw: lambda x: env["F"].avg_pool2d(x, 3, 1, 1, **kw)),
                      ("torch.nn.AvgPool2d", lambda env, **kw: env["nn"].AvgPool2d(3, 1, 1, **kw))):
        for item, kwargs in (("default", {}), ("count_include_pad=True", {"count_include_pad": True}),
                             ("count_include_pad=False", {"count_include_pad": False})):
            decode = _corner_divisor(lambda env, x, make=make, kwargs=kwargs: make(env, **kwargs)(x))
            table = adapter_default if not kwargs else _flag_key(kwargs["count_include_pad"])

            def run(env, decode=decode, table=table):
                name, detail = decode(env)
                return Row("pool_divisor", "", FRAMEWORK, "", name, table, name == table,
                           f"{detail}; {POOL_DIVISORS.get(name, 'no conventions.POOL_DIVISORS name')}")
            _register_row("pool_divisor", item, api, run)


def _register_row(topic, item, api, run):
    def fill(env):
        row = run(env)
        row.topic, row.item, row.api = topic, item, api
        return row
    probe(FRAMEWORK, topic, item, api)(fill)


def _ceil_window_divisor(flag):
    # 1-D ones of length 6, k=3, s=2, p=1, ceil_mode: the 4th window starts at input element 6, spans it,
    # the right padding and one place beyond: 1 in bounds, 2 within input + padding, 3 in the window.
    def run(env):
        y = _np(env, env["F"].avg_pool1d(env["torch"].ones(1, 1, 6), 3, 2, 1, ceil_mode=True,
                                          count_include_pad=flag))[0, 0]
        name = divisor_of(float(y[-1]), {"window": 3, "in_bounds": 1, "clipped to input + padding": 2}, 3)
        return Row("pool_divisor", "", FRAMEWORK, "", name, None, None,
                   f"n=6, k=3, s=2, p=1: {len(y)} windows; the last averages 1 in-bounds one to {y[-1]:.4g}")
    return run


for _flag in (True, False):
    _register_row("pool_divisor", f"ceil_mode last window, count_include_pad={_flag}",
                  "torch.nn.functional.avg_pool1d", _ceil_window_divisor(_flag))
_divisor_rows()


# ---- ceil_mode: output lengths over a grid ------------------------------------------------------------
def ceil_output_size(n, k, s, p, d):
    """The oracle's pooled length with ceil_mode (PyTorch's and ONNX's rule)."""
    return oracle.pool_output_size(n, k, s, p, d, ceil_mode=True)


CEIL_RULE = ("oracle.pool_output_size(ceil_mode=True): ⌈(n+2p−d(k−1)−1)/s⌉+1, −1 if the last window starts "
             "in the right padding")
CEIL_GRID = [(n, k, s, p, d) for n in range(3, 10) for k in (2, 3, 4) for s in (1, 2, 3) for p in range(k // 2 + 1)
             for d in (1, 2) if n + 2 * p >= d * (k - 1) + 1]


def ceil_grid_row(length, dilations=(1, 2)) -> tuple:
    """``length(n, k, s, p, d)`` against the oracle's ceil_mode length over CEIL_GRID (value, table,
    agrees, detail)."""
    grid = [config for config in CEIL_GRID if config[4] in dilations]
    value, agrees, detail = probe_common.check_lengths(length, grid, ceil_output_size)
    return value, CEIL_RULE, agrees, detail


@probe(FRAMEWORK, "ceil_mode", "output size, ceil_mode=True", "torch.nn.functional.max_pool1d")
def _ceil_max(env):
    F, torch = env["F"], env["torch"]
    return ceil_grid_row(lambda n, k, s, p, d: F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil_mode=True).shape[-1])


@probe(FRAMEWORK, "ceil_mode", "output size, ceil_mode=True", "torch.nn.functional.avg_pool1d")
def _ceil_avg(env):
    F, torch = env["F"], env["torch"]
    return ceil_grid_row(lambda n, k, s, p, d: F.avg_pool1d(torch.zeros(1, 1, n), k, s, p, ceil_mode=True).shape[-1],
                         dilations=(1,))


@probe(FRAMEWORK, "ceil_mode", "last window starting in the right padding", "torch.nn.functional.max_pool1d")
def _ceil_drop(env):
    n, k, s, p = 5, 2, 2, 1  # ⌈(5+2−2)/2⌉+1 = 4 windows; the 4th would start at padded index 6, in the padding
    kept = -(-(n + 2 * p - k) // s) + 1
    got = env["F"].max_pool1d(env["torch"].zeros(1, 1, n), k, s, p, ceil_mode=True).shape[-1]
    value = {kept: "kept", kept - 1: "dropped"}.get(got, f"{got} windows")
    return value, None, None, f"n={n}, k={k}, s={s}, p={p}: {got} windows ({kept} if it were kept)"


# ---- pad_modes: which np.pad mode each native word reproduces ------------------------------------------
PAD_INPUT, PAD_WIDTH = np.arange(1.0, 7.0), (2, 2)  # 2 on each side tells reflect from symmetric


def numpy_modes_of(out) -> list[str]:
    """The PAD_MODES names whose np.pad of PAD_INPUT by PAD_WIDTH is ``out``, exactly."""
    return [mode for mode in PAD_MODES if np.array_equal(np.pad(PAD_INPUT, PAD_WIDTH, mode=mode), np.ravel(out))]


def _words_by_mode(pad, words):
    """NumPy mode → the native words whose output equals it (words torch rejects are left out)."""
    found, rejected = {mode: [] for mode in PAD_MODES}, {}
    for word in words:
        try:
            out = pad(word)
        except Exception as exc:
            rejected[word] = error_text(exc)
            continue
        for mode in numpy_modes_of(out):
            found[mode].append(word)
    return found, rejected


def _conv_mode_words(nn):
    annotation = inspect.signature(nn.Conv1d.__init__).parameters["padding_mode"].annotation
    return list(typing.get_args(annotation)) or list(torch_layers.CONV_PADDING_MODES.values())


def _pad_mode_rows(api, adapter_words, pad_of, words_of):
    for mode in PAD_MODES:
        def run(env, mode=mode):
            words = sorted(set(words_of(env)) | set(adapter_words.values()) | set(PAD_MODES))
            found, rejected = _words_by_mode(lambda word: pad_of(env, word), words)
            value = ", ".join(repr(w) for w in found[mode]) or "no native word"
            table = repr(adapter_words[mode]) if mode in adapter_words else "no native word"
            detail = f"{PAD_MODES[mode]}; words tried: {', '.join(words)}; rejected: {', '.join(rejected) or 'none'}"
            return Row("pad_modes", "", FRAMEWORK, "", value, table, value == table, detail)
        _register_row("pad_modes", mode, api, run)


def _f_pad(env, word):
    x = env["torch"].tensor(PAD_INPUT, dtype=env["torch"].float32).reshape(1, 1, -1)
    return _np(env, env["F"].pad(x, PAD_WIDTH, mode=word))


def _conv_pad(env, word):
    # a 1-tap unit kernel and no bias: the output is the padded input itself
    layer = env["nn"].Conv1d(1, 1, 1, padding=PAD_WIDTH[0], padding_mode=word, bias=False)
    layer.load_state_dict({"weight": env["torch"].ones(1, 1, 1)})
    x = env["torch"].tensor(PAD_INPUT, dtype=env["torch"].float32).reshape(1, 1, -1)
    with env["torch"].no_grad():
        return _np(env, layer(x))


_pad_mode_rows("torch.nn.functional.pad", torch_adapter.PAD_WORDS, _f_pad, lambda env: [])
_pad_mode_rows("torch.nn.Conv1d(padding_mode=…)", torch_layers.CONV_PADDING_MODES, _conv_pad,
               lambda env: _conv_mode_words(env["nn"]))


# ---- bn_fold: fold an eval BatchNorm's scale along each kernel axis of the channel count --------------
def _fold_axes(env, kind):
    torch, nn, F = env["torch"], env["nn"], env["F"]
    channels, k, stride = 4, (2, 3), 2 if kind == "conv_transpose" else 1
    rng = np.random.default_rng(36)
    make = nn.ConvTranspose2d if kind == "conv_transpose" else nn.Conv2d
    conv = make(channels, channels, k, stride=stride)
    bn = nn.BatchNorm2d(channels).eval()
    stats = {"running_mean": rng.uniform(-1, 1, channels), "running_var": rng.uniform(0.5, 2, channels),
             "weight": rng.uniform(0.5, 2, channels), "bias": rng.uniform(-1, 1, channels)}
    bn.load_state_dict({**bn.state_dict(), **{name: torch.tensor(v, dtype=torch.float32) for name, v in stats.items()}})
    x = rng.uniform(-1, 1, (1, channels, 5, 6))
    with torch.no_grad():
        reference = _np(env, bn(conv(torch.tensor(x, dtype=torch.float32))))
    scale = stats["weight"] / np.sqrt(stats["running_var"] + bn.eps)
    w, b = _np(env, conv.weight), _np(env, conv.bias)
    native = layouts.kernel_layout("torch", kind, 2, api="nn")
    op = oracle.conv_transpose if kind == "conv_transpose" else oracle.conv
    fn = F.conv_transpose2d if kind == "conv_transpose" else F.conv2d
    column = (-1, 1, 1)
    outcome = {}
    for axis in (a for a in range(w.ndim) if w.shape[a] == channels):
        shape = [1] * w.ndim
        shape[axis] = channels
        folded_w, folded_b = w * scale.reshape(shape), (b - stats["running_mean"]) * scale + stats["bias"]
        with torch.no_grad():
            got = _np(env, fn(torch.tensor(x, dtype=torch.float32), torch.tensor(folded_w, dtype=torch.float32),
                              torch.tensor(folded_b, dtype=torch.float32), stride=stride))
        canonical_w = layouts.convert(np.abs(folded_w), native, layouts.canonical(kind, 2))
        magnitude = (op(np.abs(x), canonical_w, stride=stride)
                     + ((np.abs(b) + np.abs(stats["running_mean"])) * scale + np.abs(stats["bias"])).reshape(column))
        terms = math.prod(w.shape[1:]) + 3  # the conv's products, its bias, BN's shift and offset
        outcome[axis] = (_close(got, reference, magnitude, terms), float(np.abs(got - reference).max()))
    return outcome, native


def _bn_fold(kind):
    return probe_common.bn_fold_probe(FRAMEWORK, _fold_axes, kind)


_register_row("bn_fold", "conv2d + BatchNorm2d (eval)", "torch.nn.Conv2d", _bn_fold("conv"))
_register_row("bn_fold", "conv_transpose2d + BatchNorm2d (eval)", "torch.nn.ConvTranspose2d",
              _bn_fold("conv_transpose"))


# ---- causal ------------------------------------------------------------------------------------------
def _adapter_answer(build) -> str:
    try:
        build()
    except NotApplicable as exc:
        return f"n/a: {exc}"
    except Exception as exc:
        return f"raises {error_text(exc)}"
    return "offered"


def _causal(api, call, adapter_build):
    def run(env):
        n, k = 8, 3
        weight = np.zeros((1, 1, k), np.float32)
        weight[..., 0] = 1  # first tap: y[t] = x[t − before]
        try:
            out = call(env, env["torch"].arange(1.0, n + 1).reshape(1, 1, n), env["torch"].tensor(weight))
        except Exception as exc:
            value, detail = "not offered", error_text(exc)
        else:
            value, detail = describe_split(*same_split_from_output(_np(env, out)[0, 0], n, k, 1)), f"k={k}, d=1"
        table = None if adapter_build is None else _adapter_answer(lambda: adapter_build(env["bk"]))
        agrees = None if table is None else (value == "not offered") == table.startswith("n/a")
        return Row("causal", "", FRAMEWORK, "", value, table, agrees, detail)
    _register_row("causal", "padding='causal'", api, run)


def _causal_layer(env, x, weight):
    layer = env["nn"].Conv1d(1, 1, weight.shape[-1], padding="causal", bias=False)
    layer.load_state_dict({"weight": weight})
    with env["torch"].no_grad():
        return layer(x)


_causal("torch.nn.Conv1d", _causal_layer,
        lambda bk: bk.layer("conv", rank=1, in_channels=1, out_channels=1, kernel_size=3, padding="causal"))
_causal("torch.nn.functional.conv1d", lambda env, x, w: env["F"].conv1d(x, w, padding="causal"), None)


# ---- separable ---------------------------------------------------------------------------------------
@probe(FRAMEWORK, "separable", "separable conv layer", "torch.nn")
def _separable_layer(env):
    found = sorted(name for name in dir(env["nn"]) if "separable" in name.lower())
    value = ", ".join(found) or "no separable conv layer"
    table = _adapter_answer(lambda: env["bk"].layer("separable", rank=2, in_channels=2, out_channels=5, kernel_size=3))
    return value, table, (not found) == table.startswith("n/a"), f"names in torch.nn containing 'separable': {found}"


def _composed(depthwise_bias):
    def run(env):
        nn, (k, c, m, o) = env["nn"], (3, 2, 3, 5)
        depthwise = nn.Conv2d(c, c * m, k, groups=c, bias=depthwise_bias)
        pointwise = nn.Conv2d(c * m, o, 1)
        params = [p for module in (depthwise, pointwise) for p in module.parameters()]
        biases = sum(name.endswith("bias") for module in (depthwise, pointwise)
                     for name, _ in module.named_parameters())
        one_bias = k * k * c * m + c * m * o + o
        count = f"{sum(p.numel() for p in params)} parameters, {biases} bias{'es' if biases != 1 else ''}"
        return Row("separable", "", FRAMEWORK, "", count,
                   detail=f"k={k}, C={c}, M={m}, O={o}; k²·C·M + C·M·O + O (one bias) = {one_bias}")
    return run


_register_row("separable", "depthwise Conv2d(groups=C) + 1×1 Conv2d, torch defaults", "torch.nn.Conv2d",
              _composed(True))
_register_row("separable", "depthwise Conv2d(groups=C, bias=False) + 1×1 Conv2d", "torch.nn.Conv2d",
              _composed(False))
