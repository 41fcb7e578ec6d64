"""Keras layers with canonical-layout I/O: the adapter's :meth:`layer` (Keras 3 ``keras.layers``).

A mixin of :class:`equivcheck.backends.tensorflow.adapter.TensorflowBackend`: it uses the adapter's
``tf`` and ``keras`` modules, its layout conversions and its known-issue check of 2-D convs.  The Keras
path runs on any Keras backend (``KERAS_BACKEND``): inputs cross via ``keras.ops.convert_to_tensor``
and outputs via ``keras.ops.convert_to_numpy`` when that backend is not TensorFlow (autodiff then stops
at the layer).
"""
from __future__ import annotations

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, spatial_ints


class KerasLayers:
    """``keras.layers`` builders: conv, conv_transpose, depthwise, dense and flatten."""

    # ---- layers ------------------------------------------------------------
    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1,
              padding="valid", dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None,
              input_shape=None):
        api = api or self.layer_apis[0]
        if api not in self.layer_apis:
            raise NotApplicable(f"tensorflow has no layer API {api!r}; it offers {self.layer_apis}")
        keras = self.keras
        native_layout = layouts.data_layout("tensorflow", rank)
        if kind == "flatten":
            return self._flatten_layer(native_layout)
        conv_args = dict(kernel_size=kernel_size, strides=stride, padding=padding, dilation_rate=dilation,
                         data_format="channels_last" if native_layout.endswith("C") else "channels_first")
        if kind == "conv":
            name, args = f"Conv{rank}D", dict(filters=out_channels, groups=groups, **conv_args)
        elif kind == "conv_transpose":
            if groups != 1:
                raise NotApplicable(f"tensorflow: keras.layers.Conv{rank}DTranspose has no groups argument")
            name, args = f"Conv{rank}DTranspose", dict(filters=out_channels, **conv_args)
        elif kind == "depthwise":
            name, args = f"DepthwiseConv{rank}D", dict(depth_multiplier=depth_multiplier, **conv_args)
        elif kind == "dense":
            name, args = "Dense", dict(units=out_channels)
        else:
            raise ValueError(f"layer kind must be conv, conv_transpose, depthwise, dense or flatten, got {kind!r}")
        cls = getattr(keras.layers, name, None)
        if cls is None:
            raise NotApplicable(f"tensorflow: keras {keras.__version__} has no keras.layers.{name}")
        native = cls(dtype=self.dtype, use_bias=use_bias, **args)
        if kind == "dense":
            build_shape = (None, *(input_shape[1:] if input_shape else (in_channels,)))
        else:
            canon = layouts.canonical("data", rank)
            shape = dict(zip(canon, input_shape or (None, in_channels) + (None,) * rank))
            build_shape = tuple(None if a == "N" else shape[a] for a in native_layout)
        with self.session():
            native.build(build_shape)
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

    def _call_keras(self, native, xn):
        """Run a Keras layer on a TF tensor; on another Keras backend cross through NumPy (autodiff stops)."""
        if self.keras_backend == "tensorflow":
            return native(xn)
        keras = self.keras
        yn = native(keras.ops.convert_to_tensor(xn.numpy(), dtype=self.dtype))
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
