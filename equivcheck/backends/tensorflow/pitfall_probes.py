"""TensorFlow's and Keras' porting-pitfall conventions: pool divisor, ceil_mode, padding modes, BatchNorm
folding, causal padding, separable convs (registered on import by :mod:`equivcheck.backends.tensorflow.probes`).

Every value is decoded from what TF or Keras did on a probe input: a ones map for divisors, an arange
for padding modes and causal padding (a first-tap kernel), output lengths over a grid for 'SAME' against
ceil_mode, a BatchNorm scale folded along each kernel axis, a built layer's parameters.  Names come from
:data:`equivcheck.conventions.POOL_DIVISORS` and :data:`~equivcheck.conventions.PAD_MODES`; computed
values are compared through :mod:`equivcheck.tolerance`.  The "table" column is what the adapter answers
for the same request (its result decoded the same way, or its n/a sentence) or the layout table.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from equivcheck import known_issues, layouts, oracle, tolerance
from equivcheck.backends.base import NotApplicable
from equivcheck.backends.tensorflow import pooling as tf_pooling
from equivcheck.conventions import PAD_MODES, POOL_DIVISORS, describe_split
from equivcheck.report.decode import PROBE_DTYPE, error_text, same_split_from_output
from equivcheck.report import probe_common
from equivcheck.report.probes import Row, probe

FRAMEWORK = "tensorflow"


def _np(env, tensor):
    return env["bk"].to_numpy(tensor)


def _close(got, want, magnitude, terms) -> bool:
    return tolerance.compare(got, want, magnitude=magnitude, terms=terms, dtype=PROBE_DTYPE).ok


def _adapter_answer(call):
    """What the adapter does: its result, or ``"n/a: <sentence>"`` / ``"raises ..."`` as a string."""
    try:
        return call()
    except NotApplicable as exc:
        return f"n/a: {exc}"
    except Exception as exc:  # noqa: BLE001 - recorded, not judged
        return f"raises {error_text(exc)}"


def _register(topic, item, api, run):
    """Register ``run`` as the probe of (topic, item, api); a ``keras.ops`` row run under a Keras without
    keras.ops (Keras 2, tox env oldest) says so instead of probing, as the layout rows of probes.py do."""
    def gated(env):
        keras = env["bk"].keras
        if api.startswith("keras.ops.") and not hasattr(keras, "ops"):
            return Row(topic, item, FRAMEWORK, api,
                       f"n/a: Keras {keras.__version__} has no keras.ops (functional ops arrived with Keras 3)")
        return run(env)
    probe(FRAMEWORK, topic, item, api)(gated)


def _keras_torch_record(bk, record_id):
    """The known-issue record ``record_id`` (a Keras-on-torch item) when this build is inside it, else None."""
    record = known_issues.BY_ID[record_id]
    return record if bk.keras_backend == "torch" and record.affects(bk.keras.__version__) else None


# ---- pool_divisor: 3×3 'SAME' at stride 1 on a 4×4 ones map; the corner window holds 4 of 9 in bounds ----
def divisor_name(value: float) -> str:
    candidates = {"window": 9, "in_bounds": 4}
    for name, divisor in candidates.items():
        if name in POOL_DIVISORS and _close([value], [4 / divisor], [1.0], 9):
            return name
    return f"neither: divides by {4 / value:.4g}"


def _ones_nhwc():
    return np.ones((1, 4, 4, 1), np.float32)


def _divisor(api, pool):
    def run(env):
        try:
            value = float(_np(env, pool(env))[0, 0, 0, 0])
        except Exception as exc:  # noqa: BLE001
            return Row("pool_divisor", "3×3, 'SAME'", FRAMEWORK, api, "rejected", detail=error_text(exc))
        name = divisor_name(value)
        bk = env["bk"]
        adapter = _adapter_answer(lambda: bk.avg_pool(bk.asarray(np.ones((1, 1, 4, 4))), 3, 1, "same",
                                                      count_include_pad=False))
        table = (adapter if isinstance(adapter, str)
                 else f"adapter avg_pool('same', count_include_pad=False): {divisor_name(float(_np(env, adapter)[0, 0, 0, 0]))}")
        return Row("pool_divisor", "3×3, 'SAME'", FRAMEWORK, api, name, table, table.endswith(": " + name),
                   f"corner window: {value:.4g} = 4 in-bounds ones / {4 / value:.4g}; "
                   f"{POOL_DIVISORS.get(name, 'no conventions.POOL_DIVISORS name')}")
    _register("pool_divisor", "3×3, 'SAME'", api, run)


_divisor("tf.nn.avg_pool2d", lambda env: env["bk"].tf.nn.avg_pool2d(_ones_nhwc(), 3, 1, "SAME"))
_divisor("keras.layers.AveragePooling2D", lambda env: env["bk"].keras.layers.AveragePooling2D(3, 1, "same")(_ones_nhwc()))
_divisor("keras.ops.average_pool", lambda env: env["bk"].keras.ops.average_pool(_ones_nhwc(), 3, 1, "same"))


def uneven_name(last: float) -> str:
    """The rule a 'same' average of 1..6 (k=3, s=2: pads 0+1) used for its last window (5, 6, padding): the
    in-bounds mean, the window mean with zeros, or the window of the np.pad 'edge' (replicated) input."""
    x = np.arange(1.0, 7.0)
    candidates = {"in_bounds": x[4:].mean(), "window": x[4:].sum() / 3,
                  "edge-padded window (np.pad 'edge')": np.pad(x, (0, 1), mode="edge")[4:].mean()}
    for name, want in candidates.items():
        if name in POOL_DIVISORS or name.startswith("edge"):
            if _close([last], [want], [6.0], 3):
                return name
    return f"neither: {last:.4g}"


def _uneven(api, pool):
    item = "'SAME' with uneven padding (n=6, k=3, s=2)"

    def run(env):
        last = float(np.ravel(_np(env, pool(env, np.arange(1.0, 7.0, dtype=np.float32).reshape(1, 6, 1))))[-1])
        bk = env["bk"]
        adapter = _adapter_answer(lambda: bk.avg_pool(bk.asarray(np.arange(1.0, 7.0).reshape(1, 1, 6)), 3, 2, "same",
                                                      count_include_pad=False))
        table = adapter if isinstance(adapter, str) else f"adapter (tf.nn): {uneven_name(float(_np(env, adapter)[0, 0, -1]))}"
        name = uneven_name(last)
        agrees = table.endswith(": " + name)
        record = _keras_torch_record(bk, "keras-torch-same-avg-pool-replicates")
        if record and known_issues.keras_same_avg_pool_replicates((6,), (3,), (2,)):
            # this build is known to replicate the edge pixels here: the row agrees when that is what it did
            table += f"; this Keras build: the edge-padded window ({record.id})"
            agrees = name.startswith("edge")
        return Row("pool_divisor", item, FRAMEWORK, api, name, table, agrees,
                   f"last window of 1..6: {last:.4g}; Keras backend {bk.keras_backend}"
                   + ("; known issue keras-torch-same-avg-pool-replicates (the adapter's Keras layer skips such "
                      "examples)" if name.startswith("edge") else ""))
    _register("pool_divisor", item, api, run)


_uneven("keras.ops.average_pool", lambda env, x: env["bk"].keras.ops.average_pool(x, 3, 2, "same"))
_uneven("keras.layers.AveragePooling1D", lambda env, x: env["bk"].keras.layers.AveragePooling1D(3, 2, "same")(x))


@probe(FRAMEWORK, "pool_divisor", "explicit padding, count_include_pad", "tf.nn.avg_pool2d")
def _explicit_divisor(env):
    tf, bk = env["bk"].tf, env["bk"]
    try:
        tf.nn.avg_pool2d(_ones_nhwc(), 3, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])
        value = "explicit padding accepted"
    except Exception as exc:  # noqa: BLE001
        value = f"no explicit padding, no count_include_pad ({type(exc).__name__})"
    params = list(inspect.signature(tf.nn.avg_pool2d).parameters)
    table = _adapter_answer(lambda: bk.avg_pool(bk.asarray(np.ones((1, 1, 4, 4))), 3, 1, 1, count_include_pad=False))
    return Row("pool_divisor", "explicit padding, count_include_pad", FRAMEWORK, "tf.nn.avg_pool2d", value,
               table if isinstance(table, str) else "adapter: computed", None,
               f"parameters: {', '.join(params)}")


# ---- ceil_mode: none in TF/Keras; how 'SAME' lengths compare with PyTorch's ceil_mode lengths ----------
CEIL_GRID = [(n, k, s) for n in range(3, 10) for k in (2, 3, 4) for s in (1, 2, 3) if n >= k]


def _ceil_row(api, fn_of, length_of):
    def run(env):
        params = list(inspect.signature(fn_of(env)).parameters)
        has = "ceil_mode" in params
        equal, first_diff, checked = 0, None, 0
        for n, k, s in CEIL_GRID:
            got = int(length_of(env, n, k, s))
            want = oracle.pool_output_size(n, k, s, 0, 1, ceil_mode=True)
            checked += 1
            if got == want:
                equal += 1
            elif first_diff is None:
                first_diff = f"n={n} k={k} s={s}: 'SAME' {got}, ceil_mode {want}"
        value = (f"{'has' if has else 'no'} ceil_mode argument; 'SAME' length equals the ceil_mode=True (p=0) "
                 f"length in {equal}/{checked}")
        bk = env["bk"]
        table = _adapter_answer(lambda: bk.max_pool(bk.asarray(np.zeros((1, 1, 6))), 3, 2, ceil_mode=True))
        return Row("ceil_mode", "output size, ceil_mode=True", FRAMEWORK, api, value,
                   table if isinstance(table, str) else "adapter: computed",
                   (not has) == (isinstance(table, str) and table.startswith("n/a")),
                   f"parameters: {', '.join(params)}; first difference: {first_diff or 'none'}")
    _register("ceil_mode", "output size, ceil_mode=True", api, run)


_ceil_row("tf.nn.max_pool1d", lambda env: env["bk"].tf.nn.max_pool1d,
          lambda env, n, k, s: env["bk"].tf.nn.max_pool1d(np.zeros((1, n, 1), np.float32), k, s, "SAME").shape[1])
_ceil_row("keras.layers.MaxPooling1D", lambda env: env["bk"].keras.layers.MaxPooling1D.__init__,
          lambda env, n, k, s: env["bk"].keras.layers.MaxPooling1D(k, s, "same")(np.zeros((1, n, 1), np.float32)).shape[1])


# ---- pad_modes: which np.pad mode each native word reproduces ------------------------------------------
PAD_INPUT, PAD_WIDTH = np.arange(1.0, 7.0), (2, 2)  # 2 on each side tells reflect from symmetric


def numpy_modes_of(out) -> list[str]:
    """The PAD_MODES names whose np.pad of PAD_INPUT by PAD_WIDTH is ``out``, exactly."""
    return [mode for mode in PAD_MODES if np.array_equal(np.pad(PAD_INPUT, PAD_WIDTH, mode=mode), np.ravel(out))]


def _pad_rows(api, words_of, pad_of):
    for mode in PAD_MODES:
        def run(env, mode=mode):
            found, rejected = [], []
            words = words_of(env)
            for word in words:
                try:
                    out = _np(env, pad_of(env, word))
                except Exception:  # noqa: BLE001 - a word the op refuses
                    rejected.append(word)
                    continue
                if mode in numpy_modes_of(out):
                    found.append(word)
            value = ", ".join(repr(w) for w in found) or "no native word"
            bk = env["bk"]
            adapter = _adapter_answer(lambda: bk.pad(bk.asarray(PAD_INPUT.reshape(1, 1, -1)), [PAD_WIDTH], mode))
            if api == "keras.ops.pad":
                # keras.ops.pad takes np.pad's names, and each backend supports some of them (Keras' docs:
                # TensorFlow constant/reflect/symmetric): a word pads as the mode it names, or is refused
                table, agrees = "np.pad's names: a word pads as that mode or is refused", all(w == mode for w in found)
            elif isinstance(adapter, str):
                table, agrees = adapter, not found
            else:
                word = tf_pooling.PAD_MODES[mode]
                table = f"adapter pad({mode!r}) → tf.pad {word!r}"
                agrees = mode in numpy_modes_of(_np(env, adapter)) and (word in found or word.lower() in found)
            record = _keras_torch_record(bk, "keras-torch-pad-symmetric-is-replicate")
            if record and api == "keras.ops.pad" and mode in ("edge", "symmetric"):
                # this build is known to pad 'symmetric' as 'edge': the row agrees when that is what it found
                table += f"; this Keras build pads 'symmetric' as 'edge' ({record.id})"
                agrees = found == (["symmetric"] if mode == "edge" else [])
            return Row("pad_modes", mode, FRAMEWORK, api, value, table, agrees,
                       f"{PAD_MODES[mode]}; words tried: {', '.join(words)}; rejected: {', '.join(rejected) or 'none'}")
        _register("pad_modes", mode, api, run)


def _tf_pad_words(env):
    return sorted({m.upper() for m in PAD_MODES} | set(tf_pooling.PAD_MODES.values()))


_pad_rows("tf.pad", _tf_pad_words,
          lambda env, word: env["bk"].tf.pad(PAD_INPUT.astype(np.float32).reshape(1, -1), [[0, 0], list(PAD_WIDTH)],
                                             mode=word))
_pad_rows("keras.ops.pad", lambda env: sorted(PAD_MODES),
          lambda env, word: env["bk"].keras.ops.pad(PAD_INPUT.astype(np.float32).reshape(1, -1),
                                                    [[0, 0], list(PAD_WIDTH)], mode=word))


@probe(FRAMEWORK, "pad_modes", "conv padding modes", "keras.layers.Conv1D")
def _keras_conv_modes(env):
    params = list(inspect.signature(env["bk"].keras.layers.Conv1D.__init__).parameters)
    mode_params = [p for p in params if "mode" in p]
    bk = env["bk"]
    table = _adapter_answer(lambda: bk.layer("conv", rank=1, in_channels=1, out_channels=1, padding_mode="reflect"))
    value = f"padding_mode-like arguments: {', '.join(mode_params)}" if mode_params else "zeros only: no padding_mode argument"
    return Row("pad_modes", "conv padding modes", FRAMEWORK, "keras.layers.Conv1D", value,
               table if isinstance(table, str) else "adapter: built", not mode_params and isinstance(table, str),
               f"parameters: {', '.join(params)}")


# ---- bn_fold: fold an inference BatchNormalization's scale along each kernel axis of the channel count --
def _fold_axes(env, kind):
    bk = env["bk"]
    tf, keras = bk.tf, bk.keras
    channels, k, stride = 4, (2, 3), 2 if kind == "conv_transpose" else 1
    rng = np.random.default_rng(36)
    make = keras.layers.Conv2DTranspose if kind == "conv_transpose" else keras.layers.Conv2D
    conv = make(channels, k, strides=stride, bias_initializer="random_uniform")
    bn = keras.layers.BatchNormalization(axis=-1)
    x = rng.uniform(-1, 1, (1, 5, 6, channels)).astype(np.float32)
    conv.build(x.shape)
    bn.build((None, None, None, channels))
    stats = {"moving_mean": rng.uniform(-1, 1, channels), "moving_variance": rng.uniform(0.5, 2, channels),
             "gamma": rng.uniform(0.5, 2, channels), "beta": rng.uniform(-1, 1, channels)}
    for name, value in stats.items():
        getattr(bn, name).assign(value.astype(np.float32))
    reference = _np(env, bn(conv(x), training=False))
    scale = stats["gamma"] / np.sqrt(stats["moving_variance"] + float(bn.epsilon))
    w, b = _np(env, conv.kernel), _np(env, conv.bias)
    native = layouts.kernel_layout("tensorflow", kind, 2, api="keras")
    op = oracle.conv_transpose if kind == "conv_transpose" else oracle.conv
    x_canonical = x.transpose(0, 3, 1, 2).astype(np.float64)
    outcome = {}
    for axis in (a for a in range(w.ndim) if w.shape[a] == channels):
        shape = [1] * w.ndim
        shape[axis] = channels
        folded_w = (w * scale.reshape(shape)).astype(np.float32)
        folded_b = ((b - stats["moving_mean"]) * scale + stats["beta"]).astype(np.float32)
        if kind == "conv_transpose":
            out_shape = [1, *reference.shape[1:3], channels]
            got = tf.nn.conv2d_transpose(x, folded_w, out_shape, stride, "VALID") + folded_b
        else:
            got = tf.nn.conv2d(x, folded_w, 1, "VALID") + folded_b
        got = _np(env, got)
        canonical_w = layouts.convert(np.abs(folded_w).astype(np.float64), native, layouts.canonical(kind, 2))
        magnitude = (op(np.abs(x_canonical), canonical_w, stride=stride)
                     + ((np.abs(b) + np.abs(stats["moving_mean"])) * scale + np.abs(stats["beta"])).reshape(-1, 1, 1))
        terms = math.prod(w.shape) // channels + 3  # the conv's products, its bias, BN's shift and offset
        outcome[axis] = (_close(got.transpose(0, 3, 1, 2), reference.transpose(0, 3, 1, 2), magnitude, terms),
                         float(np.abs(got - reference).max()))
    return outcome, native


def _bn_fold(kind):
    return probe_common.bn_fold_probe(FRAMEWORK, _fold_axes, kind)


for _kind, _item, _api in (("conv", "conv2d + BatchNormalization (inference)", "keras.layers.Conv2D"),
                           ("conv_transpose", "conv_transpose2d + BatchNormalization (inference)",
                            "keras.layers.Conv2DTranspose")):
    def _fill(env, run=_bn_fold(_kind), item=_item, api=_api):
        row = run(env)
        row.item, row.api = item, api
        return row
    probe(FRAMEWORK, "bn_fold", _item, _api)(_fill)


# ---- causal: the left padding of a first-tap kernel on 1..n --------------------------------------------
def _causal(api, call, k=3, d=2):
    item = f"padding='causal', k={k}, d={d}"

    def run(env):
        n = 8
        weight = np.zeros((k, 1, 1), np.float32)
        weight[0] = 1  # first tap: y[t] = x[t − before]
        try:
            out = _np(env, call(env, np.arange(1.0, n + 1, dtype=np.float32).reshape(1, n, 1), weight, k, d))
        except Exception as exc:  # noqa: BLE001
            return Row("causal", item, FRAMEWORK, api, "rejected", detail=error_text(exc))
        before, after = same_split_from_output(out.ravel(), n, d * (k - 1) + 1, 1)
        value = describe_split(before, after)
        causal = describe_split(d * (k - 1), 0)
        table, agrees = f"{causal}: d(k−1) on the left", value == causal
        record = _keras_torch_record(env["bk"], "keras-torch-ops-conv-causal-is-valid")
        if record and api == "keras.ops.conv":
            # this build is known to run 'causal' as 'valid': the row agrees when that is what it did
            table += f"; this Keras build: 'valid' ({record.id})"
            agrees = out.shape[1] == n - d * (k - 1)
        return Row("causal", item, FRAMEWORK, api, value, table, agrees, f"output length {out.shape[1]} for n={n}")
    _register("causal", item, api, run)


def _keras_causal(env, x, weight, k, d, rank=1):
    layer = getattr(env["bk"].keras.layers, f"Conv{rank}D")(1, k, dilation_rate=d, padding="causal", use_bias=False)
    layer.build(x.shape)
    layer.kernel.assign(weight)
    return layer(x)


_causal("keras.layers.Conv1D", _keras_causal)
_causal("keras.ops.conv", lambda env, x, w, k, d: env["bk"].keras.ops.conv(x, w, dilation_rate=d, padding="causal"))
_causal("tf.nn.conv1d", lambda env, x, w, k, d: env["bk"].tf.nn.conv1d(x, w, 1, "CAUSAL", dilations=d))


# ---- separable: the layer's parameters and biases -----------------------------------------------------
def _separable(rank):
    api = f"keras.layers.SeparableConv{rank}D"
    item = f"separable conv{rank}d, k=3, C=2, M=3, O=5"

    def run(env):
        keras, (k, c, m, o) = env["bk"].keras, (3, 2, 3, 5)
        cls = getattr(keras.layers, f"SeparableConv{rank}D", None)
        if cls is None:
            return Row("separable", item, FRAMEWORK, api, "no such layer")
        layer = cls(o, k, depth_multiplier=m)
        layer.build((None,) * (rank + 1) + (c,))
        biases = sum(v.name.split("/")[-1].startswith("bias") for v in layer.weights)
        value = f"{layer.count_params()} parameters, {biases} bias{'es' if biases != 1 else ''}"
        formula = k ** rank * c * m + c * m * o + o
        handle = _adapter_answer(lambda: env["bk"].layer("separable", rank=rank, in_channels=c, out_channels=o,
                                                         kernel_size=k, depth_multiplier=m))
        table = (handle if isinstance(handle, str) else
                 f"adapter: {handle.param_count} parameters, {handle.extra['bias_vectors']} bias")
        return Row("separable", item, FRAMEWORK, api, value, table,
                   not isinstance(handle, str) and handle.param_count == layer.count_params(),
                   f"k^d·C·M + C·M·O + O (one bias) = {formula}; depthwise {tuple(layer.depthwise_kernel.shape)}, "
                   f"pointwise {tuple(layer.pointwise_kernel.shape)}")
    _register("separable", item, api, run)


for _rank in (1, 2, 3):
    _separable(_rank)
