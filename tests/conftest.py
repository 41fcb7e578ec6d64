"""Options of the meta-tests (tests/test_faults.py) and the test order; the claim options live in
equivcheck/pytest_plugin.py."""

#: The longest tests: a claim on JAX or Flax compiles a new XLA program for nearly every draw.
_LONG = ("-jax]", "-flax]")


def pytest_addoption(parser):
    parser.getgroup("equivcheck").addoption(
        "--all-catchers", action="store_true", default=False,
        help="fault-injection meta-tests: run the whole catalog under each fault and name every claim that "
             "catches it (default: stop at the first one, which is the proof)")


def pytest_collection_modifyitems(config, items):
    """Longest first: the claims on JAX and Flax lead, everything else keeps its order after them.

    Under ``-n 2 --dist worksteal`` each worker starts on its share and steals from the end of the
    other's queue, so a run that ends on short tests ends with both workers busy, instead of one
    worker finishing a 10-second claim alone (measured: up to 6 s of one idle core)."""
    def long(item):
        return item.nodeid.startswith("tests/test_claims.py") and item.nodeid.endswith(_LONG)
    items.sort(key=lambda item: not long(item))  # stable: the rest stays in collection order
