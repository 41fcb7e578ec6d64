"""Pieces that several case files share: per-dimension conv parameters, a hypothesis space of
conv configurations and its fixed examples, the example's input arrays, the conv's input gradient
written out from its definition, calls into the framework (the ``run_*`` helpers, layers with
canonical weights loaded), and the guard that turns a known missing framework kernel into an ``n/a``
example.  Probes that discover a framework's native spelling of a convention live in
:mod:`equivcheck.casekit_discovery`, kernel-layout permutations in :mod:`equivcheck.casekit_layouts`,
native layers or ops that may be missing (None, the reason as a fact) in :mod:`equivcheck.casekit_layers`,
the arrays of the gradient claims and ∂L/∂w from its definition in :mod:`equivcheck.casekit_gradients`.

Design rules
- Only what two or more cases use lives here.  A helper one case needs stays in that case file,
  so each case still reads as its declaration plus a short body.
- Nothing here decides a verdict: helpers compute parameters, NumPy float64 references and
  hypothesis spaces.  Every check still goes through ``ctx`` in the case body, with the
  case's own label, and a framework error is never swallowed: the one exception,
  :func:`unless_missing_kernel`, turns a missing kernel that :mod:`equivcheck.known_issues`
  knows into an ``n/a`` example (not a pass).
- A strategy's draws are part of every claim that uses it: the order and the ranges of its
  draws fix which examples a seed gives.  Changing them changes those claims' spaces, so do it
  only on purpose, for all of them.
- Framework gaps are recognised by the framework's own message *and* the op, parameters and
  version of their record in :mod:`equivcheck.known_issues`, so a gap that a new version
  closes shows up as a run that now succeeds, and a new failure with familiar words as an error.

>>> per_dim(3, 2), pad_pairs([[1, 2], 0], 2)
([3, 3], [(1, 2), (0, 0)])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from equivcheck import known_issues, oracle
from equivcheck.claim import deviation

#: The reason of a known deviation (equivcheck.claim.deviation) shared by the claims with a float64 Keras Dense.
KERAS_TORCH_FLOAT64 = known_issues.BY_ID["keras-torch-float64-dense"].reason
#: That deviation: Keras' Dense on its torch backend computes float64 in float32, so float64 Dense checks fail.
KERAS_TORCH_FLOAT64_DENSE = deviation("tensorflow", "refuted", dtype="float64", keras_backend="torch",
                                      reason=KERAS_TORCH_FLOAT64)

#: The note of the TF column of the cases that use :func:`unless_missing_kernel`, written from the registry.
TF_MISSING_KERNEL_NOTE = (
    "Where TF's CPU build has no kernel for an example, the example is n/a and counted, never a pass: "
    + known_issues.notes("tensorflow", "missing kernel") + " Everything TF does run agrees.")


def tf_missing_kernel_notes(notes: dict) -> dict:
    """``notes`` with :data:`TF_MISSING_KERNEL_NOTE` appended to the TF column's (the ``"*"`` note where TF has
    none of its own), for the cases whose convs go through :func:`unless_missing_kernel`."""
    tf = (notes["tensorflow"] if "tensorflow" in notes else notes["*"]) + " " + TF_MISSING_KERNEL_NOTE
    return {**notes, "tensorflow": tf}


def conv_arrays(ctx, p, *, groups=1):
    """The example's input ``x`` (n, c_in, *spatial) and kernel ``w`` (c_out, c_in/groups, *k), drawn in this
    order by ``ctx.array`` (``k`` an int or one per dimension), then a bias ``b`` (c_out,) when ``p.bias``
    (else None).  NumPy arrays; the framework gets them through ``bk.asarray`` or the ``run_*`` helpers."""
    x = ctx.array("x", (p["n"], p["c_in"], *p["spatial"]))
    w = ctx.array("w", (p["c_out"], p["c_in"] // groups, *per_dim(p["k"], len(p["spatial"]))))
    return x, w, (ctx.array("b", (p["c_out"],)) if p.get("bias") else None)


def per_dim(value, rank: int) -> list[int]:
    """One int per spatial dimension: an int repeated ``rank`` times, or a sequence as ints.

    >>> per_dim(2, 3)
    [2, 2, 2]
    >>> per_dim((1, 3), 2)
    [1, 3]
    """
    return [int(value)] * rank if isinstance(value, int) else [int(v) for v in value]


def spatial_crop(a, sizes, start=0):
    """``a[:, :, b₁:b₁+m₁, b₂:b₂+m₂, …]``: ``sizes`` positions of each spatial axis from ``start`` (an int, or one
    per axis), batch and channel axes whole: a transposed conv's output cut to a size, a kernel to its taps.

    >>> spatial_crop(np.arange(10.0).reshape(1, 1, 10), [3], 2).tolist()
    [[[2.0, 3.0, 4.0]]]
    """
    starts = per_dim(start, len(sizes))
    return a[(slice(None), slice(None)) + tuple(slice(b, b + int(m)) for b, m in zip(starts, sizes))]


def pad_pairs(padding, rank: int) -> list[tuple[int, int]]:
    """``(before, after)`` per spatial dimension from an int, or from a per-dimension list of ints or pairs.

    >>> pad_pairs(1, 2)
    [(1, 1), (1, 1)]
    >>> pad_pairs([[1, 2], 0], 2)
    [(1, 2), (0, 0)]
    """
    if isinstance(padding, int):
        return [(padding, padding)] * rank
    return [(int(q), int(q)) if isinstance(q, int) else (int(q[0]), int(q[1])) for q in padding]


class ConvGeometry(NamedTuple):
    """A conv example's parameters, one entry per spatial dimension (made by :func:`conv_geometry`)."""

    rank: int
    k: list[int]
    stride: list[int]
    dilation: list[int]
    pairs: list[tuple[int, int]]  # (before, after) padding
    groups: int
    out: list[int]  # the conv's output size
    #: (n + before + after − d(k−1) − 1) mod s: the input rows at the end that no stride step reaches,
    #: which is also the output_padding that makes conv_transpose land on the input size again.
    leftover: list[int]

    @property
    def conv_kw(self) -> dict:
        """The keyword arguments of ``bk.conv`` / ``oracle.conv`` for this geometry."""
        return dict(stride=self.stride, padding=self.pairs, dilation=self.dilation, groups=self.groups)


