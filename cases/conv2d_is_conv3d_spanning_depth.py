"""An r-D conv on C input channels ≡ an (r+1)-D conv on a one-channel volume whose depth is C."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, STRIDE_OR_DILATION, claim, conv_arrays, depth_axis_kw, native_layer,
                             oracle, small_convs, source, tensor)


@claim(
    title="A 2-D conv over C channels is a 3-D conv whose kernel spans the whole depth C",
    statement="Conv2D on a C×H×W input equals Conv3D on the 1×C×H×W volume (one channel, depth C) with a "
              "kernel of depth C, valid along depth: the 3-D kernel fits once along depth, so the output has "
              "depth 1 and is the 2-D conv's output.",
    sources=[source("002", "the Conv2D layers are actually doing a 3D convolution, treating the output maps of the "
                           "previous layer as channels. It has 16 3D kernels of size(7x7x8)."),
             source("002", "The motion of that 3D kernel as it \"sweeps\" across the input is only 2D, so it is still "
                           "referred to as a 2D convolution, and the output of that convolution is a 2D feature map."),
             source("001", "A 2D convolution correlates the filter along \"x and y\" and is learning (kernel x kernel "
                           "x input_channel) parameters per output channel.")],
    examples=[
        # seed 002: Keras Conv2D(16, (7, 7)) after Conv2D(8, ...): 16 kernels of 7x7x8 (on a small map)
        dict(n=1, c_in=8, c_out=16, spatial=[12, 12], k=[7, 7], stride=1, padding=0, dilation=1, bias=True),
        # seed 000: T x 80 x 3 mel features through 32 kernels 3x3 strided 2x2 (T = 8 here)
        dict(n=1, c_in=3, c_out=32, spatial=[8, 80], k=[3, 3], stride=2, padding=0, dilation=1, bias=False),
        # the same identity one rank down: Conv1D over C channels == Conv2D over a C-row image
        dict(n=2, c_in=3, c_out=2, spatial=[9], k=[3], stride=1, padding=1, dilation=2, bias=True)],
    space=# TF's CPU Conv3D has no float64 kernel for dilation > 1: dilation only for rank 1 (-> Conv2D)
    small_convs(rank=st.integers(1, 2), steps=lambda rank: STRIDE_OR_DILATION[:3 if rank == 1 else 2], slack=3, c_in=4),
    deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes={"*": "The volume is the input with a unit channel axis inserted (x[:, None], made on the host: a view of "
                "the same numbers) and the kernel (O, C, *k) becomes (O, 1, C, *k); stride/padding/dilation apply to "
                "the spatial axes only (depth: stride 1, padding 0, dilation 1); the depth-1 axis of the output is "
                "dropped on the host.",
           "tensorflow": "Dilation is drawn only for Conv1D -> Conv2D: TF 2.21's CPU Conv3D raises "
                         "InvalidArgumentError 'CPU implementation of Conv3D currently only supports dilated rates of "
                         "1.' in float64 (float32 runs, through oneDNN), which is a TF limitation, not part of this "
                         "claim."},
)
def check(bk, p, ctx):
    x, w, b = conv_arrays(ctx, p)
    rank, bt, kw = len(p.spatial), tensor(bk, b), dict(stride=p.stride, padding=p.padding, dilation=p.dilation)
    conv = bk.conv(bk.asarray(x), bk.asarray(w), bt, **kw)
    # The volume: one channel of depth C (x with a unit channel axis); the kernel: depth C (all of it), one
    # input channel.  Both are views of the same numbers, made on the host: (N, 1, C, *sp), (O, 1, C, *k).
    deep = ctx.numpy(bk.conv(bk.asarray(x[:, None]), bk.asarray(w[:, None]), bt, **depth_axis_kw(rank, **kw)))
    ctx.equal("the (r+1)-D output has depth 1 (valid along depth)", deep.shape[2], 1)
    ctx.agree(f"Conv{rank}D vs Conv{rank + 1}D with kernel depth C", conv, deep[:, :, 0], oracle.conv, x, w, b, **kw)
    ctx.matches(f"Conv{rank}D vs oracle", conv, oracle.conv, x, w, b, **kw)
    # Side fact (seed 002): the r-D layer's kernel holds exactly the weights of the (r+1)-D layer's kernel.
    if p.padding != 0:  # Keras layers take 'valid'/'same' only
        return
    layer_kw = dict(out_channels=p.c_out, use_bias=p.bias)
    if (flat_layer := native_layer(bk, "conv", rank=rank, in_channels=p.c_in, kernel_size=tuple(p.k),
                                   input_shape=x.shape, **layer_kw)) is None \
            or (deep_layer := native_layer(bk, "conv", rank=rank + 1, in_channels=1, kernel_size=(p.c_in, *p.k),
                                           input_shape=(p.n, 1, p.c_in, *p.spatial), **layer_kw)) is None:
        return
    ctx.equal(f"parameter count: Conv{rank}D(C→O, k) == Conv{rank + 1}D(1→O, (C, *k))", flat_layer.param_count,
              deep_layer.param_count, support=True)
    ctx.equal("parameter count == O·(C·prod(k) + bias)", flat_layer.param_count,
              p.c_out * (p.c_in * int(np.prod(p.k)) + (1 if p.bias else 0)), support=True)
