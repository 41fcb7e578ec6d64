"""Deep-learning "convolution" is cross-correlation: it is a true convolution only with the kernel flipped."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, STRIDE_OR_DILATION, claim, op_bounds, oracle, small_convs, source

#: Seed 001's example kernel (a Sobel x-derivative): 180° rotation negates it.
SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@claim(
    title="Framework convolutions are cross-correlations, not mathematical convolutions",
    statement="A deep-learning framework's conv computes the mathematical convolution of the input with the "
              "kernel (as scipy.signal.convolve / np.convolve do, i.e. with the kernel reversed).",
    sources=[source("001", "Note I specifically said “correlation” as opposed to “convolution” and that is key. If you "
                           "think they “almost” the same thing, then I recommend you take some time and learn about "
                           "the differences."),
             source("001", "e.g. if you have a 3x3 kernel like this : [-1 0 1; -2 0 2; -1 0 1] and now you want to "
                           "convolve it with an input with N as depth or say channel, you just copy this 3x3 kernel N "
                           "times in 3rd dimension")],
    examples=[
        # seed 001: the 3x3 kernel [-1 0 1; -2 0 2; -1 0 1] copied over N = 3 input channels
        dict(n=1, c_in=3, c_out=1, spatial=[6, 6], k=[3, 3], stride=1, padding=0, dilation=1, kernel="sobel"),
        # the smallest asymmetric case: 1-D, one channel, a length-2 kernel
        dict(n=1, c_in=1, c_out=1, spatial=[2], k=[2], stride=1, padding=0, dilation=1, kernel="random"),
        dict(n=2, c_in=2, c_out=3, spatial=[5, 6], k=[2, 3], stride=2, padding=1, dilation=1, kernel="random")],
    space=# smallest draw: 1-D, one channel, a length-2 kernel; no dilated 3-D conv (TF CPU Conv3D has none in float64)
    small_convs(rank=st.integers(1, 3), steps=lambda rank: STRIDE_OR_DILATION[:3 if rank < 3 else 2], k=(2, 3),
                c_out=2, bias=False, kernel="random"),
    deviations=[ORT_NO_FLOAT64_CONV], expected="refuted",
    notes={"*": "The true convolution is the oracle's convolve (cross-correlation with the spatially flipped "
                "kernel), cross-checked against np.convolve(..., 'valid') in the 1-D single-channel case. Supporting "
                "facts: the framework's conv equals the oracle's cross-correlation, and equals the true convolution "
                "when it is given the flipped kernel. Which of the two the framework computes is recorded as a fact."},
)
def check(bk, p, ctx):
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = np.broadcast_to(SOBEL, (p.c_out, p.c_in, *SOBEL.shape)).copy() if p.kernel == "sobel" \
        else ctx.array("w", (p.c_out, p.c_in, *p.k))
    args = dict(stride=p.stride, padding=p.padding, dilation=p.dilation)
    got = bk.conv(bk.asarray(x), bk.asarray(w), **args)
    flipped = bk.conv(bk.asarray(x), bk.asarray(oracle.flip(w)), **args)
    is_correlation = ctx.matches("framework conv vs cross-correlation (oracle.conv)", got, oracle.conv, x, w,
                                 support=True, **args)
    ctx.matches("framework conv with the flipped kernel vs true convolution (oracle.convolve)", flipped,
                oracle.convolve, x, w, support=True, **args)
    if len(p.spatial) == 1 and p.c_in == 1 == p.c_out and p.stride == 1 and p.dilation == 1 and p.padding == 0:
        # NumPy's own convolution, not an oracle op: its magnitude is np.convolve on |x|, |w|
        def by_numpy(a, v):
            return np.stack([np.convolve(row, v[0, 0], mode="valid") for row in a[:, 0]])[:, None]
        ctx.close("framework conv with the flipped kernel vs np.convolve(x, w, 'valid')", flipped, by_numpy(x, w),
                  magnitude=by_numpy(np.abs(x), np.abs(w)), terms=op_bounds.terms(oracle.conv, x, w), sides=1,
                  support=True)
    # The statement as said: the framework's conv *is* the mathematical convolution.  Its result is the
    # correlation, so the bound covers the magnitudes of both ops (mirrored windows of the same products).
    is_convolution = ctx.alike("framework conv vs true convolution (the statement)", got, oracle.convolve(x, w, **args),
                               (oracle.conv, (x, w), args), (oracle.convolve, (x, w), args), sides=1)
    if is_correlation != is_convolution:  # a symmetric kernel (or zero input) cannot tell them apart
        ctx.fact("what the framework's conv computes", "cross-correlation" if is_correlation else "convolution")
