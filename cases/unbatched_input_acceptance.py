"""Which conv layers accept an input without a batch axis, (C, *spatial), and treat it as a batch of one."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, claim, conv_layers, oracle, source

#: Above this many output elements the oracle comparison is skipped (the seed's 246×248 image with a
#: 33×33 kernel is 50 M products; the statement itself is checked exactly against the batched call).
ORACLE_LIMIT = 4096


@claim(
    title="Conv layers that accept an unbatched (C, *spatial) input",
    statement="A conv layer accepts a single example without a batch axis, (C, H, W) for a 2-D conv, and gives "
              "the same result as the batched call on a batch of one (PyTorch's Conv2d does; an input with neither "
              "batch nor channel axis, the (246, 248) grey image, is rejected with a clear error).",
    sources=[
        source("003", "conv1 = torch.nn.Conv2d(in_channels = 1, out_channels = 1, kernel_size = 33)\n"
                      "tensor1 = torch.from_numpy(img_gray)\nout_2d_np = conv1(tensor1)"),
        source("003", "RuntimeError: Expected 4-dimensional input for 4-dimensional weight 1 1 33 33, but got "
                      "2-dimensional input of size [246, 248] instead"),
        source("003", "pytorch's Conv2d expects its 2D inputs to actually have 4 dimensions: mini-batch dim, "
                      "channel dim, and the two spatial dimensions."),
        source("003", "try:\nconv1(tensor1[None, None, ...])"),
    ],
    examples=[
        # seed 003: a 246×248 grey image, Conv2d(1, 1, 33); as (246, 248) it must raise, as (1, 246, 248)
        # it is one unbatched example
        {"c_in": 1, "c_out": 1, "k": 33, "spatial": [246, 248], "seed": True},
        # small 1-D, 2-D and 3-D cases (compared with the oracle too)
        {"c_in": 3, "c_out": 2, "k": 3, "spatial": [5, 6]}, {"c_in": 2, "c_out": 3, "k": 2, "spatial": [7]},
        {"c_in": 2, "c_out": 1, "k": 2, "spatial": [3, 4, 3]},
    ],
    # Other ranks, channel counts and kernel sizes; a few configurations only, because each new shape
    # costs JAX/Flax several compiles (linen and nnx, batched and unbatched).
    space=st.sampled_from([{"c_in": 1, "c_out": 2, "k": 3, "spatial": [5]},
                           {"c_in": 2, "c_out": 1, "k": 1, "spatial": [4, 3]},
                           {"c_in": 1, "c_out": 3, "k": 2, "spatial": [3, 4, 5]}]),
    deviations=[ORT_NO_FLOAT64_CONV, *ONNX_116_NO_LAYERS],
    expected={"numpy": "raises", "torch": "holds", "tensorflow": "raises", "jax": "raises", "flax": "holds",
              "onnxruntime": "holds", "onnx": "holds", "openvino": "holds", "litert": "raises"},
    notes={
        "numpy": "The oracle is written for batched (N, C, *spatial) input only: an unbatched input raises "
                 "OracleError (a reference needs no convenience forms; the batched call is what it checks).",
        "torch": "torch.nn.Conv{1,2,3}d accepts (C, *spatial) (documented: 'unbatched' input) and rejects an input "
                 "with neither axis (checked; its message is recorded, e.g. 'Expected 3D (unbatched) or 4D (batched) "
                 "input to conv2d'); the seed's older message ('Expected 4-dimensional input for 4-dimensional "
                 "weight') is from before unbatched support.  F.conv2d behaves the same (fact 'functional').",
        "tensorflow": "keras.layers.Conv{1,2,3}D rejects an unbatched input (checked; the error is recorded); "
                      "tf.nn.conv2d rejects it as well (fact 'functional'; in eager mode TF 2.21's oneDNN conv kernel "
                      "aborts the process on a rank-3 input, so the adapter runs it in graph mode, where shape "
                      "inference raises).",
        "jax": "No layer API: lax.conv_general_dilated needs lhs and rhs of equal rank and raises TypeError.",
        "flax": "flax.linen.Conv and flax.nnx.Conv treat an input with one axis fewer than (N, *spatial, C) as "
                "unbatched: they add the batch axis and remove it again.",
    },
)
def check(bk, p, ctx):
    rank = len(p.spatial)
    x, w = ctx.array("x", (p.c_in, *p.spatial)), ctx.array("w", (p.c_out, p.c_in, *(p.k,) * rank))
    b = ctx.array("b", (p.c_out,))
    out_spatial = tuple(s - p.k + 1 for s in p.spatial)
    # the framework's conv layers (every layer API), or its functional conv when it has no layers
    paths = conv_layers(bk, w, b, rank=rank, kernel_size=p.k, input_shape=(1, p.c_in, *p.spatial))

    # An input with neither batch nor channel axis (the seed's 2-D grey image) is rejected by every path.
    # (The seed's image gets its own error label; every drawn input shares one.)
    if p.c_in == 1:
        what = "the (246, 248) grey image" if p.get("seed") else "a drawn input"
        for api, layer in paths:
            ctx.raises(f"{api}: {what} without batch and channel axes", layer, bk.asarray(x[0]), support=True)
    # The functional conv's behaviour on the unbatched input, recorded (the layers decide the verdict).
    if bk.layer_apis:
        ctx.fact_outcome(f"functional.{rank}d", bk.conv, bk.asarray(x), bk.asarray(w), bk.asarray(b),
                         flag="accepts_unbatched")

    # The statement: the unbatched input is accepted (a framework that rejects it raises here: verdict
    # 'raises', with its error) and equals the batched call on a batch of one.
    for api, layer in paths:
        unbatched = bk.to_numpy(layer(bk.asarray(x)))
        ctx.fact(f"accepts_unbatched.{api}", True)
        batched = bk.to_numpy(layer(bk.asarray(x[None])))
        ctx.equal(f"{api}: unbatched output shape (C_out, *out)", unbatched.shape, (p.c_out, *out_spatial))
        ctx.identical(f"{api}: unbatched output == batched output of a batch of one (exact)", unbatched, batched[0])
        if np.prod(out_spatial) * p.c_out <= ORACLE_LIMIT:
            ctx.matches(f"{api}: batched output vs oracle", batched, oracle.conv, x[None], w, b, support=True)
