"""Probes every framework shares: data and kernel layouts, 'same' splits, default padding.

A framework module describes each of its APIs (functional ops or layers) as a
:class:`ConvAPI` that can *run* a conv-family op on native arrays; this module
registers the rows and decodes what the op did.  Framework-specific probes
(pixel shuffle, patches, flatten, argmax, precision) live in the framework
modules.
"""
from __future__ import annotations

import numpy as np

from equivcheck import layouts, oracle, tolerance
from equivcheck.conventions import SAME_SPLIT_RULE, describe_split
from equivcheck.report.decode import (DATA_SPATIAL, GROUPS, KERNEL_SPATIAL, PROBE_DTYPE, SAME_CASES, canonical_sizes, decode_shape,
                                      error_text, integer_array, same_item, same_split_from_output, search_layout,
                                      table_kernel)
from equivcheck.report.probes import Row
from equivcheck.report.probes import register as _register

#: op → (canonical kernel letters template, title)
OPS = {
    "conv": ("OI*", "conv{r}d"),
    "conv_transpose": ("IO*", "conv_transpose{r}d"),
    "grouped": ("OI*", "grouped conv{r}d (groups=2)"),
    "depthwise": ("CM*", "depthwise conv{r}d"),
}
CONV_RANKS = (1, 2, 3)


class ConvAPI:
    """One API of a framework (functional or layer).  Subclasses implement :meth:`run`.

    ``run(env, op, rank, x, w, data_layout)`` returns the output as a NumPy array
    in ``data_layout``; ``x`` and ``w`` are already in the candidate native
    layouts.  It raises when the framework rejects them (that is how wrong
    candidates are ruled out).  ``op`` is conv (valid, stride 1),
    conv_transpose (stride 2, no padding), grouped (groups=2) or depthwise
    (multiplier 5 on 3 channels).
    """

    framework = "?"
    label = "?"          # e.g. "torch.nn"
    table_api = None     # key into layouts.KERNEL_LAYOUTS
    is_layer = False
    #: "native" (a depthwise op/layer with a (C, M) kernel) or "grouped" (groups=C conv)
    depthwise_style = "grouped"
    ranks = {"conv": CONV_RANKS, "conv_transpose": CONV_RANKS, "grouped": (2,), "depthwise": (2,)}

    def name(self, op: str, rank: int) -> str:
        raise NotImplementedError

    def run(self, env, op, rank, x, w, data_layout):
        raise NotImplementedError

    def kernel_shape(self, env, op, rank):
        """Layers: the kernel shape of the built layer (read, not computed)."""
        return None

    def adapter_layer(self, env, op, rank):
        """The native layer the framework's adapter builds for ``op`` (bias off, the probe's sizes:
        3 → 5 channels, kernel 2×4(×6); transposed at stride 2), built once per (op, rank)."""
        cache = env.setdefault("_layers", {})
        if (op, rank) not in cache:
            sizes = {"conv_transpose": dict(in_channels=3, out_channels=5, stride=2),
                     "grouped": dict(in_channels=3 * GROUPS, out_channels=6, groups=GROUPS),
                     "depthwise": dict(in_channels=3, depth_multiplier=5)}.get(op, dict(in_channels=3, out_channels=5))
            cache[(op, rank)] = env["bk"].layer("conv" if op == "grouped" else op, rank=rank, use_bias=False,
                                                kernel_size=KERNEL_SPATIAL[rank], **sizes).native
        return cache[(op, rank)]

    def same_1d(self, env, x, k: int, stride: int):
        """A 1-D 'same' conv of ``x`` (length n, one channel) with the first-tap kernel e_0."""
        raise NotImplementedError

    def default_padding(self, env):
        """(declared default, output spatial shape for an 8×9 input and a 3×3 kernel)."""
        raise NotImplementedError

    def dense(self, env, x, w):
        """Dense/Linear of x (N, in) with a native kernel; None when the API has none."""
        return None


def _want(op, rank, x, w):
    if op == "conv":
        return oracle.conv(x, w)
    if op == "conv_transpose":
        return oracle.conv_transpose(x, w, stride=2)
    if op == "grouped":
        return oracle.conv(x, w, groups=GROUPS)
    return oracle.conv(x, w, groups=x.shape[1])  # depthwise, w already grouped


