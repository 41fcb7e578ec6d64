"""RetinaNet heads: per-level (N, A·K, H, W) outputs must be permuted to NHWC before reshaping to (N, H·W·A, K)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, layouts, nhwc_rows, op_bounds, oracle, source


@st.composite
def _space(draw):
    # Every draw is a case where the two assignments differ: A·K >= 2 and some level with H·W >= 2.
    anchors, classes = draw(st.sampled_from([(1, 2), (2, 1), (2, 2), (3, 2), (1, 3)]))
    levels = draw(st.lists(st.lists(st.integers(1, 3), min_size=2, max_size=2), min_size=1, max_size=2)
                  .filter(lambda ls: any(h * w > 1 for h, w in ls)))
    return {"n": draw(st.integers(1, 2)), "c": draw(st.integers(1, 3)), "anchors": anchors, "classes": classes,
            "levels": levels}


@claim(
    title="RetinaNet head outputs: permute NCHW to NHWC before reshaping to (N, H·W·A, K)",
    statement="Reshaping each level's NCHW head output (N, A·K, H_i, W_i) directly to (N, H_i·W_i·A, K) and "
              "concatenating over the pyramid levels gives the same anchor/class assignment as an NHWC "
              "framework's plain reshape of (N, H_i, W_i, A·K).",
    sources=[
        source("004", "Looking at this line at PyTorch's implementation of RetinaNet, I see the heads just convolve "
                      "each feature and then all features are stacked somehow (the only common dimension between "
                      "them is the Channel dimension which is 256, but spatially they are double from each other)."),
        source("004", "After the convolution at each pyramid step, you reshape the outputs to be of shape (H*W, "
                      "out_dim) (with out_dim being num_classes * num_anchors for the class head and 4 * num_anchors "
                      "for the bbox regressor)."),
        source("004", "Finally, you can concatenate the resulting tensors along the H*W dimension, which is now "
                      "possible because all the other dimensions match"),
    ],
    examples=[
        # seed 004: 256-channel FPN levels, spatially halving (P3…P7 on a small image), one shared 3×3 stride-1
        # head; the bbox regressor's 4·num_anchors outputs with RetinaNet's 9 anchors
        {"n": 1, "c": 256, "anchors": 9, "classes": 4, "levels": [[16, 16], [8, 8], [4, 4], [2, 2], [1, 1]],
         "facts": True},
        # a class head (num_classes·num_anchors), batch 2, uneven level sizes
        {"n": 2, "c": 8, "anchors": 9, "classes": 3, "levels": [[6, 5], [3, 3], [2, 1]]},
    ],
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV], expected="refuted",
    notes={
        "*": "Each level goes through the same 3×3 stride-1 'same' head conv (the framework's), giving canonical "
             "(N, A·K, H, W).  Reference: the oracle's head output read in NHWC order, reshaped to (N, H·W·A, K) and "
             "concatenated (NumPy).  The statement (refuted): the framework's reshape of the NCHW output without "
             "the permute, checked on the head outputs and on a labelled tensor (every element its own index), so "
             "the refutation never hinges on two equal outputs.  Supporting: permute(0, 2, 3, 1) then reshape "
             "equals the reference.",
    },
)
def check(bk, p, ctx):
    a, k = p.anchors, p.classes
    w, b = ctx.array("w", (a * k, p.c, 3, 3)), ctx.array("b", (a * k,))
    # Per level, one batch of 2N: the N head outputs, then N labelled tensors (every element its own
    # index), so each pipeline runs once for both.
    levels, labels, want, magnitude = [], [], [], []
    for i, (h, wd) in enumerate(p.levels):
        x = ctx.array(f"p{i}", (p.n, p.c, h, wd))
        start = sum(t.size for t in labels)
        labels.append(start + np.arange(p.n * a * k * h * wd, dtype=np.float64).reshape(p.n, a * k, h, wd))
        head = bk.conv(bk.asarray(x), bk.asarray(w), bk.asarray(b), padding=1)    # (N, A·K, H, W)
        levels.append(bk.concat([head, bk.asarray(labels[-1])], axis=0))
        want.append(nhwc_rows(oracle.conv(x, w, b, padding=1), a, k))
        # the reference is the head's conv rearranged into rows (data movement): the conv's magnitude and terms
        magnitude.append(nhwc_rows(op_bounds.magnitude(oracle.conv, x, w, b, padding=1), a, k))
    want, magnitude = np.concatenate(want, axis=1), np.concatenate(magnitude, axis=1)
    label_want = np.concatenate([nhwc_rows(t, a, k) for t in labels], axis=1)
    terms = op_bounds.terms(oracle.conv, x, w, b)

    def run(pipeline):
        """(head part, label part) of the concatenated (2N, Σ rows, K) result, as NumPy."""
        got = bk.to_numpy(bk.concat([pipeline(y) for y in levels], axis=1))
        return got[:p.n], got[p.n:]

    def is_reference(got, values_label, labels_label, support=True):
        """The head part equals the reference (within the conv's bound), the label part its order exactly."""
        ctx.close(values_label, got[0], want, magnitude=magnitude, terms=terms, sides=1, support=support)
        ctx.identical(labels_label, got[1], label_want, support=support)

    direct = run(lambda y: bk.reshape(y, (2 * p.n, -1, k)))                             # NCHW as it is
    permuted = run(lambda y: bk.reshape(bk.transpose(y, (0, 2, 3, 1)), (2 * p.n, -1, k)))  # torchvision

    # Supporting facts: the permuted pipeline (and an NHWC framework's plain reshape) give the reference.
    rows = sum(h * wd for h, wd in p.levels) * a
    ctx.equal("concatenated shape (N, Σ H_i·W_i·A, K)", permuted[0].shape, (p.n, rows, k), support=True)
    is_reference(permuted, "permute to NHWC, reshape, concat == reference",
                 "permute to NHWC, reshape, concat: labels in the reference order")
    if layouts.data_layout(bk.framework_name, 2) == "NHWC":
        is_reference(run(lambda y: bk.reshape(bk.to_native(y), (2 * p.n, -1, k))),          # its own tensor
                     "native NHWC output, plain reshape, concat == reference",
                     "native NHWC plain reshape: labels in the reference order")

    # What rows 0 and 1 of each pipeline hold, decoded from the labels (first level, first sample).
    if p.get("facts"):
        h, wd = p.levels[0]

        def decode(value):
            channel, pixel = divmod(int(value) % (a * k * h * wd), h * wd)
            return f"anchor {channel // k} class {channel % k} at (h={pixel // wd}, w={pixel % wd})"

        for name, got in (("permute_then_reshape", permuted[1]), ("reshape_nchw_directly", direct[1])):
            ctx.fact(f"row_contents.{name}", {f"row {r}": [decode(v) for v in got[0, r]] for r in range(2)})

    # The statement: reshape the NCHW output directly.
    is_reference(direct, "NCHW reshaped directly, concat == reference (head outputs)",
                 "NCHW reshaped directly: labels in the reference order", support=False)