def conv_geometry(p) -> ConvGeometry:
    """The per-dimension geometry of an example with ``spatial``, ``k``, ``stride``, ``padding``,
    ``dilation`` and ``groups`` (ints or per-dimension lists, as :func:`conv_geometries` draws them).

    >>> g = conv_geometry(dict(spatial=[7, 8], k=3, stride=2, padding=0, dilation=1, groups=1))  # seed 004
    >>> g.out, g.leftover, g.conv_kw["padding"]
    ([3, 3], [0, 1], [(0, 0), (0, 0)])
    """
    spatial = p["spatial"]
    rank = len(spatial)
    k, stride, dilation = per_dim(p["k"], rank), per_dim(p["stride"], rank), per_dim(p["dilation"], rank)
    pairs = pad_pairs(p["padding"], rank)
    out = [oracle.conv_output_size(n, kk, s, pair, d) for n, kk, s, pair, d in zip(spatial, k, stride, pairs, dilation)]
    leftover = [(n + b + a - d * (kk - 1) - 1) % s for n, (b, a), d, kk, s in zip(spatial, pairs, dilation, k, stride)]
    return ConvGeometry(rank, k, stride, dilation, pairs, p["groups"], out, leftover)


@st.composite
def conv_geometries(draw, *, max_n: int = 2, output_padding: bool = False, **constants):
    """Example dicts of conv configurations: multi-channel, strided, padded (0 ≤ p ≤ d(k−1), also
    asymmetric), dilated, grouped, batched; 1-D to 3-D, small.

    Keys: ``n`` (1 … ``max_n``), ``c_in``, ``c_out`` (multiples of ``groups``), ``spatial``, and per
    dimension ``k``, ``stride``, ``padding`` (``[before, after]``), ``dilation``, then ``groups``.
    With ``output_padding=True`` the geometry is a transposed conv's: ``spatial`` is its input size
    (output size ≥ 1 guaranteed) and an ``output_padding`` < max(stride, dilation) is drawn per dimension;
    without, ``spatial`` is a conv input the kernel fits (conv output size 1 … 5).  ``constants`` are
    added to every dict as they are (e.g. ``layers=False``).

    The draws are made in a fixed order (rank, groups, k, stride, dilation, per dimension the padding
    and size, then n, c_in, c_out): see the module's design rules.
    """
    rank = draw(st.sampled_from([2, 1, 3]))
    groups = draw(st.integers(1, 2))
    k = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding, extras, spatial = [], [], []
    for kk, s, d in zip(k, stride, dilation):
        reach = d * (kk - 1)
        before, after = draw(st.integers(0, reach)), draw(st.integers(0, reach))
        padding.append([before, after])
        if output_padding:
            extra = draw(st.integers(0, max(s, d) - 1))
            extras.append(extra)
            # output (n−1)s + reach − before − after + extra + 1 must be ≥ 1
            smallest = 1 + max(0, -(-(before + after - reach - extra) // s))
            spatial.append(draw(st.integers(smallest, smallest + 3)))
        else:
            spatial.append(draw(st.integers(max(1, reach + 1 - before - after), reach + 5 - before - after)))
    example = {
        "n": draw(st.integers(1, max_n)),
        "c_in": groups * draw(st.integers(1, 3)),
        "c_out": groups * draw(st.integers(1, 3)),
        "spatial": spatial, "k": k, "stride": stride, "padding": padding,
    }
    if output_padding:
        example["output_padding"] = extras
    example.update(dilation=dilation, groups=groups, **constants)
    return example


#: (stride, dilation) pairs of the small conv spaces: at most one of them > 1 (tf.nn rejects both).
STRIDE_OR_DILATION = [(1, 1), (2, 1), (1, 2)]


@st.composite
def small_convs(draw, *, rank, steps, k=(1, 3), padding=st.integers(0, 1), padding_first=False, slack=2,
                c_in=3, c_out=3, bias=True, **constants):
    """Example dicts of small, ungrouped convs with a uniform stride, padding and dilation (ints), for the
    claims whose frameworks' layers or ops take nothing more general.

    ``rank``: an int or a strategy of ints; ``steps(rank)``: the (stride, dilation) pairs to sample;
    ``padding``: a strategy, or ``padding(stride)`` giving one, drawn before the kernel sizes with
    ``padding_first`` (else after them); each ``spatial`` size is the smallest the kernel fits (``'same'``
    pads nothing away) plus 0 … ``slack``.  Keys: ``n`` (1–2), ``c_in`` (1 … ``c_in``), ``c_out``, ``spatial``,
    ``k``, ``stride``, ``padding``, ``dilation``, ``bias`` (drawn when ``bias``), then ``constants``.
    As for :func:`conv_geometries`, the order of the draws is part of every claim that uses it.
    """
    rank = rank if isinstance(rank, int) else draw(rank)
    stride, dilation = draw(st.sampled_from(steps(rank)))
    paddings = padding(stride) if callable(padding) else padding
    pad = draw(paddings) if padding_first else None
    kernel = draw(st.lists(st.integers(*k), min_size=rank, max_size=rank))
    pad = draw(paddings) if not padding_first else pad
    low = 0 if pad == "same" else 2 * pad
    spatial = [max(1, dilation * (kk - 1) + 1 - low) + draw(st.integers(0, slack)) for kk in kernel]
    example = {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, c_in)), "c_out": draw(st.integers(1, c_out)),
               "spatial": spatial, "k": kernel, "stride": stride, "padding": pad, "dilation": dilation}
    if bias:
        example["bias"] = draw(st.booleans())
    example.update(constants)
    return example