def _inputs(op, rank):
    """Canonical (x, w, kernel letters) of the probe for ``op``."""
    sizes = canonical_sizes("grouped" if op == "grouped" else "conv_transpose" if op == "conv_transpose" else "conv", rank)
    spatial = DATA_SPATIAL[rank]
    if op == "depthwise":
        channels, multiplier = 3, 5
        k = [canonical_sizes("conv", rank)[a] for a in layouts.SPATIAL[rank]]
        x = integer_array((2, channels, *spatial), seed=rank)
        w = integer_array((channels, multiplier, *k), seed=10 + rank)
        return x, w, layouts.canonical("depthwise", rank)
    letters = layouts.canonical("conv_transpose" if op == "conv_transpose" else "conv", rank)
    in_channels = sizes["I"] * (GROUPS if op == "grouped" else 1)
    if op == "conv_transpose":
        spatial = tuple(s - 3 for s in spatial)  # keep the output small
    x = integer_array((2, in_channels, *spatial), seed=rank)
    w = integer_array(tuple(sizes[a] for a in letters), seed=20 + rank)
    return x, w, letters


def conv_search(env, api: ConvAPI, op: str, rank: int):
    """(data layout, kernel layout, flipped, note) found for ``op`` through ``api`` (memoised)."""
    memo = env.setdefault("_search", {})
    key = (api.label, op, rank)
    if key in memo:
        return memo[key]
    x, w, letters = _inputs(op, rank)
    note = ""
    if op == "depthwise":
        want = oracle.conv(x, layouts.depthwise_to_grouped(w), groups=x.shape[1])
        if api.depthwise_style == "grouped":
            w, letters = layouts.depthwise_to_grouped(w), layouts.canonical("conv", rank)
            note = " (as groups=C conv: O=C·M, I=1)"
    else:
        want = _want(op, rank, x, w)
    # Σ|x·w| per output: the same op on |x| and |w| (depthwise as its grouped conv)
    grouped = layouts.depthwise_to_grouped(np.abs(w)) if op == "depthwise" and api.depthwise_style != "grouped" else None
    magnitude = (oracle.conv(np.abs(x), grouped, groups=x.shape[1]) if grouped is not None
                 else _want(op, rank, np.abs(x), np.abs(w)))
    terms = tolerance.conv_terms(w.shape if op != "conv_transpose" else (w.shape[1], w.shape[0], *w.shape[2:]))
    flips = (False, True) if op == "conv_transpose" else (False,)

    def call(xn, wn, data_layout):
        return api.run(env, op, rank, xn, wn, data_layout)

    errors = {}
    found = search_layout(call, x, w, want, rank=rank, kernel_canonical=letters, magnitude=magnitude, terms=terms,
                          flips=flips, errors=errors)
    result = (found, note)
    memo[(key, "errors")] = errors
    memo[key] = result
    return result


def _table_for(api: ConvAPI, op: str, rank: int):
    """The layout table's letters for ``op`` as the native kernel (grouped-style depthwise translated)."""
    table_op = "conv" if op == "grouped" else op
    table = table_kernel(api.framework, table_op, rank, api.table_api) if api.table_api else None
    if table is None:
        return None, None
    if op == "depthwise" and api.depthwise_style == "grouped":
        # the adapters reshape (C, M) → (C·M, 1) (or (1, C·M) when channels come last): grouped OI/IO letters
        native = table.replace("CM", "OI") if table.startswith("CM") else table.replace("CM", "IO")
        return native, f"{table} → reshaped to {native}"
    return table, table


def _kernel_row(env, api: ConvAPI, op: str, rank: int, item: str) -> Row:
    name = api.name(op, rank)
    found, note = conv_search(env, api, op, rank)
    table, table_text = _table_for(api, op, rank)
    shape = api.kernel_shape(env, op, rank) if api.is_layer else None
    detail = ""
    if shape is not None:
        x, w, letters = _inputs(op, rank)
        if op == "depthwise" and api.depthwise_style == "grouped":
            w, letters = layouts.depthwise_to_grouped(w), layouts.canonical("conv", rank)
        sizes = dict(zip(letters, w.shape))
        detail = f"built kernel shape {tuple(int(s) for s in shape)} decodes as {decode_shape(shape, sizes)}"
    if not found:
        errors = env.get("_search", {}).get(((api.label, op, rank), "errors"), {})
        expected = [e for (d, k), e in errors.items() if k == table] if table else []
        why = (expected or list(errors.values()) or ["every candidate ran but none matched the oracle"])[0]
        value = "rejected" if errors and expected else "no axis order reproduces the oracle"
        return Row("kernel_layout", item, api.framework, name, value, table_text, None,
                   "; ".join(t for t in (detail, why) if t))
    kernels = sorted({k for _, k, _ in found})
    flipped = any(f for _, _, f in found)
    value = " or ".join(kernels) + note + (" (kernel spatially flipped vs PyTorch's)" if flipped else "")
    agrees = None if table is None else (table in kernels)
    if shape is not None:
        agrees = agrees if agrees is None else agrees and decode_shape(shape, sizes) == table
    return Row("kernel_layout", item, api.framework, name, value, table_text, agrees, detail,
               data={"layouts": kernels, "flipped": flipped})


