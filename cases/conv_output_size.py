"""Conv output size: out = floor((n + 2p − d(k−1) − 1)/s) + 1, per spatial dim, in every framework."""
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, oracle, per_dim, source


def formula(n, k, s, p, d):
    """The claim's formula for one spatial dim (p symmetric, on both sides)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def _space(draw):
    rank = draw(st.integers(1, 3))
    steps, spatial = [], [draw(st.integers(1, 9)) for _ in range(rank)]
    sizes = list(spatial)
    for _ in range(draw(st.integers(1, 2))):
        # per dimension, drawn in this order: k in 1..4, s in 1..3, d in 1..2, p in 0..2
        k, s, d, p = ([draw(st.integers(lo, hi)) for _ in range(rank)] for lo, hi in ((1, 4), (1, 3), (1, 2), (0, 2)))
        sizes = [formula(n, *a) for n, a in zip(sizes, zip(k, s, p, d))]
        if min(sizes) < 1:  # the kernel does not fit: a different claim
            break
        steps.append({"c_out": draw(st.integers(1, 4)), "k": k, "s": s, "p": p, "d": d})
    if not steps:
        steps = [{"c_out": 1, "k": [1] * rank, "s": [1] * rank, "p": [0] * rank, "d": [1] * rank}]
    return {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, 4)), "spatial": spatial, "steps": steps}


def _step(c_out, k, s, p):
    """One 2-D conv of a fixed example: square kernel, stride and padding (or 'same'), dilation 1."""
    return {"c_out": c_out, "k": [k, k], "s": [s, s], "p": p if p == "same" else [p, p], "d": [1, 1]}


@claim(
    title="Conv output size is floor((n + 2p − d(k−1) − 1)/s) + 1",
    statement="Along every spatial dim a convolution with kernel k, stride s, symmetric padding p and dilation d "
              "turns size n into floor((n + 2p − d(k−1) − 1)/s) + 1, and its depth is the number of filters: "
              "227 → 55 (F=11, S=4, P=0), 10×5×6 → 8×3×16, 28×28 'SAME' stride 1 stays 28×28 (then a 2×2 "
              "max-pool gives 14×14), T×80×3 through two 3×3 stride-2 convs with 32 kernels → T/4×20×32, "
              "60×60×10 with 5×5 and 5 filters → 56×56×5.",
    sources=[
        source("004", "accepted images of size [227x227x3]. On the first Convolutional Layer, it used neurons with "
                      "receptive field size F=11, stride S=4 and no zero padding P=0. Since (227 - 11)/4 + 1 = 55, "
                      "and since the Conv layer had a depth of K=96, the Conv layer output volume had size "
                      "[55x55x96]."),
        source("002", "Say I have a 10(width) * 5(height) * 6(channels) image, and I feed it into a default 2-D "
                      "convolution layer with stride=1 and padding=0 and expect the output to be 8(width) * "
                      "3(height) * 16(channels)."),
        source("001", "Convolutional layer with kernel_size = (5,5) with 32 output channels\nnew dimension of "
                      "throughput = (32, 28, 28)\nMax Pooling layer with pool_size (2,2) and step (2,2)\nnew "
                      "dimension of throughput = (32, 14, 14)"),
        source("001", "the authors are using 32 kernels of shape 3x3, which results (after two layers with 2x2 "
                      "striding) in an output of shape t/4x20x32 where t stands for the time dimension."),
        source("003", "julia> c(randn(Float32, 60, 60, 10, 1)) |> summary # check it works\n"
                      "\"56×56×5×1 Array{Float32, 4}\""),
    ],
    examples=[
        # seed 004: AlexNet conv1 along one axis, 227 → 55 (the second axis kept small, 11 → 1, to be cheap)
        {"n": 1, "c_in": 3, "spatial": [227, 11], "steps": [_step(96, 11, 4, 0)], "want": [96, 55, 1]},
        # seed 002: 10(w)×5(h)×6(c) → 8(w)×3(h)×16(c)
        {"n": 1, "c_in": 6, "spatial": [5, 10], "steps": [_step(16, 3, 1, 0)], "want": [16, 3, 8]},
        # seed 001: MNIST, 5×5 'SAME' (the framework's own string) conv, then a 2×2 max-pool → 32×14×14
        {"n": 1, "c_in": 1, "spatial": [28, 28], "steps": [_step(32, 5, 1, "same")], "pool": 2, "want": [32, 14, 14]},
        # seed 001: mel features T×80×3 (T = 16), two 3×3 stride-2 convs, padding 1 → T/4×20×32 ('valid': 3×19)
        {"n": 1, "c_in": 3, "spatial": [16, 80], "steps": [_step(32, 3, 2, 1), _step(32, 3, 2, 1)],
         "want": [32, 4, 20], "mel": True},
        # seed 003: 60×60×10 → 56×56×5
        {"n": 1, "c_in": 10, "spatial": [60, 60], "steps": [_step(5, 5, 1, 0)], "want": [5, 56, 56]},
    ],
    space=_space(),
    deviations=[ORT_NO_FLOAT64_CONV],
    expected="holds",
    notes={
        "*": "Functional convs with explicit symmetric integer padding (the framework's own 'same' string for the "
             "MNIST example, where it equals p=(k−1)/2); a 2-D max-pool for the 14×14 step. The mel example "
             "reproduces T/4×20×32 with padding 1 (TF-style 'SAME' would too; 'valid' does not).",
    },
)
def check(bk, p, ctx):
    rank = len(p.spatial)
    h, channels = ctx.tensor("x", (p.n, p.c_in, *p.spatial)), p.c_in
    for index, step in enumerate(p.steps):
        k, s, d = (per_dim(step[name], rank) for name in ("k", "s", "d"))
        same = step["p"] == "same"
        # what 'same' means at stride 1 with an odd k; the framework is given its own word for it
        pads = [(dd * (kk - 1)) // 2 for kk, dd in zip(k, d)] if same else per_dim(step["p"], rank)
        padding = "same" if same else pads
        w = ctx.tensor(f"w{index}", (step["c_out"], channels, *k))
        y = bk.conv(h, w, stride=s, padding=padding, dilation=d)
        want_size = [formula(n, kk, ss, pp, dd) for n, kk, ss, pp, dd in zip(ctx.numpy(h).shape[2:], k, s, pads, d)]
        ctx.equal(f"conv {index + 1}: output shape == (N, filters, floor((n+2p-d(k-1)-1)/s)+1 ...)",
                  tuple(y.shape), (p.n, step["c_out"], *want_size))
        ctx.matches(f"conv {index + 1} vs oracle", y, oracle.conv, h, w, stride=s, padding=padding, dilation=d)
        h, channels = y, step["c_out"]
    if "pool" in p:
        y = bk.max_pool(h, p.pool, p.pool)
        pooled = [formula(n, p.pool, p.pool, 0, 1) for n in ctx.numpy(h).shape[2:]]
        ctx.equal("max-pool: output shape", tuple(y.shape), (p.n, channels, *pooled))
        ctx.matches("max-pool vs oracle", y, oracle.max_pool, h, p.pool, p.pool)
        h = y
    if "want" in p:
        ctx.equal("the seed's output volume (channels first)", tuple(h.shape[1:]), tuple(p.want), support=True)
    if p.get("mel"):  # the sizes 'valid' would give, by the oracle's size function (live: two more JAX compiles)
        sizes = list(p.spatial)
        for step in p.steps:
            sizes = [oracle.conv_output_size(n, kk, ss, "valid") for n, kk, ss in zip(sizes, step["k"], step["s"])]
        ctx.fact("mel_T16x80x3_two_3x3_stride2_convs", {"padding 1 (symmetric), run": list(h.shape[1:]),
                 "padding 'valid'": [channels, *sizes],
                 "seed says": "T/4 x 20 x 32 with T=16 → 4 x 20 x 32 (channels first: [32, 4, 20])"})
