"""A conv filter spans the whole input depth: a kernel of the wrong depth is rejected."""
from hypothesis import strategies as st

from equivcheck.case import (ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, claim, conv_layers, functional_kernel_shape,
                             layouts, oracle, source)


@st.composite
def _space(draw):
    # Draws are the one place frameworks can differ: input depth f a multiple m of the kernel depth kd, and
    # the number of filters a multiple of m, so the wrong kernel *could* be read as a grouped conv
    # (groups = m).  Other wrong depths (kd > f, kd not dividing f) are in the fixed examples.
    rank = draw(st.integers(1, 2))
    kd, m = draw(st.integers(1, 3)), draw(st.integers(2, 3))
    k = [draw(st.integers(1, 3)) for _ in range(rank)]
    return {"f": kd * m, "kd": kd, "n": m * draw(st.integers(1, 2)), "k": k,
            "spatial": [kk + draw(st.integers(0, 3)) for kk in k]}


@claim(
    title="A filter spans all input channels; a kernel of the wrong depth is rejected",
    statement="A conv filter always spans the whole input depth: with a 60×60×10 input the kernel must be "
              "(5,5,10,5), and a (5,5,5,5) kernel (depth 5) raises an error in every framework; the output depth "
              "equals the number of filters whatever the input depth.",
    sources=[
        source("003", "if the input dimension is (60,60,10) (where the last dimension is often referred as "
                      "\"channels\") and the desired output number of channels is 5, can the filter be (5,5,5,5) "
                      "or should it be (5,5,10,5) instead ?"),
        source("003", "It takes all channels at once, so 5×5×10×5 should be right."),
        source("004", "The input depth has absolutely nothing to do with your output depth. The input depth only "
                      "has control of the filter depth."),
        source("004", "Depth of CONV layer is number of filters it is using.\nDepth of a filter is equal to depth "
                      "of image it is using as input."),
    ],
    examples=[
        # seed 003: 60×60×10 input, 5 filters of 5×5: (5,5,10,5) works, (5,5,5,5) must not
        {"f": 10, "kd": 5, "n": 5, "k": [5, 5], "spatial": [60, 60], "seed": True, "fixed": True},
        # seed 004: AlexNet-like depth 3 → 96 filters of 11×11×3 (small spatial); a depth-1 kernel must not run
        {"f": 3, "kd": 1, "n": 96, "k": [11, 11], "spatial": [11, 12], "fixed": True},
        # kernel deeper than the input, and a depth that does not divide the input depth; 1-D and 3-D
        {"f": 2, "kd": 3, "n": 4, "k": [3], "spatial": [5], "fixed": True},
        {"f": 6, "kd": 4, "n": 2, "k": [2, 2], "spatial": [3, 4], "fixed": True},
        {"f": 4, "kd": 2, "n": 2, "k": [2, 1, 2], "spatial": [3, 2, 3], "fixed": True},
        # seed 003's shapes with 6 filters instead of 5: 10 = 2·5 and 6 = 2·3, so the kernel fits a grouped
        # conv with 2 groups exactly
        {"f": 10, "kd": 5, "n": 6, "k": [5, 5], "spatial": [60, 60], "fixed": True},
    ],
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV, *ONNX_116_NO_LAYERS],
    expected={"*": "holds", "tensorflow": "refuted", "litert": "refuted"},
    notes={
        "tensorflow": "tf.nn.conv1d/conv2d infer a grouped convolution from the filter: a kernel of depth kd on "
                      "f = m·kd channels runs as groups=m whenever the number of filters is a multiple of m (the "
                      "result equals the grouped conv, a supporting check). The seed's own (5,5,5,5) on 10 "
                      "channels raises only because 5 filters do not split into 2 groups (\"output depth must be "
                      "evenly divisible by number of groups: 5 vs 2\"). tf.nn.conv3d and the Keras layers reject "
                      "every wrong depth.",
        "jax": "lax.conv_general_dilated takes the kernel as OI*; feature_group_count defaults to 1 and is never "
               "inferred, so any other depth raises.",
        "flax": "Functional conv = linen.Conv.apply with the kernel as a parameter: Flax infers the depth from "
                "the input and rejects the parameter's shape (ScopeParamShapeError, recorded); nnx.Conv's rejection is "
                "recorded too.",
        "*": "Draws cover ranks 1–2 with input depths that are multiples of the kernel depth (the only place a "
             "framework could read the kernel as grouped), through the functional conv; the fixed examples add "
             "other depths, 3-D, and every layer API (torch.nn, keras, linen, nnx).",
    },
)
def check(bk, p, ctx):
    rank = len(p.k)
    suffix = " (seed 003: (5,5,5,5) kernel on 60×60×10)" if p.get("seed") else ""
    x, w_bad = ctx.tensor("x", (1, p.f, *p.spatial)), ctx.array("w_wrong_depth", (p.n, p.kd, *p.k))
    w_good, bias = ctx.array("w", (p.n, p.f, *p.k)), ctx.array("bias", (p.n,))

    # How the functional conv spells the kernel: its native layout, and the wrong kernel's shape in it.
    ctx.fact(f"functional kernel layout ({bk.functional_api}, {rank}-D)",
             layouts.kernel_layout(bk.framework_name, "conv", rank, api=bk.functional_api))
    if p.get("seed"):
        ctx.fact("seed 003 wrong kernel in the functional layout", functional_kernel_shape(bk, "conv", w_bad))

    # The statement: a kernel whose depth is not the input depth is rejected ...
    rejected = ctx.raises(f"functional conv rejects kernel depth kd != input depth f{suffix}", bk.conv, x,
                          bk.asarray(w_bad))
    if rejected is None and p.f % p.kd == 0:
        # ... and what the framework did instead: a grouped conv with groups = f / kd.
        ctx.matches("the silently accepted kernel ran as a grouped conv (groups = f / kernel depth)",
                    bk.conv(x, bk.asarray(w_bad)), oracle.conv, x, w_bad, groups=p.f // p.kd, support=True)
        ctx.fact(f"{bk.functional_api} conv{rank}d reads a too-shallow kernel as", "a grouped conv, groups = "
                 "input depth / kernel depth, when the filters split evenly into the groups")
    # Layers are checked on the fixed examples (1-D, 2-D, 3-D, every kind of wrong depth); the draws probe the
    # functional ops, where a framework could infer groups, and each extra layer costs Flax several compiles.
    layer_apis = bk.layer_apis if p.get("fixed") else ()
    for api in layer_apis:
        layer = bk.layer("conv", rank=rank, in_channels=p.kd, out_channels=p.n, kernel_size=tuple(p.k), api=api,
                         input_shape=(1, p.kd, *p.spatial))
        ctx.raises(f"{layer.api} built for depth kd, called on depth f{suffix}", layer, x)

    # The right kernel (depth f) works, and the output depth is the number of filters.
    y = bk.conv(x, bk.asarray(w_good), bk.asarray(bias))
    ctx.equal("output depth == number of filters", tuple(y.shape)[1], p.n)
    ctx.matches("conv with the full-depth kernel vs oracle", y, oracle.conv, x, w_good, bias)
    full_depth = (conv_layers(bk, w_good, bias, rank=rank, kernel_size=tuple(p.k), input_shape=(1, p.f, *p.spatial))
                  if layer_apis else ())
    for _, layer in full_depth:
        ctx.equal(f"{layer.api}: native kernel holds the full depth",
                  sorted(layer.kernel_shape), sorted((p.n, p.f, *p.k)))
        y = layer(x)
        ctx.equal(f"{layer.api}: output depth == number of filters", tuple(y.shape)[1], p.n)
        ctx.matches(f"{layer.api} with the full-depth kernel vs oracle", y, oracle.conv, x, w_good, bias)
