"""The porting-pitfall conventions of JAX (pool divisor, ceil_mode, pad modes, BN folding, causal padding,
separable conv), and the decoders Flax's rows share (Flax runs on JAX).

Every value is decoded from what the framework returns: a pool of ones against the two divisor rules of
:data:`equivcheck.conventions.POOL_DIVISORS`, a padded ``arange`` against NumPy's modes
(:data:`~equivcheck.conventions.PAD_MODES`), a first-tap conv for causal padding, a BN scale folded
along each kernel axis.  Arrays cross through the adapter (``bk.asarray``, ``bk.to_native``,
``bk.to_numpy``); computed values are compared through :mod:`equivcheck.tolerance`.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from equivcheck import layouts, oracle, tolerance
from equivcheck.conventions import PAD_MODES, POOL_DIVISORS
from equivcheck.report.decode import PROBE_DTYPE, error_text
from equivcheck.report.probes import Row, probe

#: the average-pool probe: a ones map, 3×3 windows at stride 1
POOL_SHAPE, POOL_KERNEL = (1, 1, 5, 5), (3, 3)


def _t(env, array):
    return env["bk"].asarray(array)


def _np(env, tensor):
    return env["bk"].to_numpy(tensor)


def _native(env, array):
    """A NumPy canonical array as the adapter's native tensor."""
    return env["bk"].to_native(_t(env, array))


def _canonical(env, tensor):
    return _np(env, env["bk"].from_native(tensor))


# ---- pool divisor ----------------------------------------------------------------------------------
def pool_pads(padding):
    """Explicit pads of the probe's pool: 1 → (1, 1) per dim, 'SAME' → the TF rule at stride 1."""
    if padding == "SAME":
        return [oracle.same_padding(n, k) for n, k in zip(POOL_SHAPE[2:], POOL_KERNEL)]
    return [(padding, padding)] * len(POOL_KERNEL)


def divisor_from(out, padding) -> str:
    """Which :data:`POOL_DIVISORS` rule a pool of ones produced (canonical ``out``): 'window' gives the
    zero-padded window average, 'in_bounds' 1 everywhere."""
    ones = np.ones(POOL_SHAPE)
    candidates = {"window": oracle.avg_pool(ones, POOL_KERNEL, 1, pool_pads(padding)), "in_bounds": np.ones_like(out)}
    found = [name for name, want in candidates.items()
             if tolerance.compare(out, want, magnitude=np.ones_like(want), terms=math.prod(POOL_KERNEL) + 1,
                                  dtype=PROBE_DTYPE).ok]
    if not found:
        corner = float(np.ravel(out)[0])
        return f"neither rule (a corner of ones averages to {corner:.4g})"
    return " or ".join(found)


def divisor_row(framework, api, item, pooled, adapter_pooled) -> Row:
    """A pool_divisor row: ``pooled()`` the native pool of ones (canonical NumPy), ``adapter_pooled()``
    the adapter's own ``avg_pool`` asked for the same (None: the adapter has no such setting)."""
    padding = "SAME" if "'SAME'" in item else 1
    value = divisor_from(pooled(), padding)
    table = None if adapter_pooled is None else divisor_from(adapter_pooled(), padding)
    return Row("pool_divisor", item, framework, api, value, None if table is None else f"adapter: {table}",
               None if table is None else table == value, detail=POOL_DIVISORS.get(value, ""))


@probe("jax", "pool_divisor", "3×3, 'SAME' (default)", "jax.example_libraries.stax.AvgPool")
def _stax_divisor(env):
    from jax.example_libraries import stax

    spec = layouts.data_layout("jax", len(POOL_KERNEL))
    _, apply = stax.AvgPool(POOL_KERNEL, (1, 1), "SAME", spec=spec)
    return divisor_row("jax", "jax.example_libraries.stax.AvgPool", "3×3, 'SAME' (default)",
                       lambda: _canonical(env, apply((), _native(env, np.ones(POOL_SHAPE)))), None)


