"""Circular cross-correlation = ifft(fft(x)·conj(fft(w zero-padded))), within the FFT's rounding (arXiv:1312.5851)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import claim, if_applicable, oracle, source, tolerance


@st.composite
def _space(draw):
    rank = draw(st.sampled_from([1, 2]))
    spatial = draw(st.lists(st.integers(1, 8), min_size=rank, max_size=rank))
    return {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, 3)), "c_out": draw(st.integers(1, 2)),
            "spatial": spatial, "k": [draw(st.integers(1, m)) for m in spatial]}


@claim(
    title="The convolution theorem: circular cross-correlation = ifft(fft(x) · conj(fft(w zero-padded)))",
    statement="A circular (periodic) cross-correlation y[n, o, i] = Σ_c Σ_k x[n, c, (i + k) mod N] w[o, c, k] equals "
              "ifft(Σ_c fft(x[n, c]) · conj(fft(w[o, c] zero-padded to N))), computed with the framework's FFT, "
              "within the bound of the FFT's own rounding.",
    sources=[source("https://en.wikipedia.org/wiki/Convolution_theorem",
                    "the convolution theorem (its discrete, periodic form): the DFT of a circular convolution is the "
                    "pointwise product of the DFTs; for the cross-correlation one factor is conjugated, "
                    "DFT(x ⋆ w) = DFT(x) · conj(DFT(w)) for real w."),
             source("arXiv:1312.5851", "Mathieu, Henaff and LeCun, 'Fast Training of Convolutional Networks through "
                                       "FFTs': this is done by computing convolutions as pointwise products in the "
                                       "Fourier domain while reusing the same transformed feature map many times.")],
    examples=[
        dict(n=1, c_in=1, c_out=1, spatial=[8], k=[3], describe=True),  # 8 samples, a 3-tap kernel (a power-of-two FFT)
        dict(n=1, c_in=2, c_out=2, spatial=[5, 6], k=[3, 2])],  # a 2-D 5×6 map (not a power of two) with 2 channels
    space=_space(), expected={"*": "holds", "onnxruntime": "n/a", "onnx": "n/a", "openvino": "n/a", "litert": "n/a"},
    notes={"*": "fftn/ifftn/conj/real are the framework's own; the product and the channel sum are its tensor "
                "arithmetic (* and +), the kernel's zero padding is done on the host. The comparison uses the "
                "worst-case FFT bound of equivcheck.tolerance.fft_correlation_bound (Higham, Theorem 24.2). "
                "Supporting, where the framework has a 'wrap' pad: wrap-padding by k−1 then a VALID conv is the "
                "same circular correlation. Fact: dropping the conjugate gives the circular convolution instead."},
)
def check(bk, p, ctx):
    axes = list(range(2, 2 + len(p.spatial)))
    x, w = ctx.array("x", (p.n, p.c_in, *p.spatial)), ctx.array("w", (p.c_out, p.c_in, *p.k))
    wide = np.pad(w, [(0, 0), (0, 0)] + [(0, n - k) for n, k in zip(p.spatial, p.k)])
    X, W = bk.fftn(bk.asarray(x), axes), bk.fftn(bk.asarray(wide), axes)
    def product(conjugate):
        Wc = bk.conj(W) if conjugate else W
        return bk.real(bk.ifftn(sum(bk.reshape(X[:, c], (p.n, 1, *p.spatial)) *
                                    bk.reshape(Wc[:, c], (1, p.c_out, *p.spatial)) for c in range(p.c_in)), axes))
    y, want = product(True), oracle.circular_correlation(x, w)
    # The FFT's error is not Σ|x·w|-shaped: tolerance.fft_correlation_bound gives it per output plane, expressed
    # here in compare's units (its one-term bound c(1)·u), as tolerance.compare_fft_correlation does.
    unit = float(tolerance.bound(1.0, 1, ctx.compute_dtype, sides=1))
    ctx.close("ifft(fft(x) · conj(fft(w))) vs oracle circular correlation", y, want, terms=1, sides=1,
              magnitude=np.broadcast_to(tolerance.fft_correlation_bound(x, w, ctx.compute_dtype) / unit, want.shape))
    wrapped = if_applicable(lambda: bk.conv(bk.pad(bk.asarray(x), [(0, k - 1) for k in p.k], "wrap"), bk.asarray(w)),
                            ctx=ctx, fact="circular correlation by wrap padding")
    if wrapped is not None:
        ctx.matches("wrap pad k−1 + VALID conv vs oracle circular correlation", wrapped, oracle.circular_correlation,
                    x, w, support=True)
    if p.get("describe"):
        ctx.fact("convolution theorem without the conjugate: equals the circular correlation",
                 tolerance.compare_fft_correlation(ctx.numpy(product(False)), want, x, w, ctx.compute_dtype).ok)
