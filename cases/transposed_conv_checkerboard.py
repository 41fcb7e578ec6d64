"""'Transposed convs upsample evenly' fails when k is not divisible by s: the checkerboard (Odena et al., Distill)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, native_layer_output, op_bounds, oracle, source, spatial_crop


@st.composite
def _space(draw):
    rank, s, k = draw(st.sampled_from([1, 2])), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    # enough input pixels that the interior (every output all k taps reach) spans more than one period
    return dict(rank=rank, k=k, s=s, n=-(-k // s) + 2 + draw(st.integers(0, 1)), c_in=draw(st.integers(1, 2)))


@claim(
    title="Transposed conv of a constant is constant away from the borders only when s divides k (checkerboard)",
    statement="A transposed convolution upsamples evenly: with a constant input and a constant kernel, every output "
              "away from the borders has the same value, C·(k/s)^d (each input pixel paints k^d outputs, s^d apart).",
    sources=[source("Odena, Dumoulin and Olah, 'Deconvolution and Checkerboard Artifacts', Distill (2016)",
                    "deconvolution can easily have 'uneven overlap,' putting more of the metaphorical paint in some "
                    "places than others. In particular, deconvolution has uneven overlap when the kernel size (the "
                    "output window size) is not divisible by the stride (the spacing between points on the top).")],
    examples=[
        # the article's pictures: kernel 3 stride 2 overlaps unevenly (1-D and 2-D), kernel 4 stride 2 evenly
        dict(rank=1, k=3, s=2, n=5, c_in=1, describe=True),
        dict(rank=2, k=3, s=2, n=4, c_in=1, describe=True),
        dict(rank=2, k=4, s=2, n=4, c_in=1, describe=True),
        # the smallest counterexample: k < s leaves every other output unpainted
        dict(rank=1, k=1, s=2, n=3, c_in=1, describe=True)],
    space=_space(), expected="refuted", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "Input and kernel are all ones. Supporting facts (must hold): the framework matches the oracle, the "
                "native transposed-conv layer (where there is one) matches the functional op, and the interior is "
                "periodic with period s. The statement fails exactly when k mod s ≠ 0; the smallest counterexample "
                "is k = 1, s = 2 (outputs 1 0 1 0 1: every other pixel is never painted)."},
)
def check(bk, p, ctx):
    d, k, s = p.rank, p.k, p.s
    x, w = np.ones((1, p.c_in) + (p.n,) * d), np.ones((p.c_in, 1) + (k,) * d)
    y = bk.conv_transpose(bk.asarray(x), bk.asarray(w), stride=s)
    ctx.matches("conv_transpose of ones vs oracle", y, oracle.conv_transpose, x, w, stride=s, support=True)
    native = native_layer_output(bk, "conv_transpose", x, weights=bk.asarray(w), ctx=ctx, rank=d, in_channels=p.c_in,
                                 out_channels=1, kernel_size=k, stride=s, use_bias=False,
                                 fact="checkerboard: native transposed-conv layer")
    if native:
        layer, out = native[0], ctx.numpy(native[1])
        # Keras/Flax 'valid' transposed convs give n·s + max(k − s, 0) outputs, PyTorch (n − 1)·s + k: with k < s
        # the native layer ends in s − k more (unpainted) outputs, so the layers are compared on the common part
        size = (p.n - 1) * s + k
        if p.get("describe"):
            ctx.fact(f"checkerboard: native transposed-conv layer output size, n={p.n}, k={k}, s={s}",
                     {"api": layer.api, "size": out.shape[2], "functional (n−1)·s + k": size})
        ctx.agree(f"native {layer.api} vs functional conv_transpose", spatial_crop(out, [size] * d), y,
                  oracle.conv_transpose, x, w, stride=s, support=True)
    inner = (0, 0) + (slice(k - 1, (p.n - 1) * s + 1),) * d       # outputs that all k taps of every input reach
    got = ctx.numpy(y)[inner]
    mag = op_bounds.magnitude(oracle.conv_transpose, x, w, stride=s)[inner]
    terms = op_bounds.terms(oracle.conv_transpose, x, w, stride=s)
    period = (slice(s, None),) * d, (slice(None, -s),) * d
    # the interior compared with itself shifted by s: two framework values of the same op, its magnitude and terms
    ctx.close("interior is periodic with period s", got[period[0]], got[period[1]], magnitude=mag[period[0]],
              terms=terms, sides=2, support=True)
    # the statement's even value is exact (C·(k/s)^d); the framework's sums of ones carry the op's bound
    ctx.close("every interior output == C·(k/s)^d (even upsampling)", got, np.full(got.shape, p.c_in * (k / s) ** d),
              magnitude=mag, terms=terms, sides=1)
    if p.get("describe"):
        ctx.fact(f"checkerboard: {d}-D, k={k}, s={s}: one period of the interior of ones * ones",
                 {"period": got[(slice(0, s),) * d].tolist(), "even_value": p.c_in * (k / s) ** d,
                  "k_divisible_by_s": k % s == 0})