def _data_row(env, api: ConvAPI, rank: int) -> Row:
    name = api.name("conv", rank)
    found, _ = conv_search(env, api, "conv", rank)
    data = sorted({d for d, _, _ in found})
    table = layouts.data_layout(api.framework, rank) if api.framework in layouts.DATA_LAYOUTS else None
    if not data:
        return Row("data_layout", f"conv{rank}d", api.framework, name, "no layout reproduces the oracle", table,
                   None if table is None else False)
    return Row("data_layout", f"conv{rank}d", api.framework, name, " or ".join(data), table,
               None if table is None else table in data)


def _dense_row(env, api: ConvAPI) -> Row:
    x = integer_array((2, 3), seed=7)
    w = integer_array((5, 3), seed=8)  # canonical (out, in)
    want = x @ w.T
    matches, errors = [], []
    for letters in ("OI", "IO"):
        native = np.ascontiguousarray(layouts.convert(w, "OI", letters))
        try:
            got = api.dense(env, x, native)
        except Exception as exc:
            errors.append(error_text(exc))
            continue
        if got is not None and tolerance.compare(got, want, magnitude=np.abs(x) @ np.abs(w).T, terms=w.shape[1],
                                                 dtype=PROBE_DTYPE).ok:
            matches.append(letters)
    table = table_kernel(api.framework, "dense", 2, api.table_api) if api.table_api else None
    value = " or ".join(matches) if matches else "no order reproduces x·Wᵀ"
    return Row("kernel_layout", "dense", api.framework, api.name("dense", 0), value, table,
               None if table is None else table in matches, data={"layouts": matches})


def _same_row(env, api: ConvAPI, n: int, k: int, stride: int) -> Row:
    x = np.arange(1, n + 1, dtype=np.float32)
    want = oracle.same_padding(n, k, stride)
    try:
        y = api.same_1d(env, x, k, stride)
    except Exception as exc:
        return Row("same_padding", same_item(n, k, stride), api.framework, api.name("conv", 1),
                   "raises", None, None, error_text(exc))
    before, after = same_split_from_output(y, n, k, stride)
    return Row("same_padding", same_item(n, k, stride), api.framework, api.name("conv", 1),
               describe_split(before, after), f"{describe_split(*want)} ({SAME_SPLIT_RULE})", (before, after) == want,
               data={"before": before, "after": after})


def _strided_same_row(env, api: ConvAPI) -> Row:
    x = np.arange(1, 9, dtype=np.float32)
    try:
        api.same_1d(env, x, 3, 2)
    except Exception as exc:
        return Row("strided_same", "stride 2", api.framework, api.name("conv", 1), "rejected", detail=error_text(exc))
    return Row("strided_same", "stride 2", api.framework, api.name("conv", 1), "accepted")


def _default_padding_row(env, api: ConvAPI) -> Row:
    declared, shape = api.default_padding(env)
    if shape is None:
        return Row("default_padding", "conv2d", api.framework, api.name("conv", 2), str(declared))
    shape = tuple(int(s) for s in shape)
    meaning = {(6, 7): "valid", (8, 9): "same"}.get(shape, f"other {shape}")
    return Row("default_padding", "conv2d", api.framework, api.name("conv", 2),
               f"{declared} ({meaning}: 8×9 → {shape[0]}×{shape[1]})", data={"declared": str(declared), "output": shape})


def _family(fn, api: ConvAPI):
    """Tag a shared row with its API family (``torch.nn``), the row label of the pivoted tables."""
    def run(env):
        row = fn(env)
        row.data = {**row.data, "family": api.label}
        return row
    return run


