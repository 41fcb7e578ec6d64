"""The oracle against ONNX's backend node tests: every Conv, ConvTranspose, MaxPool and AveragePool case.

ONNX ships, for each operator, node tests: a one-node model, its inputs and the expected outputs
(``onnx/backend/test/data/node/test_*/``, written by the generators in
``onnx/backend/test/case/node/<op>.py``).  The PyPI wheel ships the generators but not the data
directory, so the cases are read from the data directory when it exists and otherwise regenerated
by running each generator's ``export*`` functions with ``expect`` captured (the very calls that
write the data directory; ``np.random.seed(0)`` before each, as ONNX's exporter does).

Each case's attributes are translated to the oracle's arguments by the operator spec's rules
(auto_pad SAME_UPPER/SAME_LOWER become explicit pads, ConvTranspose's output_shape becomes pads and
output padding), and the oracle's float64 result is compared with the stored float32 output by the
error model (:mod:`equivcheck.op_bounds` terms and magnitude, ``sides=1``); max pooling moves data
only and must match bit for bit.

Cases outside the oracle's definition: none.  Two need a translation beyond the arguments, done
here rather than in the oracle: ``test_maxpool_2d_uint8`` (uint8 values are exact in float64; the
max is compared after casting back), and ``storage_order=1`` in
``test_maxpool_with_argmax_2d_precomputed_strides`` (ONNX's indices are flat over the whole
tensor, column-major within a plane when storage_order=1; the oracle's are PyTorch's row-major
per-plane indices, mapped here with ``np.ravel_multi_index``).
"""
import importlib
import inspect
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from equivcheck import op_bounds, oracle, tolerance

onnx = pytest.importorskip("onnx", reason="onnx is not installed: its node tests are the reference here")
from onnx import helper, numpy_helper  # noqa: E402

OPS = {"Conv": "conv", "ConvTranspose": "convtranspose", "MaxPool": "maxpool",
       "AveragePool": "averagepool"}

#: Cases the oracle cannot express, with the reason (keep this short): none today.
OUTSIDE: dict[str, str] = {}

#: Cases whose stored data are decimal literals, not computed values: the generator writes the
#: input and the expected output rounded to this many decimals (the output computed from the
#: unrounded input), so they agree only to that precision.  The comparison adds what the rounding
#: can move: half a unit of the last decimal in the output, plus the op applied to half a unit in
#: every input element (the op is linear in x; the other arguments are exact).
DECIMAL_LITERALS = {"test_averagepool_2d_ceil_last_window_starts_on_pad": 4}

#: Cases whose stored output an onnx release computed with its own reference pooling while that had a
#: known defect (a record of equivcheck.known_issues): in those releases the data are the defect's, not
#: the spec's, and the oracle must disagree with them.  onnx 1.16's generator pads a ceil-mode
#: AveragePool with get_output_shape_explicit_padding, which splits the overhang between both ends
#: (onnx-reference-avg-pool-ceil-overhang); onnx 1.23's data are the spec's.
WRONG_DATA = {"test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True":
              ("onnx-reference-avg-pool-ceil-overhang", ("1.16.2",))}

#: Cases per operator in the generators of the oldest and the newest onnx checked here.
CASE_COUNTS = {"1.16.2": {"Conv": 6, "ConvTranspose": 9, "MaxPool": 19, "AveragePool": 19},
               "1.23.2": {"Conv": 6, "ConvTranspose": 11, "MaxPool": 19, "AveragePool": 20}}


