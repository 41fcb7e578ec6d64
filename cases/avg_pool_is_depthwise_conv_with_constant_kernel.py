"""Average pooling is a depthwise conv with the constant kernel 1/prod(k) and the same stride (arXiv:1412.6806)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, if_applicable, native_layer_output, oracle, source


@st.composite
def _space(draw):
    rank = draw(st.sampled_from([2, 1]))
    k = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    padding = [draw(st.integers(0, kk // 2)) for kk in k]
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), k=k, stride=[draw(st.integers(1, 3))] * rank,
                padding=padding, spatial=[max(1, kk - 2 * q) + draw(st.integers(0, 3)) for kk, q in zip(k, padding)])


@claim(
    title="avg_pool (VALID, or padded with count_include_pad=True) = depthwise conv with kernel 1/prod(k)",
    statement="Average pooling with window k and stride s, unpadded or zero-padded with the padding counted in the "
              "divisor (count_include_pad=True), equals a depthwise convolution (groups = C) whose kernel is the "
              "constant 1/prod(k), with the same stride and padding.",
    sources=[source("arXiv:1412.6806",
                    "Springenberg et al., 'Striving for Simplicity: The All Convolutional Net': a pooling layer can "
                    "be seen as performing a feature-wise convolution in which the activation function is replaced "
                    "by the p-norm (p = 1 for average pooling); we find that max-pooling can simply be replaced by "
                    "a convolutional layer with increased stride.")],
    examples=[
        # 2×2 average pooling with stride 2 (the classic downsampling); 3×3 stride 1 padded by 1
        dict(n=1, c=2, k=[2, 2], stride=[2, 2], padding=[0, 0], spatial=[4, 4], describe=True),
        dict(n=1, c=1, k=[3, 3], stride=[1, 1], padding=[1, 1], spatial=[3, 4], describe=True),
        dict(n=2, c=3, k=[3], stride=[2], padding=[1], spatial=[6])],
    space=_space(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "The kernel 1/prod(k) is handed to the framework, which rounds it to its dtype (one more rounding per "
                "product, inside the pooling's bound); the pooling and the depthwise conv run in the framework, and "
                "the native pooling layer (torch AvgPool{n}d, Keras AveragePooling{n}D, Flax avg_pool) where it takes "
                "the padding. Fact: whether count_include_pad=False (where the framework has it) is also the "
                "depthwise conv — it is not once a window reaches into the padding."},
)
def check(bk, p, ctx):
    C, k, pads = p.c, list(p.k), [(q, q) for q in p.padding]
    x = ctx.array("x", (p.n, C, *p.spatial))
    X, pool_kw = bk.asarray(x), dict(stride=p.stride, padding=pads)
    counted = dict(pool_kw, count_include_pad=True)
    pooled = bk.avg_pool(X, k, **counted)
    ctx.matches("avg_pool(count_include_pad=True) vs oracle", pooled, oracle.avg_pool, x, k, **counted, support=True)
    # handed over as float64: the framework rounds 1/prod(k) to its dtype (one more rounding per product, a
    # relative u that the pooling's bound covers when the framework computes in that dtype)
    kernel = np.full((C, 1, *k), 1.0 / np.prod(k))
    depthwise = bk.conv(X, bk.asarray(kernel), groups=C, **pool_kw)
    ctx.agree("avg_pool == depthwise conv with the constant kernel 1/prod(k)", depthwise, pooled, oracle.avg_pool, x,
              k, **counted)
    native = native_layer_output(bk, "avg_pool", x, ctx=ctx, fact="avg_pool layer with this padding", rank=len(k),
                                 in_channels=C, kernel_size=k, stride=p.stride,
                                 padding=pads if any(p.padding) else "valid", count_include_pad=True)
    if native:
        ctx.agree(f"native {native[0].api} == depthwise conv", native[1], depthwise, oracle.avg_pool, x, k, **counted)
    if p.get("describe") and any(p.padding):
        key = "avg_pool(count_include_pad=False), padded: equals the depthwise conv 1/prod(k)"
        excluded = if_applicable(lambda: bk.avg_pool(X, k, **pool_kw, count_include_pad=False), ctx=ctx, fact=key)
        if excluded is not None:
            ctx.fact(key, ctx.fits(excluded, oracle.conv(x, kernel, groups=C, **pool_kw), oracle.conv, x, kernel,
                                   groups=C, sides=1, **pool_kw))
