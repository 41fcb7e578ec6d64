"""Everything a case file imports, from one module.

A case file (``cases/<claim_id>.py`` or a claim of your own) needs the ``@claim`` declaration, the
NumPy oracle, the layout table, and the case kit's helpers; they live in several modules, each with
one job, and this module names them all so that a case has one import line for equivcheck::

    from equivcheck.case import claim, conv_geometries, oracle, run_conv, source

What each helper does is documented where it is defined (the ``casekit`` modules, by topic:
docs/WRITING_CASES.md has the table).  Nothing is defined here.
"""
from equivcheck import known_issues, layouts, op_bounds, oracle, tolerance
from equivcheck.backends.base import NotApplicable
from equivcheck.casekit import (KERAS_TORCH_FLOAT64, KERAS_TORCH_FLOAT64_DENSE, STRIDE_OR_DILATION,
                                TF_MISSING_KERNEL_NOTE, ConvGeometry, conv_arrays, conv_example, conv_geometries,
                                conv_geometry, conv_layers, dense_layer, input_grad, pad_pairs, per_dim, run_conv,
                                run_conv_transpose, run_input_grad, run_weight_grad, scatter_input_grad,
                                small_convs, spatial_crop, swapped_kernel, tensor, tf_missing_kernel_notes,
                                unless_missing_kernel, zero_insert_and_pad)
from equivcheck.casekit_discovery import (PATCH_AXES, SHUFFLE_ORDERS, SHUFFLE_PERMUTATIONS, argmax_conventions,
                                          column_order_rule, conv_transpose_settings, decode_argmax, discover_pads,
                                          distinct_ranks, flat_index, in_patch_order, native_conv_transpose,
                                          patch_orders, record_same_split, shuffle_order)
from equivcheck.casekit_equivalences import depth_axis_kw, loaded_layer, slice_convs
from equivcheck.casekit_export import (KINDS, SUMMING, TORCH_PAD_MODES, abs_magnitude, bn_stats, conv_pad_pairs,
                                       import_torch, layer_example, layer_input_shape, load_parameters, run_torch,
                                       summed_terms, torch_layers, torch_module, torch_oracle)
from equivcheck.casekit_gradients import conv_with_output, shifted_weight_grad, weight_grad
from equivcheck.casekit_layers import if_applicable, native_layer, native_layer_output
from equivcheck.casekit_layouts import (blocks_last, checked_flatten, columns_in_order, functional_kernel_shape,
                                        kernel_dims, kernel_shape, layout_shape, nhwc_rows, out_channels,
                                        reference_op, row_major_flatten, swap_axes, wrong_layouts,
                                        wrong_permutation_checks)
from equivcheck.casekit_pitfalls import (ONNX_116_AUTO_PAD, ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, SHUFFLE_ORDER,
                                         example_input, fold_phases, kernel_phases, pick_shuffle, same_pools)
from equivcheck.claim import claim, deviation, source

__all__ = [name for name in dir() if not name.startswith("_")]
