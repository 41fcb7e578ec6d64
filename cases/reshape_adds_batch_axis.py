"""reshape(x, (8, 1, 256)), x[:, None, :], view and unsqueeze(1) all insert the same singleton axis."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import claim, source


@claim(
    title="reshape, None-indexing, view and unsqueeze insert the same singleton (batch) axis",
    statement="Turning an 8x256 sentence matrix into an LSTM input of shape (8, 1, 256) gives the same tensor, "
              "element for element and without mixing rows, whether written reshape(x, (8, 1, 256)), "
              "x[:, None, :], x.view(8, 1, 256) or x.unsqueeze(1); the TensorFlow and JAX equivalents "
              "(tf.reshape, tf.expand_dims, jnp.reshape, jnp.expand_dims, x[:, None, :]) give it too.",
    sources=[
        source("000", "x = torch.rand(8,256)\nlstm_input = torch.reshape(x,(8,1,256))"),
        source("000", "Your solution is correct: you added a Singleton dimension for the \"batch\" dimension, "
                      "leaving x to be with temporal dimension 8 and input dimension 256."),
        source("000", "x = x[:, None, :]\nPutting None in the dim=1 indicates to pytorch to add a singelton "
                      "dimension."),
        source("000", "Another way is to use view:\nx = x.view(8, 1, 256)"),
    ],
    examples=[
        # seed 000: an 8-word sentence of 256-dim embeddings, batch axis inserted at position 1
        {"shape": [8, 256], "axis": 1},
    ],
    # Another rank and other insertion positions (at the end, in the middle of a 3-D tensor); only
    # two, because every new (shape, axis) costs JAX ~110 ms of compiles per spelling and dtype.
    space=st.sampled_from([{"shape": [8, 256], "axis": 2}, {"shape": [2, 3, 4], "axis": 2}]), expected="holds",
    notes={
        "numpy": "np.reshape, x[:, None, :], np.expand_dims and the ndarray .reshape method (ndarray.view means a "
                 "dtype view in NumPy, so it is not one of the spellings here).",
        "tensorflow": "tf.reshape (bk.reshape), tf.expand_dims (bk.expand_dims) and x[:, None, :] on the tf.Tensor "
                      "(None is tf.newaxis); tf.Tensor has no .reshape/.view method.",
    },
)
def check(bk, p, ctx):
    shape = tuple(p.shape)
    axis = min(p.axis, len(shape))  # an axis position 0 … ndim (inserting at the end is allowed)
    target, index = shape[:axis] + (1,) + shape[axis:], (slice(None),) * axis + (None,)
    x = ctx.array("x", shape)
    xt = bk.asarray(x)
    spellings = {"reshape": bk.reshape(xt, target), "index_none": xt[index], "expand_dims": bk.expand_dims(xt, axis)}
    # Tensor methods, where the framework's tensor has them with this meaning.
    if hasattr(xt, "reshape"):
        spellings["method_reshape"] = xt.reshape(target)
    if bk.framework_name == "torch":
        spellings.update(view=xt.view(target), unsqueeze=xt.unsqueeze(axis))
    ctx.fact("spellings", sorted(spellings))

    # The reference: NumPy's None-indexing of the same values; each row stays intact.
    for name, got in spellings.items():
        ctx.equal(f"{name}: shape", bk.to_numpy(got).shape, target)
        ctx.equal(f"{name}: values equal x with a singleton axis at {axis}", bk.to_numpy(got), x[index])
    # The seed's worry, "without mixing": element (t, 0, f) is x[t, f] for the batch axis at 1.
    if axis == 1 and len(shape) == 2:
        got = bk.to_numpy(spellings["reshape"])
        ctx.equal("reshape keeps each row: y[t, 0, :] == x[t, :]",
                  [bool(np.array_equal(got[t, 0], x[t])) for t in range(shape[0])], [True] * shape[0])