def scatter_input_grad(gy, w, x_shape, stride, pairs, dilation, groups) -> np.ndarray:
    """∂L/∂x of ``conv(x, w)`` for the output gradient ``gy`` (equally: the adjoint Jᵀ·gy), straight from
    the definition of the conv as a gather.  NumPy, float64, one kernel tap at a time.

    Output ``gy[n, o, p]`` was made from the input pixels ``p·s + j·d − before`` with the weights
    ``w[o, c, j]``, so it sends ``gy[n, o, p]·w[o, c, j]`` back to them; ``pairs`` is the
    ``(before, after)`` padding per dimension, ``stride`` and ``dilation`` lists per dimension.

    >>> scatter_input_grad(np.ones((1, 1, 2)), np.array([[[1.0, 10.0]]]), (1, 1, 3), [1], [(0, 0)], [1], 1)
    array([[[ 1., 11., 10.]]])
    """
    n, out_channels, out = gy.shape[0], gy.shape[1], gy.shape[2:]
    per_group, k = w.shape[1], w.shape[2:]
    og = out_channels // groups
    padded = [size + b + a for size, (b, a) in zip(x_shape[2:], pairs)]
    acc = np.zeros((n, groups, per_group, *padded))
    gyg = gy.reshape(n, groups, og, *out)
    wg = w.reshape(groups, og, per_group, *k)
    lead = (slice(None),) * 3
    for tap in np.ndindex(*k):
        part = np.einsum("ngo...,goc->ngc...", gyg, wg[lead + tap])
        where = tuple(slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, out, stride))
        acc[lead + where] += part
    crop = tuple(slice(b, b + size) for size, (b, _) in zip(x_shape[2:], pairs))
    return acc[lead + crop].reshape(x_shape)