def _from_data_dir():
    """(op, name, attributes, inputs, outputs) from onnx/backend/test/data/node, if it is there."""
    import onnx.backend.test
    root = Path(os.path.dirname(onnx.backend.test.__file__)) / "data" / "node"
    if not root.is_dir():
        return None
    cases = []
    for case in sorted(root.glob("test_*")):
        model = onnx.load(str(case / "model.onnx"))
        node = model.graph.node[0]
        if len(model.graph.node) != 1 or node.op_type not in OPS:
            continue
        data = case / "test_data_set_0"

        def tensors(kind, data=data):
            files = sorted(data.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            return [numpy_helper.to_array(onnx.load_tensor(str(f))) for f in files]
        cases.append((node.op_type, case.name, node, tensors("input"), tensors("output")))
    return cases


def _from_generators():
    """The same cases, by running ONNX's generators with ``expect`` captured.

    A generator module runs its exports when its classes are created (on import), calling the
    ``expect`` it imported from the package: patched there before the import, each generator runs
    once.  A module someone imported before is run again by hand, with its own ``expect`` patched.
    """
    import onnx.backend.test.case.node as package
    from onnx.backend.test.case.base import Base
    cases = []

    def capture(node, inputs, outputs, name, **_):
        if node.op_type in OPS:
            cases.append((node.op_type, name, node, list(inputs), list(outputs)))
    real = package.expect
    package.expect = capture
    try:
        for module_name in OPS.values():
            full = f"{package.__name__}.{module_name}"
            if full not in sys.modules:
                importlib.import_module(full).expect = real     # bound to capture by the import
                continue
            module = sys.modules[full]
            module.expect = capture
            try:
                for _, cls in inspect.getmembers(module, inspect.isclass):
                    if issubclass(cls, Base) and cls.__module__ == full:
                        for attr in vars(cls):
                            if attr.startswith("export"):
                                np.random.seed(0)
                                getattr(cls, attr)()
            finally:
                module.expect = real
    finally:
        package.expect = real
    return cases


def _cases():
    cases = _from_data_dir()
    return _from_generators() if cases is None else cases


CASES = _cases()


def _attrs(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _pairs(pads, nd):
    pads = list(pads) if pads else [0] * (2 * nd)
    return [(int(pads[i]), int(pads[i + nd])) for i in range(nd)]


def _same(auto_pad, n, k, s, d, out):
    """ONNX's SAME_UPPER/SAME_LOWER split of pad_shape = (out - 1)·s + (k - 1)·d + 1 - n."""
    total = (out - 1) * s + (k - 1) * d + 1 - n
    small, large = total // 2, total - total // 2
    return (small, large) if auto_pad == "SAME_UPPER" else (large, small)


def _pool_args(a, x):
    nd = x.ndim - 2
    k = list(a["kernel_shape"])
    s = list(a.get("strides", [1] * nd))           # ONNX's pooling stride defaults to 1
    d = list(a.get("dilations", [1] * nd))
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        # without ceil_mode: out = floor((n - 1)/s) + 1 (the spec's auto_pad rule)
        pairs = [_same(auto, n, kk, ss, dd, (n - 1) // ss + 1)
                 for n, kk, ss, dd in zip(x.shape[2:], k, s, d)]
    elif auto == "VALID":
        pairs = [(0, 0)] * nd
    else:
        pairs = _pairs(a.get("pads"), nd)
    return dict(kernel=k, stride=s, padding=pairs, dilation=d,
                ceil_mode=bool(a.get("ceil_mode", 0)))


def _conv_args(a, x, w):
    nd = x.ndim - 2
    s = list(a.get("strides", [1] * nd))
    d = list(a.get("dilations", [1] * nd))
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [_same(auto, n, kk, ss, dd, -(-n // ss))
                 for n, kk, ss, dd in zip(x.shape[2:], w.shape[2:], s, d)]
    else:
        pairs = _pairs(a.get("pads"), nd)
    return dict(stride=s, padding=pairs, dilation=d, groups=int(a.get("group", 1)))


def _conv_transpose_args(a, x, w):
    nd = x.ndim - 2
    s = list(a.get("strides", [1] * nd))
    d = list(a.get("dilations", [1] * nd))
    op = list(a.get("output_padding", [0] * nd))
    auto = a.get("auto_pad", "NOTSET")
    shape = a.get("output_shape")
    if shape is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = [n * ss for n, ss in zip(x.shape[2:], s)]
    if shape is None:
        pairs = _pairs(a.get("pads"), nd)
    else:
        # the spec: total = s·(n - 1) + output_padding + (k - 1)·d + 1 - output_shape, split with
        # the odd pixel at the end for SAME_UPPER, at the beginning otherwise (pads are ignored)
        pairs = []
        for i, (n, kk) in enumerate(zip(x.shape[2:], w.shape[2:])):
            total = s[i] * (n - 1) + op[i] + (kk - 1) * d[i] + 1 - shape[i]
            small, large = total // 2, total - total // 2
            pairs.append((small, large) if auto == "SAME_UPPER" else (large, small))
    # a negative pad at the end is output added at the end: the oracle's output_padding
    for i, (b, e) in enumerate(pairs):
        if e < 0:
            op[i] -= e
            pairs[i] = (b, 0)
    return dict(stride=s, padding=pairs, output_padding=op, dilation=d,
                groups=int(a.get("group", 1)))


def _close(name, got, op, args, kwargs):
    want = op(*args, **kwargs)
    magnitude = op_bounds.magnitude(op, *args, **kwargs)
    terms = op_bounds.terms(op, *args, **kwargs)
    if name not in DECIMAL_LITERALS:
        result = tolerance.compare(got, want, magnitude=magnitude, terms=terms, dtype="float32",
                                   sides=1)
        assert result.ok, result
        return
    half = 0.5 * 10.0 ** -DECIMAL_LITERALS[name]
    moved = half + op_bounds.magnitude(op, np.full_like(args[0], half), *args[1:], **kwargs)
    limit = moved + tolerance.bound(magnitude, terms, "float32", sides=1)
    error = np.abs(got - want)
    assert (error <= limit).all(), (error.max(), limit.min())
    assert (error > tolerance.bound(magnitude, terms, "float32", sides=1)).any()   # why it is listed


def _onnx_indices(idx, x_shape, storage_order):
    """The oracle's per-plane row-major indices as ONNX's flat indices over the whole tensor."""
    sp = x_shape[2:]
    coords = np.unravel_index(idx, sp)
    within = np.ravel_multi_index(coords, sp, order="F" if storage_order else "C")
    planes = np.arange(x_shape[0] * x_shape[1]).reshape(x_shape[:2] + (1,) * len(sp))
    return planes * int(np.prod(sp)) + within


@pytest.mark.parametrize("op_type, name, node, inputs, outputs", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_oracle_matches_onnx_node_test(op_type, name, node, inputs, outputs):
    if name in OUTSIDE:
        pytest.skip(OUTSIDE[name])
    record, releases = WRONG_DATA.get(name, (None, ()))
    if onnx.__version__ in releases:
        with pytest.raises(AssertionError):
            _check(op_type, name, node, inputs, outputs)
        return  # the data are onnx's defect here; the day they agree, this fails (pytest.raises)
    _check(op_type, name, node, inputs, outputs)


def _check(op_type, name, node, inputs, outputs):
    a = _attrs(node)
    x = inputs[0].astype(np.float64)
    if op_type == "Conv":
        w = inputs[1].astype(np.float64)
        args = (x, w) + ((inputs[2].astype(np.float64),) if len(inputs) > 2 else ())
        _close(name, outputs[0], oracle.conv, args, _conv_args(a, x, w))
    elif op_type == "ConvTranspose":
        w = inputs[1].astype(np.float64)
        args = (x, w) + ((inputs[2].astype(np.float64),) if len(inputs) > 2 else ())
        _close(name, outputs[0], oracle.conv_transpose, args, _conv_transpose_args(a, x, w))
    elif op_type == "AveragePool":
        kw = _pool_args(a, x)
        kw["count_include_pad"] = bool(a.get("count_include_pad", 0))   # ONNX's default: excluded
        _close(name, outputs[0], oracle.avg_pool, (x,), kw)
    else:
        kw = _pool_args(a, x)
        if len(outputs) == 1:
            got = oracle.max_pool(x, **kw)
        else:
            got, idx = oracle.max_pool(x, return_indices=True, **kw)
            np.testing.assert_array_equal(_onnx_indices(idx, x.shape, a.get("storage_order", 0)),
                                          outputs[1])
        np.testing.assert_array_equal(got.astype(outputs[0].dtype), outputs[0])


def test_every_case_of_the_four_operators_is_collected():
    """As many cases per operator as the installed onnx's generators hold (:data:`CASE_COUNTS`); an onnx
    newer than 1.23 may add some (then the count grows, and each new case runs above)."""
    counts = {op: sum(c[0] == op for c in CASES) for op in OPS}
    known = CASE_COUNTS.get(onnx.__version__)
    if known is not None:
        assert counts == known
    else:
        assert all(counts[op] >= n for op, n in CASE_COUNTS["1.23.2"].items()), counts
    assert len({c[1] for c in CASES}) == len(CASES)
