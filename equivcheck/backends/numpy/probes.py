"""The NumPy oracle's own conventions (the reference every column is compared with)."""
from __future__ import annotations

import numpy as np

from equivcheck import oracle
from equivcheck.report.decode import GROUPS, flatten_order_from
from equivcheck.report.probe_common import ConvAPI, output_size_row, register_conv_family
from equivcheck.report.probes import probe


def setup(bk):
    return {"bk": bk}


class Oracle(ConvAPI):
    framework, label, table_api = "numpy", "equivcheck.oracle", "oracle"

    def name(self, op, rank):
        return "equivcheck.oracle.conv_transpose" if op == "conv_transpose" else "equivcheck.oracle.conv"

    def run(self, env, op, rank, x, w, data_layout):
        if op == "conv_transpose":
            return oracle.conv_transpose(x, w, stride=2)
        channels = x.shape[1]
        return oracle.conv(x, w, groups={"grouped": GROUPS, "depthwise": channels}.get(op, 1))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((1, 1, k))
        w[..., 0] = 1
        return oracle.conv(np.asarray(x, np.float64)[None, None], w, stride=stride, padding="same")[0, 0]


register_conv_family("numpy", [Oracle()])


@probe("numpy", "output_size", "explicit padding", "equivcheck.oracle.conv")
def _output_size(env):
    def conv_len(n, k, s, p, d):
        return oracle.conv(np.zeros((1, 1, n)), np.zeros((1, 1, k)), stride=s, padding=[p], dilation=d).shape[-1]
    return output_size_row("numpy", "equivcheck.oracle.conv", conv_len)


@probe("numpy", "flatten_order", "conv map → vector", "numpy.reshape(x, (N, -1))")
def _flatten(env):
    shape = (1, 2, 3, 4)
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    return flatten_order_from(x.reshape(1, -1)[0], shape) + " (NCHW map)"