def unless_missing_kernel(bk, op: str, fn, *, rank: int, stride=1, dilation=1, groups=1, **_):
    """``fn()``, which runs ``op`` (``"conv"``, ``"conv_transpose"``, ``"conv input gradient"`` or
    ``"conv weight gradient"``) with these parameters; where the framework has no kernel for it and a
    missing-kernel record of :mod:`equivcheck.known_issues` covers exactly that (the framework's words,
    the op, the parameters, the dtype and the version), the example is ``n/a`` (``KnownIssueSkip``).
    The same words outside a record's bounds are an error of the run; every other exception propagates
    unchanged.  Extra keywords (``padding``, ``output_padding``) are accepted so a case can pass its
    conv keywords as they are.

    >>> unless_missing_kernel(None, "conv", lambda: 42, rank=2)
    42
    """
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - classified by the registry, then re-raised
        known_issues.missing_kernel(bk, op, rank, exc, stride=stride, dilation=dilation, groups=groups)
        raise


# ---- calling the framework from a case body -----------------------------------------------------------
def tensor(bk, value):
    """``value`` handed to the framework: a NumPy array through ``bk.asarray``; None and tensors unchanged."""
    return bk.asarray(value) if isinstance(value, np.ndarray) else value


def run_conv(bk, x, w, b=None, **conv_kw):
    """``bk.conv`` of NumPy arrays or tensors, a missing kernel the registry knows made ``n/a``
    (:func:`unless_missing_kernel`)."""
    return unless_missing_kernel(bk, "conv", lambda: bk.conv(tensor(bk, x), tensor(bk, w), tensor(bk, b), **conv_kw),
                                 rank=len(x.shape) - 2, **conv_kw)


def run_conv_transpose(bk, x, w, b=None, **conv_kw):
    """``bk.conv_transpose`` as :func:`run_conv` runs ``bk.conv``."""
    return unless_missing_kernel(
        bk, "conv_transpose", lambda: bk.conv_transpose(tensor(bk, x), tensor(bk, w), tensor(bk, b), **conv_kw),
        rank=len(x.shape) - 2, **conv_kw)


def run_input_grad(bk, x, w, grad_out, **conv_kw):
    """∂L/∂x of ``conv(x, w)`` for the output gradient ``grad_out``, by the framework's autodiff (``bk.vjp``)."""
    wt, gyt = tensor(bk, w), tensor(bk, grad_out)
    return unless_missing_kernel(
        bk, "conv input gradient", lambda: bk.vjp(lambda xx: bk.conv(xx, wt, **conv_kw), [tensor(bk, x)], gyt)[0],
        rank=len(x.shape) - 2, **conv_kw)


def run_weight_grad(bk, x, w, grad_out, **conv_kw):
    """∂L/∂w of ``conv(x, w)`` for the output gradient ``grad_out``, by the framework's autodiff (``bk.vjp``)."""
    xt, gyt = tensor(bk, x), tensor(bk, grad_out)
    return unless_missing_kernel(
        bk, "conv weight gradient", lambda: bk.vjp(lambda ww: bk.conv(xt, ww, **conv_kw), [tensor(bk, w)], gyt)[0],
        rank=len(x.shape) - 2, **conv_kw)


def dense_layer(bk, weight, bias=None, **layer_kw):
    """The framework's Dense/Linear layer for the canonical ``weight`` (out, in) with ``weight`` and ``bias``
    loaded (``layer_kw`` go to ``bk.layer``, e.g. ``use_bias=False``, ``api=``); a framework without layers
    (JAX) gets its linear op with the same weights.  ``handle.set_weights(weight, bias)`` reloads either."""
    if bk.layer_apis:
        layer = bk.layer("dense", in_channels=weight.shape[1], out_channels=weight.shape[0], **layer_kw)
        layer.set_weights(weight, bias)
        return layer
    return _LinearOp(bk, weight, bias)


