"""Pieces claims share (first those of the porting pitfalls, 38–45): the ONNX Runtime float64 deviation, a
kernel split into its stride phases, the phases folded into channels in a shuffle's order, the choice of the
shuffle a framework offers, an example's own input values, and a 'SAME' pooling space.

Design rules (those of :mod:`equivcheck.casekit`): helpers compute NumPy float64 kernels and pick
framework ops; they never decide a verdict, and every check stays in the case body.

>>> v = kernel_phases(np.arange(3.).reshape(1, 1, 3), 2)        # taps 0 1 2 → phases (0, 2) and (1, 0)
>>> v[0, 0].tolist()
[[0.0, 2.0], [1.0, 0.0]]
>>> fold_phases(np.zeros((3, 5, 2, 2, 4, 4)), "CRD").shape
(12, 5, 4, 4)
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from equivcheck import known_issues
from equivcheck.backends.base import NotApplicable
from equivcheck.claim import deviation

#: ONNX Runtime's CPU provider has no float64 Conv/ConvTranspose/AveragePool kernel: every float64 example of a
#: claim built on them is n/a there (the registry's record says which ops), float32 gives the claim's verdict.
ORT_NO_FLOAT64_CONV = deviation("onnxruntime", "n/a", dtype="float64",
                                reason=known_issues.BY_ID["ort-no-float64-conv"].reason)
#: With onnx 1.16.2 (tox env onnx-oldest) torch's exporter cannot run: claims built on layers are n/a in
#: both ONNX columns there.
ONNX_116_NO_LAYERS = tuple(deviation(column, "n/a", onnx="1.16.2",
                                     reason=known_issues.BY_ID["onnx-exporter-needs-onnx-1.17"].reason)
                           for column in ("onnxruntime", "onnx"))
#: onnx 1.16.2's reference pads Conv's auto_pad wrong, so the examples that use it are not run there.
ONNX_116_AUTO_PAD = deviation("onnx", "n/a", onnx="1.16.2",
                              reason=known_issues.BY_ID["onnx-reference-conv-auto-pad"].reason)

#: The channel order of each shuffle of the backend interface: CRD (channel-major: c·r² + i·r + j,
#: PyTorch's pixel_shuffle / pixel_unshuffle) or DCR (phase-major: (i·r + j)·C + c, TF's depth_to_space /
#: space_to_depth).
SHUFFLE_ORDER = {"pixel_shuffle": "CRD", "depth_to_space": "DCR", "pixel_unshuffle": "CRD", "space_to_depth": "DCR"}


def kernel_phases(w: np.ndarray, r: int) -> np.ndarray:
    """A kernel ``(A, B, *k)`` split into its stride-``r`` phases: ``(A, B, *[r]*d, *[m]*d)`` with
    ``v[a, b, φ…, β…] = w[a, b, β·r + φ …]``, m = ⌈k/r⌉ (taps beyond k are zeros)."""
    k = w.shape[2:]
    d, m = len(k), [-(-kk // r) for kk in k]
    padded = np.pad(w, [(0, 0), (0, 0)] + [(0, mm * r - kk) for mm, kk in zip(m, k)])
    split = padded.reshape(w.shape[:2] + tuple(v for mm in m for v in (mm, r)))   # (A, B, m1, r, m2, r, …)
    order = [0, 1] + [3 + 2 * i for i in range(d)] + [2 + 2 * i for i in range(d)]
    return split.transpose(order)


def fold_phases(v: np.ndarray, order: str) -> np.ndarray:
    """``(A, B, *phases, *taps)`` → ``(A·r^d, B, *taps)``: the phases joined to axis 0 in a shuffle's
    channel order, CRD (a·r^d + phase) or DCR (phase·A + a), the phase index row-major."""
    d = (v.ndim - 2) // 2
    b, taps = v.shape[1], v.shape[2 + d:]
    phases = list(range(2, 2 + d))
    lead = phases + [0] if order == "DCR" else [0] + phases      # the axes that become axis 0, major first
    v = v.transpose(lead + [1] + list(range(2 + d, v.ndim)))
    return v.reshape((-1, b) + taps)


def pick_shuffle(bk, names, channels: int, r: int, rank: int = 2):
    """The first of ``names`` (backend shuffle methods) this framework runs, as ``(name, fn, order)``;
    :class:`NotApplicable` naming all of them when it has none.  Probed on a zero tensor with
    ``channels`` channels (the op's input), so a missing op is told apart from a failing one."""
    for name in names:
        spatial = (1,) * rank if name in ("pixel_shuffle", "depth_to_space") else (r,) * rank
        try:
            getattr(bk, name)(bk.asarray(np.zeros((1, channels) + spatial)), r)
        except NotApplicable:
            continue
        return name, getattr(bk, name), SHUFFLE_ORDER[name]
    raise NotApplicable(f"{bk.framework_name} has none of {', '.join(names)}")


def example_input(ctx, p, shape, name: str = "x") -> np.ndarray:
    """The input of example ``p``: its own values ``p.x`` (a source's worked numbers, one sample and one
    channel, float64 of shape (1, 1, *spatial)) where it gives them, else an array drawn by ``ctx`` of ``shape``."""
    if name in p:
        return np.asarray(p[name], dtype=np.float64).reshape(1, 1, *np.shape(p[name]))
    return ctx.array(name, shape)


@st.composite
def same_pools(draw, min_size: int = 1):
    """A pooling draw whose 'SAME' padding PyTorch can also express (symmetric): an odd kernel, and at
    stride 2 an odd size (total padding k − 1); ``min_size`` the smallest size at stride 1."""
    rank, k, s = draw(st.integers(1, 2)), draw(st.sampled_from([3, 5])), draw(st.integers(1, 2))
    spatial = [(2 * draw(st.integers(1, 3)) + 1) if s == 2 else draw(st.integers(min_size, 6)) for _ in range(rank)]
    return {"n": 1, "c": draw(st.integers(1, 2)), "spatial": spatial, "k": k, "stride": s}
