"""Keras layers with canonical-layout I/O: the adapter's :meth:`layer` (Keras 3 ``keras.layers``).

A mixin of :class:`equivcheck.backends.tensorflow.adapter.TensorflowBackend`: it uses the adapter's
``tf`` and ``keras`` modules, its layout conversions and its known-issue check of 2-D convs.  The Keras
path runs on any Keras backend (``KERAS_BACKEND``): inputs cross via ``keras.ops.convert_to_tensor``
and outputs via ``keras.ops.convert_to_numpy`` when that backend is not TensorFlow (autodiff then stops
at the layer).
"""
from __future__ import annotations

import numpy as np

from equivcheck import known_issues, layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, padding_pairs, spatial_ints
from equivcheck.backends.tensorflow.pooling import NO_CEIL_MODE

KINDS = ("conv", "conv_transpose", "depthwise", "dense", "flatten", "separable", "batch_norm", "avg_pool",
         "max_pool")
#: The keyword options of :meth:`layer` (base.Backend.layer's docstring says which kind reads which).
OPTIONS = ("padding_mode", "eps", "ceil_mode", "count_include_pad")


class KerasLayers:
    """``keras.layers`` builders: conv, conv_transpose, depthwise, dense, flatten, separable, batch_norm
    and the pools."""

    # ---- layers ------------------------------------------------------------
    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1,
              padding="valid", dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None,
              input_shape=None, **options):
        api = self.layer_api(api, options, OPTIONS)
        if kind not in KINDS:
            raise ValueError(f"layer kind must be one of {KINDS}, got {kind!r}")
        native_layout = layouts.data_layout("tensorflow", rank)
        if kind == "flatten":
            return self._flatten_layer(native_layout)
        if kind == "separable":
            return self._separable_layer(rank, in_channels, out_channels, kernel_size, stride, padding, dilation,
                                         depth_multiplier, use_bias, input_shape)
        if kind == "batch_norm":
            return self._batch_norm_layer(rank, in_channels, options.get("eps"), input_shape)
        if kind in ("avg_pool", "max_pool"):
            return self._pool_layer(kind, rank, kernel_size, stride, padding, dilation, options)
        if kind == "conv":
            self._check_conv_padding(rank, padding, options.get("padding_mode") or "constant")
        return self._kernel_layer(kind, rank, in_channels, out_channels, kernel_size, stride, padding, dilation,
                                  groups, depth_multiplier, use_bias, api, input_shape, native_layout)

    @staticmethod
    def _check_conv_padding(rank, padding, padding_mode):
        if padding_mode != "constant":
            words = "'valid', 'same', 'causal'" if rank == 1 else "'valid', 'same'"
            raise NotApplicable(f"keras.layers.Conv{rank}D pads with zeros only (padding {words}); it has no "
                                f"padding_mode {padding_mode!r}: a Keras user pads first (tf.pad REFLECT or "
                                "SYMMETRIC) and uses 'valid'")
        if isinstance(padding, str) and padding.lower() == "causal" and rank != 1:
            raise NotApplicable(f"keras.layers.Conv{rank}D has no padding='causal'; only Conv1D offers it")

    def _kernel_layer(self, kind, rank, in_channels, out_channels, kernel_size, stride, padding, dilation,
                      groups, depth_multiplier, use_bias, api, input_shape, native_layout):
        keras = self.keras
        conv_args = dict(kernel_size=kernel_size, strides=stride, padding=padding, dilation_rate=dilation,
                         data_format="channels_last" if native_layout.endswith("C") else "channels_first")
        if kind == "conv":
            if max(spatial_ints(stride, rank)) > 1 and max(spatial_ints(dilation, rank)) > 1:
                raise NotApplicable(f"keras.layers.Conv{rank}D refuses strides > 1 together with dilation_rate > 1 "
                                    f"('`strides > 1` not supported in conjunction with `dilation_rate > 1`'): a Keras "
                                    f"user runs the dilated conv at stride 1 and subsamples")
            name, args = f"Conv{rank}D", dict(filters=out_channels, groups=groups, **conv_args)
        elif kind == "conv_transpose":
            if groups != 1:
                raise NotApplicable(f"tensorflow: keras.layers.Conv{rank}DTranspose has no groups argument")
            name, args = f"Conv{rank}DTranspose", dict(filters=out_channels, **conv_args)
        elif kind == "depthwise":
            name, args = f"DepthwiseConv{rank}D", dict(depth_multiplier=depth_multiplier, **conv_args)
        elif kind == "dense":
            name, args = "Dense", dict(units=out_channels)
        cls = getattr(keras.layers, name, None)
        if cls is None:
            raise NotApplicable(f"tensorflow: keras {keras.__version__} has no keras.layers.{name}")
        native = cls(dtype=self.dtype, use_bias=use_bias, **args)
        if kind == "dense":
            with self.session():
                native.build((None, *(input_shape[1:] if input_shape else (in_channels,))))
        else:
            self._build(native, rank, in_channels, input_shape)
        kernel_var = next(v for v in (getattr(native, n, None) for n in ("kernel", "depthwise_kernel"))
                          if v is not None)
        op = kind
        kernel_layout = layouts.kernel_layout("tensorflow", op, rank, api=api)

        def set_weights(kernel, bias=None):
            canonical_kernel = np.asarray(self.to_numpy(kernel) if not isinstance(kernel, np.ndarray) else kernel)
            with self.session():
                kernel_var.assign(layouts.convert(canonical_kernel, layouts.canonical(op, rank),
                                                  layouts.kernel_layout("tensorflow", op, rank, api=api))
                                  .astype(self.dtype))
                if bias is not None:
                    native.bias.assign(np.asarray(bias if isinstance(bias, np.ndarray) else self.to_numpy(bias),
                                                  dtype=self.dtype))

        def call(x):
            x = self.tf.convert_to_tensor(x)
            # dense, or an input of neither (N, C, *sp) nor (C, *sp) rank: no layout to convert, Keras
            # judges it as it is (its own error instead of a transpose of the wrong rank here)
            untouched = kind == "dense" or len(x.shape) not in (rank + 1, rank + 2)
            batched = kind == "dense" or len(x.shape) != rank + 1
            xn = x if untouched else self._native(x, rank, batched)[0]
            if (kind == "conv" and rank == 2 and not untouched and isinstance(padding, str)
                    and self.keras_backend == "tensorflow"):  # Keras' Conv2D runs the same oneDNN kernel
                self._check_conv2d(xn.shape, kernel_var.shape, spatial_ints(stride, 2), padding, spatial_ints(dilation, 2))
            yn = self._call_keras(native, xn)
            return yn if untouched else self._canonical(yn, rank, batched)

        return LayerHandle(api=f"keras.layers.{name}", kernel_shape=tuple(int(v) for v in kernel_var.shape),
                           kernel_layout=kernel_layout, param_count=int(native.count_params()),
                           set_weights=set_weights, call=call, native=native,
                           extra={"keras_backend": self.keras_backend})

    def _spatial_call(self, native, rank, check=None, **kwargs):
        """The handle's call: canonical in, the layer on the native layout, canonical out (``check`` is
        asked about the native shape first: a known-issue guard)."""
        def call(x):
            x = self.tf.convert_to_tensor(x)
            batched = len(x.shape) != rank + 1
            xn = self._native(x, rank, batched)[0]
            if check is not None:
                check(tuple(xn.shape))
            return self._canonical(self._call_keras(native, xn, **kwargs), rank, batched)
        return call

    def _weights(self, value):
        """A canonical weight (NumPy or a framework tensor) as a NumPy array of the run dtype."""
        return np.asarray(value if isinstance(value, np.ndarray) else self.to_numpy(value), dtype=self.dtype)

    def _separable_layer(self, rank, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         depth_multiplier, use_bias, input_shape):
        """``SeparableConv{1,2}D``: a depthwise kernel (*k, C, M), a pointwise kernel (1…, C·M, O) and
        one bias (O,).  ``set_weights(kernel, bias, pointwise=...)`` takes the canonical grouped
        depthwise kernel (C·M, 1, *k) and the pointwise conv kernel (O, C·M, 1…)."""
        name = f"SeparableConv{rank}D"
        cls = getattr(self.keras.layers, name, None)
        if cls is None:
            raise NotApplicable(f"tensorflow: keras {self.keras.__version__} has no keras.layers.{name} "
                                "(Keras has SeparableConv1D and SeparableConv2D)")
        native_layout = layouts.data_layout("tensorflow", rank)
        native = cls(filters=out_channels, kernel_size=kernel_size, strides=stride, padding=padding,
                     dilation_rate=dilation, depth_multiplier=depth_multiplier, use_bias=use_bias,
                     data_format="channels_last" if native_layout.endswith("C") else "channels_first",
                     dtype=self.dtype)
        self._build(native, rank, in_channels, input_shape)
        depthwise_layout = layouts.kernel_layout("tensorflow", "separable_depthwise", rank, api="keras")
        pointwise_layout = layouts.kernel_layout("tensorflow", "separable_pointwise", rank, api="keras")

        def set_weights(kernel, bias=None, *, pointwise):
            grouped = self._weights(kernel)
            depthwise = layouts.grouped_to_depthwise(grouped, grouped.shape[0] // depth_multiplier)
            with self.session():
                native.depthwise_kernel.assign(layouts.convert(depthwise, layouts.canonical("depthwise", rank),
                                                               depthwise_layout))
                native.pointwise_kernel.assign(layouts.convert(self._weights(pointwise),
                                                               layouts.canonical("conv", rank), pointwise_layout))
                if bias is not None:
                    native.bias.assign(self._weights(bias))

        biases = [v for v in native.weights if v.name.split("/")[-1].startswith("bias")]
        return LayerHandle(api=f"keras.layers.{name}", kernel_shape=tuple(int(v) for v in native.depthwise_kernel.shape),
                           kernel_layout=depthwise_layout, param_count=int(native.count_params()),
                           set_weights=set_weights, call=self._spatial_call(native, rank), native=native,
                           extra={"pointwise_shape": tuple(int(v) for v in native.pointwise_kernel.shape),
                                  "pointwise_layout": pointwise_layout, "bias_vectors": len(biases),
                                  "keras_backend": self.keras_backend})

    def _batch_norm_layer(self, rank, channels, eps, input_shape):
        """``BatchNormalization(axis=<native channel axis>)``, called with ``training=False`` (its moving
        statistics)."""
        known_issues.check_keras_batch_norm(self.keras_backend, self.dtype, self.keras.__version__)
        native_layout = layouts.data_layout("tensorflow", rank)
        kwargs = {} if eps is None else {"epsilon": eps}
        axis = native_layout.index("C") - len(native_layout)  # -1 for channels_last
        native = self.keras.layers.BatchNormalization(axis=axis, dtype=self.dtype, **kwargs)
        self._build(native, rank, channels, input_shape)
        names = {"mean": "moving_mean", "var": "moving_variance", "gamma": "gamma", "beta": "beta"}

        def set_weights(*, mean=None, var=None, gamma=None, beta=None):
            """Load inference statistics (None keeps Keras' initial value: mean 0, var 1, gamma 1, beta 0)."""
            with self.session():
                for given, value in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
                    if value is not None:
                        getattr(native, names[given]).assign(self._weights(value))

        return LayerHandle(api="keras.layers.BatchNormalization", kernel_shape=tuple(int(v) for v in native.gamma.shape),
                           kernel_layout="", param_count=int(native.count_params()), set_weights=set_weights,
                           call=self._spatial_call(native, rank, training=False), native=native,
                           extra={"eps": float(native.epsilon), "axis": axis, "training": False,
                                  "keras_backend": self.keras_backend})

    def _pool_layer(self, kind, rank, kernel_size, stride, padding, dilation, options):
        """``AveragePooling{n}D`` / ``MaxPooling{n}D`` with Keras' 'valid' or 'same'."""
        name = f"{'AveragePooling' if kind == 'avg_pool' else 'MaxPooling'}{rank}D"
        if options.get("ceil_mode", False):
            raise NotApplicable(NO_CEIL_MODE)
        if any(d != 1 for d in spatial_ints(dilation, rank)):
            raise NotApplicable(f"keras.layers.{name} has no dilation (it takes pool_size, strides, padding, "
                                "data_format)")
        pairs = None if isinstance(padding, str) else padding_pairs(padding, rank)
        if pairs is not None:
            if any(map(any, pairs)):
                raise NotApplicable(f"keras.layers.{name} takes padding 'valid' or 'same' only; explicit padding "
                                    f"{pairs} means padding the input before the layer")
            padding = "valid"  # padding 0 is Keras' 'valid'
        if (kind == "avg_pool" and options.get("count_include_pad", True) and isinstance(padding, str)
                and padding.lower() == "same"):
            raise NotApplicable(f"keras.layers.{name}(padding='same') always leaves the padding out of the "
                                "divisor (count_include_pad=False); Keras has no 'same' average that counts it")
        cls = getattr(self.keras.layers, name, None)
        if cls is None:
            raise NotApplicable(f"tensorflow: keras {self.keras.__version__} has no keras.layers.{name}")
        native_layout = layouts.data_layout("tensorflow", rank)
        native = cls(pool_size=kernel_size, strides=stride, padding=padding, dtype=self.dtype,
                     data_format="channels_last" if native_layout.endswith("C") else "channels_first")

        def set_weights(*args, **kwargs):
            """A pool has no weights: nothing to load."""

        def check(native_shape):
            if kind == "avg_pool":
                spatial = [n for n, a in zip(native_shape, native_layout[-len(native_shape):]) if a not in "NC"]
                known_issues.check_keras_avg_pool(self.keras_backend, padding, spatial, spatial_ints(kernel_size, rank),
                                                  spatial_ints(stride, rank), self.keras.__version__)

        return LayerHandle(api=f"keras.layers.{name}", kernel_shape=(), kernel_layout="", param_count=0,
                           set_weights=set_weights, call=self._spatial_call(native, rank, check), native=native,
                           extra={"padding": native.padding, "keras_backend": self.keras_backend})

    def _build(self, native, rank, in_channels, input_shape):
        """Build a spatial layer for the native layout of the canonical ``input_shape`` (N and any
        size not given are None)."""
        canon, native_layout = layouts.canonical("data", rank), layouts.data_layout("tensorflow", rank)
        shape = dict(zip(canon, input_shape or (None, in_channels) + (None,) * rank))
        with self.session():
            native.build(tuple(None if a == "N" else shape[a] for a in native_layout))

    def _call_keras(self, native, xn, **kwargs):
        """Run a Keras layer on a TF tensor; on another Keras backend cross through NumPy (autodiff stops)."""
        if self.keras_backend == "tensorflow":
            return native(xn, **kwargs)
        keras = self.keras
        yn = native(keras.ops.convert_to_tensor(xn.numpy(), dtype=self.dtype), **kwargs)
        return self.tf.constant(np.asarray(keras.ops.convert_to_numpy(yn)), dtype=self.dtype)

    def _flatten_layer(self, native_layout):
        """``keras.layers.Flatten(data_format=…)`` with the data_format of this adapter's native layout.

        Unlike the other handles its input is *not* converted from the canonical layout: ``x`` goes to
        the layer exactly as given, read by Keras as ``extra["input_layout"]`` (the adapter's native
        layout, NHWC for rank 2 with data_format='channels_last'), and the layer's ``(N, features)``
        output comes back as Keras orders it.  ``handle(bk.to_native(x))`` flattens a canonical map
        as a Keras model does after its conv layers.  (Keras' data_format matters: with
        'channels_first' Flatten first moves the channel axis last.)"""
        data_format = "channels_last" if native_layout.endswith("C") else "channels_first"
        native = self.keras.layers.Flatten(data_format=data_format, dtype=self.dtype)
        with self.session():
            native.build((None,) * len(native_layout))  # no weights; built so Keras can count them (0)

        def set_weights(kernel=None, bias=None):
            raise ValueError("keras.layers.Flatten has no weights")

        def call(x):
            return self._call_keras(native, self.tf.convert_to_tensor(x))

        return LayerHandle(api="keras.layers.Flatten", kernel_shape=(), kernel_layout="",
                           param_count=int(native.count_params()), set_weights=set_weights, call=call,
                           native=native, extra={"input_layout": native_layout, "data_format": data_format,
                                                 "keras_backend": self.keras_backend})
