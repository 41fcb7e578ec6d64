"""nn.Linear / Dense on an input of any rank acts on the last axis only: (*, in) → (*, out)."""
from hypothesis import strategies as st

from equivcheck.case import KERAS_TORCH_FLOAT64_DENSE, ONNX_116_NO_LAYERS, claim, dense_layer, oracle, source


@claim(
    title="Linear/Dense acts on the last axis of an input of any rank",
    statement="A Linear(in_features=50, out_features=1) layer applied to a (32, 128, 50) tensor transforms "
              "only the last axis and gives (32, 128, 1): every vector along the last axis goes through the "
              "same (out, in) matrix, whatever the number of leading axes; an input whose last axis is not "
              "in_features, e.g. (32, 50, 128), is rejected with an error.",
    sources=[
        source("003", "I have a tensor of size (32, 128, 50) in PyTorch."),
        source("003", "I want to pass this through a linear layer to get an output of size (32, 128, 1)."),
        source("003", "If I input a tensor of shape (32, 50, 50) -- thus creating ambiguity by having two "
                      "dimensions along which the linear layer could be applied to (two 50s) -- it only applies "
                      "it to the last dim and gives an output tensor of shape (32, 50, 1)."),
        source("003", "If I input a tensor of shape (32, 50, 128) it does NOT output a tensor of shape (32, 1, "
                      "128), but rather gives me an error."),
        source("003", "the input of this module can be any tensor of size (*, H_in) and the output will be a "
                      "tensor of size (*, H_out)"),
    ],
    examples=[
        # seed 003: word embeddings (batch 32, length 128, dim 50) → 1; (32, 50, 128) must raise
        {"lead": [32, 128], "in_features": 50, "out_features": 1, "bias": True, "bad_last": 128, "seed_error": True},
        # seed 003: the ambiguous (32, 50, 50) input: still the last axis
        {"lead": [32, 50], "in_features": 50, "out_features": 1, "bias": True, "bad_last": 128},
    ],
    # rank 2-4 inputs (leading axes 1-3); Keras Dense requires rank >= 2, see notes.
    space=st.fixed_dictionaries({
        "lead": st.lists(st.integers(1, 4), min_size=1, max_size=3), "in_features": st.integers(1, 6),
        "out_features": st.integers(1, 4), "bias": st.booleans(), "bad_last": st.integers(1, 7),
        "seed_error": st.just(False)}).filter(lambda p: p["bad_last"] != p["in_features"]),
    expected="holds", deviations=[KERAS_TORCH_FLOAT64_DENSE, *ONNX_116_NO_LAYERS],
)
def check(bk, p, ctx):
    lead = tuple(p.lead)
    x, w = ctx.array("x", (*lead, p.in_features)), ctx.array("w", (p.out_features, p.in_features))
    b = ctx.array("b", (p.out_features,)) if p.bias else None
    # The seed's wrong input: the in_features axis moved off the end, (32, 128, 50) → (32, 50, 128).
    bad = ctx.tensor("x_bad", (*lead[:-1], p.in_features, p.bad_last))
    # (One error label for the seed's (32, 50, 128), one for every drawn wrong shape.)
    label = "(32, 50, 128) into in_features=50" if p.get("seed_error") else "a drawn wrong last axis"
    for api in bk.layer_apis or ("functional",):  # every layer API, or the functional linear (JAX)
        layer = dense_layer(bk, w, b, use_bias=p.bias, api=api)
        got = layer(bk.asarray(x))
        ctx.equal(f"{api}: output shape (*, out)", tuple(bk.to_numpy(got).shape), (*lead, p.out_features))
        ctx.matches(f"{api}: every last-axis vector through the same matrix", got, oracle.linear, x, w, b)
        # Acting on the last axis means a last axis of the wrong size is an error, not a reinterpretation.
        ctx.raises(f"{api}: {label}", layer, bad, support=True)
        if p.get("seed_error"):  # a side fact on the seed's example: is a rank-1 input (in_features,) accepted?
            ctx.fact_outcome(f"rank1_input.{api}", layer, bk.asarray(x[0, 0]))