class _LinearOp:
    """``bk.linear`` with weights held like a layer's, for the frameworks without layers."""

    def __init__(self, bk, weight, bias=None):
        self.bk, self.api = bk, f"{bk.framework_name}'s linear op"
        self.set_weights(weight, bias)

    def set_weights(self, weight, bias=None):
        self.weight, self.bias = tensor(self.bk, weight), tensor(self.bk, bias)

    def __call__(self, v):
        return self.bk.linear(v, self.weight, self.bias)


def conv_example(n, c_in, c_out, spatial, k, stride=1, padding=0, dilation=1, groups=1, *, output_padding=None,
                 **extra) -> dict:
    """A fixed example of a :func:`conv_geometries` claim, its keys in the order the space draws them.

    >>> list(conv_example(1, 3, 1, [7, 7], 3, 2, layers=True).items())[-5:]
    [('stride', 2), ('padding', 0), ('dilation', 1), ('groups', 1), ('layers', True)]
    """
    example = {"n": n, "c_in": c_in, "c_out": c_out, "spatial": spatial, "k": k, "stride": stride, "padding": padding}
    if output_padding is not None:
        example["output_padding"] = output_padding
    example.update(dilation=dilation, groups=groups, **extra)
    return example


def input_grad(bk, x, w, grad_out, **conv_kw):
    """∂L/∂x of ``conv(x, w)`` for ``grad_out`` by the framework's autodiff (:func:`run_input_grad`); NumPy,
    which has none, writes it out from the definition (:func:`scatter_input_grad`)."""
    if bk.framework_name != "numpy":
        return run_input_grad(bk, x, w, grad_out, **conv_kw)
    rank = len(x.shape) - 2
    return scatter_input_grad(grad_out, w, x.shape, per_dim(conv_kw.get("stride", 1), rank),
                              pad_pairs(conv_kw.get("padding", 0), rank), per_dim(conv_kw.get("dilation", 1), rank),
                              conv_kw.get("groups", 1))


def zero_insert_and_pad(x, stride, pairs, extra, dilation, k):
    """The input of the stride-1 conv that a transposed conv (and a conv's input gradient) is: ``x`` with s−1
    zeros between neighbouring pixels, then d(k−1)−before zeros in front and d(k−1)−after+extra at the end
    (NumPy, exact).  Returns ``(spread, padded)``.

    >>> zero_insert_and_pad(np.ones((1, 1, 2)), [2], [(0, 0)], [1], [1], [2])[1]
    array([[[0., 1., 0., 1., 0., 0.]]])
    """
    spread = np.zeros(x.shape[:2] + tuple((n - 1) * s + 1 for n, s in zip(x.shape[2:], stride)))
    spread[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    widths = [(0, 0), (0, 0)] + [(d * (kk - 1) - b, d * (kk - 1) - a + e)
                                 for (b, a), e, d, kk in zip(pairs, extra, dilation, k)]
    assert all(v >= 0 for pair in widths for v in pair), widths  # the spaces keep p ≤ d(k−1)
    return spread, np.pad(spread, widths)


def swapped_kernel(w, groups, flip=True):
    """A kernel (A, B/g, *k) read the other way round, (B, A/g, *k): its two channel axes swapped within each
    group and (``flip``) rotated by 180° spatially, the conv kernel of the adjoint.

    >>> swapped_kernel(np.arange(4.0).reshape(2, 1, 2), 1).tolist()
    [[[1.0, 0.0], [3.0, 2.0]]]
    """
    i, og, *k = w.shape
    swapped = w.reshape(groups, i // groups, og, *k).swapaxes(1, 2).reshape(groups * og, i // groups, *k)
    return np.flip(swapped, axis=tuple(range(2, w.ndim))) if flip else swapped


def conv_layers(bk, w, b=None, *, functional="functional", **layer_kw):
    """``(api, handle)`` for every layer API of the framework: its conv layer (``bk.layer("conv", **layer_kw)``,
    channels from the canonical kernel ``w`` (O, I, *k)) with ``w`` and ``b`` loaded; a framework without
    layers (JAX) gets ``(functional, its conv op)`` with the same weights, stride and dilation."""
    if not bk.layer_apis:
        wt, bt = tensor(bk, w), tensor(bk, b)
        conv_kw = {key: layer_kw[key] for key in ("stride", "dilation") if key in layer_kw}
        return [(functional, lambda x: bk.conv(x, wt, bt, **conv_kw))]
    handles = []
    for api in bk.layer_apis:
        handle = bk.layer("conv", in_channels=w.shape[1], out_channels=w.shape[0], api=api, **layer_kw)
        handle.set_weights(w, b)
        handles.append((api, handle))
    return handles