def register_conv_family(framework: str, apis: list[ConvAPI]) -> None:
    """Register the shared rows for each API of ``framework``."""
    def register(framework, topic, item, name, fn, api=None):
        _register(framework, topic, item, name, _family(fn, api))

    for api in apis:
        if api.framework != framework:
            raise ValueError(f"{api.label} belongs to {api.framework}, not {framework}")
        for rank in api.ranks["conv"]:
            register(framework, "data_layout", f"conv{rank}d", api.name("conv", rank),
                     lambda env, api=api, rank=rank: _data_row(env, api, rank), api=api)
        for op, (_, title) in OPS.items():
            for rank in api.ranks.get(op, ()):
                item = title.format(r=rank)
                register(framework, "kernel_layout", item, api.name(op, rank),
                         lambda env, api=api, op=op, rank=rank, item=item: _kernel_row(env, api, op, rank, item), api=api)
        if type(api).dense is not ConvAPI.dense:
            register(framework, "kernel_layout", "dense", api.name("dense", 0),
                     lambda env, api=api: _dense_row(env, api), api=api)
        if type(api).same_1d is not ConvAPI.same_1d:
            for n, k, stride in SAME_CASES:
                register(framework, "same_padding", same_item(n, k, stride), api.name("conv", 1),
                         lambda env, api=api, n=n, k=k, s=stride: _same_row(env, api, n, k, s), api=api)
            register(framework, "strided_same", "stride 2", api.name("conv", 1),
                     lambda env, api=api: _strided_same_row(env, api), api=api)
        if type(api).default_padding is not ConvAPI.default_padding:
            register(framework, "default_padding", "conv2d", api.name("conv", 2),
                     lambda env, api=api: _default_padding_row(env, api), api=api)


# ---------------------------------------------------------------------------
# a row every framework's output-size probe shares
# ---------------------------------------------------------------------------
OUTPUT_SIZE_GRID = [(n, k, s, p, d) for n in (5, 8, 11) for k in (1, 3, 4) for s in (1, 2, 3)
                    for p in ((0, 0), (1, 1), (0, 2)) for d in (1, 2)
                    if n + p[0] + p[1] >= d * (k - 1) + 1]


def check_lengths(length, grid, want) -> tuple[str, bool | None, str]:
    """``length(*config)`` (the framework's output length) against ``want(*config)`` for every config
    ``(n, k, s, p, d)`` of ``grid``: (value, agrees, detail), the framework's errors counted as rejected."""
    bad, checked, rejected = [], 0, []
    for config in grid:
        n, k, s, p, d = config
        try:
            got = int(length(*config))
        except Exception as exc:
            rejected.append(f"n={n} k={k} s={s} p={p} d={d}: {error_text(exc)}")
            continue
        checked += 1
        if got != want(*config):
            bad.append(f"n={n} k={k} s={s} p={p} d={d}: {got} ≠ {want(*config)}")
    value = f"differs in {len(bad)}/{checked}" if bad else f"holds ({checked}/{checked} configurations)"
    if rejected:
        value += f"; {len(rejected)} rejected"
    return value, (not bad) if checked else None, "; ".join((bad + rejected)[:3])


def output_size_row(framework: str, api: str, conv_len) -> Row:
    """Check ``conv_len(n, k, s, (before, after), d)`` against the formula on the grid."""
    value, agrees, detail = check_lengths(conv_len, OUTPUT_SIZE_GRID,
                                          lambda n, k, s, p, d: (n + p[0] + p[1] - d * (k - 1) - 1) // s + 1)
    return Row("output_size", "explicit padding", framework, api, value, "floor((n+pb+pa-d(k-1)-1)/s)+1",
               agrees, detail)


def bn_fold_probe(framework: str, fold_axes, kind: str):
    """The ``bn_fold`` row's probe: ``fold_axes(env, kind)`` gives ``({axis: (equals conv then BN, max
    |difference|)}, native kernel layout)`` for folding the BN scale along each kernel axis; the table's
    answer is the axis of O (the output channels BN normalises)."""
    def run(env):
        outcome, native = fold_axes(env, kind)
        holds = [axis for axis, (ok, _) in outcome.items() if ok]
        value = ", ".join(f"axis {a} ({native[a]} of {native})" for a in holds) or "no axis"
        detail = "; ".join(f"folding along axis {a} ({native[a]}): {'equals' if ok else 'differs by'} "
                           f"{'conv then BN' if ok else f'{err:.3g}'}" for a, (ok, err) in outcome.items())
        table = f"axis {native.index('O')} (O of {native})"
        return Row("bn_fold", "", framework, "", value, table, value == table, detail)
    return run


def choice_sizes(make, choices, label) -> str:
    """``label=choice → make(choice)`` for each choice (the framework's error where it raises), e.g.
    the output length a transposed conv picks for each output_padding."""
    parts = []
    for choice in choices:
        try:
            parts.append(f"{label}={choice} → {make(choice)}")
        except Exception as exc:
            parts.append(f"{label}={choice} → {error_text(exc)}")
    return ", ".join(parts)
