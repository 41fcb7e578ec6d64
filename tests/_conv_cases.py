"""Transposed-conv configurations every adapter's tests check against the oracle: 1-D to 3-D, strided,
padded (also asymmetric), dilated, grouped, with output_padding.  (x shape, w shape (I, O/g, *k), kwargs)."""

CONV_TRANSPOSE_CASES = [
    ((1, 2, 3), (2, 3, 3), dict(stride=2, output_padding=1)),
    ((2, 4, 5), (4, 2, 3), dict(stride=3, padding=1, dilation=2, groups=2, output_padding=2)),
    ((1, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=(1, 0))),
    ((1, 4, 3, 4), (4, 1, 2, 3), dict(stride=(1, 2), groups=2, padding=((1, 0), (2, 1)), output_padding=(0, 1))),
    ((1, 2, 3, 3, 4), (2, 2, 2, 2, 3), dict(stride=2, padding=(0, 1, 1), dilation=(1, 1, 2))),
]
