"""FlowNet's correlation layer (k = 0) is, per displacement, a channel dot product: a conv with f1 pixels as kernels."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, source


def correlation(f1, f2, d, s1, s2):
    """The definition, in float64: out[n, i·D + j, y', x'] = <f1[n, :, y, x], f2[n, :, y + oy_i, x + ox_j]>.

    y = y'·s1 (f1 sampled with stride s1); displacements o ∈ {−r, −r + s2, …, r}, r = ⌊d/s2⌋·s2, so
    D = 2⌊d/s2⌋ + 1 per axis; f2 is zero outside the map.  i runs over vertical, j over horizontal
    displacements."""
    h, w, r = *f1.shape[2:], (d // s2) * s2
    f1s, f2p = f1[:, :, ::s1, ::s1], np.pad(f2, ((0, 0), (0, 0), (r, r), (r, r)))
    return np.stack([np.einsum("nchw,nchw->nhw", f1s, f2p[:, :, oy:oy + h, ox:ox + w][:, :, ::s1, ::s1])
                     for oy in range(0, 2 * r + 1, s2) for ox in range(0, 2 * r + 1, s2)], axis=1)  # (N, D², H', W')


@claim(
    title="FlowNet correlation (k = 0) is a conv of f2's neighbourhood with each f1 pixel as a 1×1×C kernel",
    statement="The FlowNet correlation layer with k = 0, maximum displacement d and displacement stride s2 is, for "
              "each displacement, the channel-wise dot product of an f1 pixel with the displaced f2 pixel; it equals "
              "convolving each f1 pixel, used as a 1×1×C kernel, with the f2 neighbourhood around it (stride s2), "
              "and has D² output channels, D = 2⌊d/s2⌋ + 1 (d = 20, s2 = 2: 21×21 = 441).",
    sources=[source("000", "From feature map-2 the patch of 21x21x256 is extracted only once and then each 1x1x256 "
                           "kernel from feature map-1 is convolved with this (21x21x256) patch."),
             source("000", "This process is continued for all pixels of (21x21x256) patch till we get 441 feature maps "
                           "which is equal to number of pixels in extarcted feature map."),
             source("000", "There will be D^2 of these, according to the authors. (This part is not well described in "
                           "my opinion as there are many ways of interpreting what the stride value s_2 means."),
             source("000", "The correlation operation itself is a simple sum of dot products, where the dot products "
                           "are taken with vectors of shape (1, c) * (1, c)")],
    examples=[
        # seed 000 / FlowNetC: d = 20, s2 = 2 → D = 21, 441 channels (C = 8 keeps 36 pixels' 41×41 neighbourhoods small)
        dict(n=1, c=8, h=6, w=6, d=20, s1=1, s2=2),
        dict(n=1, c=256, h=2, w=2, d=20, s1=1, s2=2),  # the seed's 21x21x256 patches, on a 2×2 map
        dict(n=2, c=3, h=7, w=5, d=5, s1=2, s2=2)],  # s2 ∤ d (D = 2⌊5/2⌋+1 = 5), f1 stride s1 = 2, batch 2, uneven map
    space=st.fixed_dictionaries(dict(n=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5),
                                     d=st.integers(0, 4), s1=st.integers(1, 2), s2=st.integers(1, 3))),
    deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes={"*": "The reference is the layer's definition in NumPy float64 (a loop over the D² displacements of einsum "
                "dot products over channels; f2 zero outside the map; no 1/C normalisation).  The framework computes "
                "it as one grouped conv: every selected f1 pixel (N·H'·W' of them) is a (1, C, 1, 1) kernel of its own "
                "group, applied with stride s2 to the (C, 2r+1, 2r+1) f2 neighbourhood around it, r = ⌊d/s2⌋·s2 "
                "(cutting out kernels and neighbourhoods is data movement, done in NumPy).  With a neighbourhood of "
                "radius d instead of r the conv would give ⌊2d/s2⌋+1 displacements per axis, which is not 2⌊d/s2⌋+1 "
                "when s2 does not divide d."},
)
def check(bk, p, ctx):
    f1, f2 = ctx.array("f1", (p.n, p.c, p.h, p.w)), ctx.array("f2", (p.n, p.c, p.h, p.w))
    r, D = (p.d // p.s2) * p.s2, 2 * (p.d // p.s2) + 1
    want, magnitude = correlation(f1, f2, p.d, p.s1, p.s2), correlation(np.abs(f1), np.abs(f2), p.d, p.s1, p.s2)
    ctx.equal("reference has D² channels, D = 2⌊d/s2⌋+1", want.shape[1], D * D, support=True)
    # Each selected f1 pixel is a 1×1×C kernel; its group's input is the f2 neighbourhood around it.
    f1s = f1[:, :, ::p.s1, ::p.s1]
    ho, wo = f1s.shape[2:]
    pixels, span = p.n * ho * wo, 2 * r + 1
    kernels = f1s.transpose(0, 2, 3, 1).reshape(pixels, p.c, 1, 1)            # (P, C, 1, 1)
    f2p = np.pad(f2, ((0, 0), (0, 0), (r, r), (r, r)))
    patches = np.stack([f2p[i, :, y * p.s1:y * p.s1 + span, x * p.s1:x * p.s1 + span]
                        for i in range(p.n) for y in range(ho) for x in range(wo)])  # (P, C, span, span)
    got = ctx.numpy(bk.conv(bk.asarray(patches.reshape(1, pixels * p.c, span, span)), bk.asarray(kernels),
                            stride=p.s2, groups=pixels))                            # (1, P, D, D)
    ctx.equal("conv output per pixel: D×D displacements", got.shape, (1, pixels, D, D))
    got = got.reshape(p.n, ho, wo, D * D).transpose(0, 3, 1, 2)                      # (N, D², H', W')
    ctx.equal("D² output channels", got.shape[1], D * D)
    # The reference is this claim's own definition (not an oracle op): C products per output, of |f1|·|f2|.
    ctx.close("conv of f2 neighbourhoods with f1 pixels == correlation (per displacement channel dot product)",
              got, want, magnitude=magnitude, terms=p.c, sides=1)
    if p.d == 20 and p.s2 == 2:
        ctx.fact("flownetc_d20_s2", {"D": D, "channels": int(got.shape[1])})
