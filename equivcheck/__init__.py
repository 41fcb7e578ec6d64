"""equivcheck: cross-framework equivalence test suite for convolutions."""
