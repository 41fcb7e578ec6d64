"""A conv layer with n filters of size k×k after f feature maps has n·(f·k·k + 1) parameters."""
import math

from hypothesis import strategies as st

from equivcheck.case import ONNX_116_NO_LAYERS, claim, source


@claim(
    title="A conv layer with n k×k filters after f maps has n·(f·k·k+1) parameters",
    statement="The number of parameters of a convolutional layer with n filters of size k×k which comes after "
              "f feature maps is n·(f·k·k+1), the +1 being the bias; without the bias it is n·f·k·k "
              "(one k×k kernel per input map per filter).",
    sources=[
        source("002", "The number of parameters of a convolutional layer with n filters of size k×k which comes "
                      "after f feature maps is\nn ⋅ (f ⋅ k ⋅ k + 1)"),
        source("002", "First conv layer: 160 = 16*(3*3+1)\nSecond conv layer: 4640 = 32*(16*3*3+1)"),
        source("002", "So in your case, this will be 6*16=96 kernels. For 3x3 kernels, this corresponds to "
                      "3*3*96 = 864 parameters."),
        source("004", "The first convolutional layer filters the 224×224×3 input image with 96 kernels of size "
                      "11×11×3 with a stride of 4 pixels."),
    ],
    examples=[
        # seed 002: 28×28 grey input → 16 filters 3×3 → 32 filters 3×3: 160 and 4640
        {"f": 1, "n": 16, "k": [3, 3], "bias": True, "groups": 1, "seed_count": 160},
        {"f": 16, "n": 32, "k": [3, 3], "bias": True, "groups": 1, "seed_count": 4640},
        # seed 002: torch.nn.Conv2d(6, 16, (3, 3)); torch.numel(conv.weight) = 864 = 3·3·96 (the weight alone)
        {"f": 6, "n": 16, "k": [3, 3], "bias": False, "groups": 1, "seed_count": 864},
        # seed 004: AlexNet conv1, 96 kernels of size 11×11×3 (with biases: 96·(3·11·11+1) = 34944)
        {"f": 3, "n": 96, "k": [11, 11], "bias": True, "groups": 1, "seed_count": 34944},
    ],
    space=st.fixed_dictionaries({
        "f": st.integers(1, 12), "n": st.integers(1, 12), "k": st.lists(st.integers(1, 5), min_size=1, max_size=3),
        "bias": st.booleans(), "groups": st.sampled_from([1, 1, 2, 3]),
    }).filter(lambda p: p["f"] % p["groups"] == 0 and p["n"] % p["groups"] == 0),
    expected={"*": "holds", "jax": "n/a"}, deviations=ONNX_116_NO_LAYERS,
    notes={
        "*": "With groups=g the formula generalises to n·((f/g)·prod(k) + 1): each filter spans the f/g maps of "
             "its group only; 1-D and 3-D kernels replace k·k by prod(k).",
    },
)
def check(bk, p, ctx):
    per_filter = (p.f // p.groups) * math.prod(p.k)
    formula = p.n * (per_filter + (1 if p.bias else 0))
    if "seed_count" in p:
        ctx.equal("the seed's number == n·(f·k·k+1)", formula, p.seed_count, support=True)
    if not bk.layer_apis:  # raises the framework's NotApplicable: it has no layers that own parameters
        bk.layer("conv", rank=len(p.k), in_channels=p.f, out_channels=p.n, kernel_size=tuple(p.k))
    counted = {}
    for api in bk.layer_apis:
        layer = bk.layer("conv", rank=len(p.k), in_channels=p.f, out_channels=p.n, kernel_size=tuple(p.k),
                         groups=p.groups, use_bias=p.bias, api=api, input_shape=(1, p.f, *p.k))
        ctx.equal(f"{layer.api}: parameter count == n·((f/g)·prod(k) + bias)", layer.param_count, formula)
        ctx.equal(f"{layer.api}: kernel size == n·(f/g)·prod(k)", math.prod(layer.kernel_shape), p.n * per_filter)
        counted[layer.api] = layer.param_count
    if "seed_count" in p:
        ctx.fact(f"params[f={p.f},n={p.n},k={'x'.join(map(str, p.k))},bias={p.bias},groups={p.groups}]", counted)
