"""TF 'SAME' average pooling divides by the in-bounds count; PyTorch's AvgPool (count_include_pad=True) by k^d."""
import numpy as np

from equivcheck.case import (ORT_NO_FLOAT64_CONV, NotApplicable, claim, if_applicable, native_layer, oracle, same_pools,
                             source)


@claim(
    title="'SAME' average pooling is PyTorch's AvgPool with count_include_pad=False, not its default True",
    statement="TF 'SAME' average pooling equals PyTorch AvgPool with the same pads (PyTorch's default "
              "count_include_pad=True).",
    sources=[
        source("apache/tvm#1144", "in Caffe2 and Tensorflow they do average pool without counting padding: for "
                                  "0 0 0 / 0 1 2 / 0 3 4 it is (1 + 2 + 3 + 4) / 4, with padding (1 + 2 + 3 + 4) / 9"),
        source("pytorch/pytorch#8644", "count_include_pad: when True, will include the zero-padding in the averaging "
                                       "calculation. Default: True ... the subtle twist is that TF uses False by "
                                       "default"),
        source("microsoft/onnxruntime#16203", "count_include_pad calculates the most right output with dividing it "
                                              "by kernel size regardless it's not padded (ONNX AveragePool, whose "
                                              "default is count_include_pad=0)")],
    examples=[
        # apache/tvm#1144: the 2x2 map [[1, 2], [3, 4]] padded by 1, k = 3: the corner is 10/4 vs 10/9
        dict(n=1, c=1, spatial=[2, 2], k=3, stride=1, x=[[1.0, 2.0], [3.0, 4.0]]),
        dict(n=1, c=2, spatial=[7, 5], k=3, stride=2), dict(n=1, c=1, spatial=[6], k=5, stride=1)],
    # every example is an AveragePool, which ONNX Runtime's CPU provider has no float64 kernel for
    space=same_pools(2), expected="refuted", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "'SAME' average pooling is TF's: the 'SAME' pads with the padding left out of each divisor (the "
                "oracle's count_include_pad=False); the statement compares the framework's average pool with those "
                "pads and count_include_pad=True against it. Supporting: the framework's 'same' with either divisor "
                "it offers, count_include_pad=False and True with explicit pads, and the native pooling layers (the "
                "default divisor of a layer's 'same' is recorded as a fact where the layer has a default; Keras' "
                "AveragePooling 'same' always leaves the padding out).",
           "tensorflow": "tf.nn.avg_pool takes only 'SAME'/'VALID': PyTorch's AvgPool(p) is spelt as TF users do, "
                         "tf.pad with zeros then a VALID average pool (the zeros count, as with "
                         "count_include_pad=True).",
           "torch": "PyTorch has no 'same' pooling: the 'SAME' side is the oracle's (TF's rule, checked in the TF "
                    "column)."},
)
def check(bk, p, ctx):
    k, s = p.k, p.stride
    x = np.asarray(p.x, dtype=np.float64)[None, None] if "x" in p else ctx.array("x", (p.n, p.c, *p.spatial))
    X, pads = bk.asarray(x), [oracle.same_padding(n, k, s) for n in p.spatial]
    sym = [before for before, _ in pads]
    same = dict(stride=s, padding=pads, count_include_pad=False)
    for include in (False, True):
        got = if_applicable(lambda: bk.avg_pool(X, k, s, padding="same", count_include_pad=include))
        if got is not None:
            ctx.matches(f"'same' average pool with count_include_pad={include} vs the 'SAME' pads", got,
                        oracle.avg_pool, x, k, stride=s, padding=pads, count_include_pad=include, support=True)
    try:
        included = bk.avg_pool(X, k, s, padding=sym, count_include_pad=True)
        excluded = bk.avg_pool(X, k, s, padding=sym, count_include_pad=False)
    except NotApplicable:  # no explicit pool padding (tf.nn.avg_pool): its users' AvgPool(p) is tf.pad, then VALID
        included, excluded = bk.avg_pool(bk.pad(X, pads, "constant"), k, s), None
    ctx.matches("count_include_pad=True vs k^d divisor", included, oracle.avg_pool, x, k, stride=s, padding=sym,
                support=True)
    if excluded is not None:
        ctx.matches("count_include_pad=False vs 'SAME'", excluded, oracle.avg_pool, x, k, **same, support=True)
    ctx.matches("AvgPool(pads, count_include_pad=True) vs 'SAME' average pooling", included, oracle.avg_pool, x, k,
                **same)
    # the native layers: 'same' with the layer's own default divisor (found out and recorded), explicit pads both ways
    for word, include in (("same", None), ("same", False), (sym, True), (sym, False)):
        option = {} if include is None else {"count_include_pad": include}
        layer = native_layer(bk, "avg_pool", rank=len(p.spatial), in_channels=p.c, kernel_size=k, stride=s,
                             padding=word, input_shape=x.shape, **option)
        if layer is None:
            continue
        got = layer(X)
        if include is None:
            include = not ctx.fits(got, oracle.avg_pool(x, k, **same), oracle.avg_pool, x, k, **same)
            ctx.fact(f"{layer.api}(padding='same') default divisor", "k^d (padding counts)" if include else
                     "in-bounds count (padding left out, as TF)")
        ctx.matches(f"{layer.api}(padding={word!r}, count_include_pad={include}) vs oracle", got, oracle.avg_pool,
                    x, k, stride=s, padding=pads, count_include_pad=include, support=True)