@probe("jax", "pool_divisor", "average-pool op", "jax.lax")
def _lax_has_no_avg_pool(env):
    names = sorted(n for n in dir(env["lax"]) if "avg" in n.lower() or "pool" in n.lower())
    if names:
        return f"lax offers {', '.join(names)}"
    return Row("pool_divisor", "average-pool op", "jax", "jax.lax", "none: lax.reduce_window sums, the caller divides",
               detail="equivcheck's jax avg_pool divides by prod(kernel) (count_include_pad=True) or by a "
                      "reduce_window of ones (count_include_pad=False)")


# ---- ceil_mode -------------------------------------------------------------------------------------
#: (n, k, s, p) where the ceil rule gives one more output than floor for some of them
CEIL_GRID = [(n, k, s, p) for n in range(4, 10) for k in (2, 3) for s in (2, 3) for p in (0, 1) if p <= k // 2]


def ceil_mode_row(framework, api, fn, pool_len, adapter_call) -> Row:
    """Whether ``fn`` has a ceil_mode parameter, and the output-size rule ``pool_len(n, k, s, p)`` follows
    over :data:`CEIL_GRID` (floor: ``oracle.conv_output_size``)."""
    has = "ceil_mode" in inspect.signature(fn).parameters
    floor = sum(pool_len(n, k, s, p) == oracle.conv_output_size(n, k, s, p) for n, k, s, p in CEIL_GRID)
    rule = "floor rule" if floor == len(CEIL_GRID) else f"floor on {floor} of {len(CEIL_GRID)} sizes"
    value = f"{'ceil_mode parameter' if has else 'no ceil_mode parameter'}; output size: {rule}"
    try:
        adapter_call()
        adapter = "the adapter runs ceil_mode=True"
    except Exception as exc:  # the adapter's NotApplicable sentence
        adapter = f"adapter: {error_text(exc)}"
    return Row("ceil_mode", "max/avg pool", framework, api, value, detail=f"over {len(CEIL_GRID)} (n, k, s, p); {adapter}")


@probe("jax", "ceil_mode", "max/avg pool", "jax.lax.reduce_window")
def _lax_ceil_mode(env):
    lax = env["lax"]

    def pool_len(n, k, s, p):
        return lax.reduce_window(_t(env, np.zeros(n)), 0.0, lax.add, (k,), (s,), [(p, p)]).shape[0]
    return ceil_mode_row("jax", "jax.lax.reduce_window", lax.reduce_window, pool_len,
                         lambda: env["bk"].max_pool(_t(env, np.zeros((1, 1, 5))), 2, 2, 0, ceil_mode=True))


# ---- padding modes ---------------------------------------------------------------------------------
PAD_X = np.arange(1.0, 7.0)  # 1..6


def pad_mode_from(padded, x=PAD_X) -> str:
    """The NumPy modes (and split) whose ``np.pad`` of the 1-D ``x`` equals ``padded`` (exact: padding moves
    data and computes nothing)."""
    total = len(padded) - len(x)
    found = [f"{mode}, pads {before}+{total - before}" for mode in PAD_MODES for before in range(total + 1)
             if np.array_equal(np.pad(x, (before, total - before), mode=mode), padded)]
    return " or ".join(found) if found else "none of NumPy's modes"


def mode_of(decoded: str) -> str:
    return decoded.split(",")[0]


def _jnp_pad(env, mode):
    x = PAD_X.reshape(1, 1, -1)
    native = env["jnp"].pad(_native(env, x), ((0, 0), (0, 0), (3, 2)), mode=mode)  # NCW: the last axis is W
    value = pad_mode_from(_canonical(env, native)[0, 0])
    adapter = pad_mode_from(_np(env, env["bk"].pad(_t(env, x), [(3, 2)], mode))[0, 0])
    return Row("pad_modes", f"mode={mode!r}", "jax", "jax.numpy.pad", value, f"adapter pad({mode!r}): {adapter}",
               adapter == value, detail=PAD_MODES.get(mode_of(value), ""))


for _mode in PAD_MODES:
    probe("jax", "pad_modes", f"mode={_mode!r}", "jax.numpy.pad")(lambda env, mode=_mode: _jnp_pad(env, mode))


# ---- BatchNorm folding -----------------------------------------------------------------------------
BN_EPS = 1e-3


def bn_statistics(channels=3):
    rng = np.random.default_rng(36)
    return {"mean": rng.uniform(-1, 1, channels), "var": rng.uniform(0.5, 2, channels),
            "gamma": rng.uniform(0.5, 2, channels), "beta": rng.uniform(-1, 1, channels)}


def bn_fold_row(framework, api, item, native_layout, kernel, bias, conv, bn, magnitude) -> Row:
    """Which axis of the native ``kernel`` (letters ``native_layout``, I = O so both broadcast) the BN scale
    γ/√(σ²+ε) must multiply for ``conv(k, b)`` to equal ``bn(conv(kernel, bias))`` (both canonical NumPy).

    ``magnitude(k)`` is Σ|x·k| per output of the folded conv (the oracle on |x|, |k|)."""
    stats = bn_statistics()
    scale = stats["gamma"] / np.sqrt(stats["var"] + BN_EPS)
    folded_bias = (bias - stats["mean"]) * scale + stats["beta"]
    want = bn(conv(kernel, bias), stats)
    found = []
    for axis, letter in enumerate(native_layout):
        if kernel.shape[axis] != len(scale):
            continue
        shape = [1] * kernel.ndim
        shape[axis] = -1
        folded = kernel * scale.reshape(shape)
        terms = math.prod(kernel.shape) // len(scale) + 4  # the conv's products, the bias, the BN's few ops
        got = conv(folded, folded_bias)
        if tolerance.compare(got, want, magnitude=magnitude(folded) + np.abs(want), terms=terms, dtype=PROBE_DTYPE).ok:
            found.append(f"{letter} (axis {axis} of {native_layout})")
    value = " or ".join(found) if found else "no single kernel axis"
    table = f"O (axis {native_layout.index('O')} of {native_layout})" if "O" in native_layout else None
    return Row("bn_fold", item, framework, api, value, table, None if table is None else value == table,
               detail="scale γ/√(σ²+ε) folded along each kernel axis of size C (I = O = 3), bias (b − μ)·scale + β")


def bn_inputs():
    rng = np.random.default_rng(37)
    x = rng.integers(-3, 4, (2, 3, 5, 6)).astype(np.float64)
    kernel = rng.integers(-3, 4, (3, 3, 2, 4)).astype(np.float64)  # canonical OIHW / IOHW, I = O = 3
    return x, kernel, rng.integers(-3, 4, 3).astype(np.float64)


def fold_magnitude(x, native_layout, transposed):
    """Σ|x·k| per output of the folded conv, by the oracle on |x| and the canonical |k|."""
    canonical = layouts.canonical("conv_transpose" if transposed else "conv", 2)

    def magnitude(folded):
        k = np.abs(layouts.convert(folded, native_layout, canonical))
        if transposed:
            return oracle.conv_transpose(np.abs(x), k, stride=2)
        return oracle.conv(np.abs(x), k)
    return magnitude


def _lax_bn_fold(env, transposed):
    lax, bk = env["lax"], env["bk"]
    x, kernel, bias = bn_inputs()
    op = "conv_transpose" if transposed else "conv"
    native_layout = layouts.kernel_layout("jax", op, 2, api="lax")
    native_kernel = layouts.convert(kernel, layouts.canonical(op, 2), native_layout)
    dims = ("NCHW", "OIHW", "NCHW")  # the dimension numbers the adapter passes (lax.conv_general_dilated's default)

    def conv(k, b):
        if transposed:
            y = lax.conv_transpose(_native(env, x), _t(env, k), (2, 2), "VALID", dimension_numbers=dims,
                                   transpose_kernel=True)
        else:
            y = lax.conv_general_dilated(_native(env, x), _t(env, k), (1, 1), "VALID", dimension_numbers=dims)
        return _canonical(env, y) + b.reshape(-1, 1, 1)

    def bn(y, stats):
        return _np(env, bk.batch_norm(_t(env, y), *(_t(env, stats[n]) for n in ("mean", "var", "gamma", "beta")), BN_EPS))

    name = "jax.lax.conv_transpose" if transposed else "jax.lax.conv_general_dilated"
    return bn_fold_row("jax", f"{name} + jax.nn.standardize", "conv_transpose2d" if transposed else "conv2d",
                       native_layout, native_kernel, bias, conv, bn, fold_magnitude(x, native_layout, transposed))


probe("jax", "bn_fold", "conv2d", "jax.lax.conv_general_dilated + jax.nn.standardize")(
    lambda env: _lax_bn_fold(env, False))
probe("jax", "bn_fold", "conv_transpose2d", "jax.lax.conv_transpose + jax.nn.standardize")(
    lambda env: _lax_bn_fold(env, True))


# ---- causal padding --------------------------------------------------------------------------------
CAUSAL_CASES = ((3, 2), (4, 1))  # (k, d)


def causal_from(y, n, k, d) -> tuple[int, int] | None:
    """(left, right) pads of a 1-D conv with a first-tap one-hot kernel on 1..n, from its output ``y``
    (y[i] = padded[i]); None when ``y`` is not such a shifted copy."""
    total = len(y) - n + d * (k - 1)
    y = np.asarray(y)
    for left in range(total + 1):
        want = np.pad(np.arange(1.0, n + 1), (left, total - left))[:len(y)]
        if tolerance.compare(y, want, magnitude=np.abs(want), terms=k, dtype=PROBE_DTYPE).ok:
            return left, total - left
    return None


def causal_row(framework, api, k, d, run) -> Row:
    """``run(x, k, d)``: the causal 1-D conv of ``x`` (length n) with the first-tap kernel, as NumPy."""
    n = 8
    item = f"k={k}, d={d}"
    try:
        y = run(np.arange(1.0, n + 1), k, d)
    except Exception as exc:
        return Row("causal", item, framework, api, "rejected", detail=error_text(exc))
    pads = causal_from(y, n, k, d)
    if pads is None:
        value = "not a shifted copy of the input"
    else:
        value = f"{pads[0]}+{pads[1]}" + (" (all on the left)" if pads[1] == 0 else "")
    return Row("causal", item, framework, api, value, f"{d * (k - 1)}+0 (d(k−1) on the left)",
               pads == (d * (k - 1), 0), data={} if pads is None else {"before": pads[0], "after": pads[1]})


def _lax_causal(env):
    lax = env["lax"]
    w = np.zeros((1, 1, 3))
    w[..., 0] = 1
    try:
        lax.conv_general_dilated(_t(env, np.ones((1, 1, 8))), _t(env, w), (1,), "CAUSAL")
    except Exception as exc:
        return Row("causal", "conv1d", "jax", "jax.lax.conv_general_dilated", "no 'CAUSAL' padding word",
                   detail=f"{error_text(exc)}; explicit pairs [(d(k−1), 0)] are what a JAX user writes")
    return "accepts padding='CAUSAL'"


probe("jax", "causal", "conv1d", "jax.lax.conv_general_dilated")(_lax_causal)


# ---- separable conv --------------------------------------------------------------------------------
def separable_row(framework, api, modules, adapter_call) -> Row:
    """Whether any of ``modules`` (name → module) has a *separable* name; the adapter's answer as detail."""
    names = sorted(f"{label}.{n}" for label, module in modules.items() for n in dir(module) if "separable" in n.lower())
    try:
        adapter_call()
        adapter = "the adapter builds one"
    except Exception as exc:
        adapter = f"adapter: {error_text(exc)}"
    value = ", ".join(names) if names else f"no separable conv in {', '.join(modules)}"
    return Row("separable", "separable conv2d", framework, api, value, detail=adapter)


probe("jax", "separable", "separable conv2d", "jax.lax")(
    lambda env: separable_row("jax", "jax.lax", {"jax.lax": env["lax"], "jax.nn": env["jax"].nn},
                              lambda: env["bk"].layer("separable", in_channels=3, out_channels=4, kernel_size=3)))
