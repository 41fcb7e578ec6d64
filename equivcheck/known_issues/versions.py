"""The package versions the records of known framework behaviour were seen in, and whether a version
is inside such a range (versions are compared by their first three numbers: ``0.12.0.1`` is
``(0, 12, 0)``)."""
from __future__ import annotations

#: jaxlib versions seen aborting (inclusive).  Older ones are assumed affected too (the code is
#: years old); newer ones run the examples, so a fix shows, and so does the defect if it is not fixed.
OPERAND_SWAP_ABORT = {"first_seen": "0.4.30", "last_seen": "0.12.0.1"}
#: TensorFlow versions seen computing the wrong values (2.15.1 computes them right).
ONEDNN_ONE_COLUMN = {"first_seen": "2.21.0", "last_seen": "2.21.0"}
#: onnx versions seen with the reference's grouped ConvTranspose and MaxUnpool-with-output_shape bugs.
ONNX_REFERENCE_SEEN = {"first_seen": "1.23.2", "last_seen": "1.23.2"}
#: Keras versions seen with the 'same' average-pool and float64 BatchNormalization items.
KERAS_BACKEND_SEEN = {"first_seen": "3.15.1", "last_seen": "3.15.1"}


def seen_in(version: str) -> dict:
    """The range of an item seen in one version only: ``KnownIssue(..., **seen_in("2.21.0"))``."""
    return {"first_seen": version, "last_seen": version}


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is ``minimum`` or newer (by the first three numbers).

    >>> at_least("0.10.5", "0.10.5"), at_least("0.8.5", "0.10.5"), at_least("0.12.0.1", "0.10.5")
    (True, False, True)
    """
    return _version_tuple(version) >= _version_tuple(minimum)


def affected(version: str, seen: dict = OPERAND_SWAP_ABORT, *, older_too: bool = True) -> bool:
    """Whether ``version`` is inside the range a defect was ``seen`` in (``older_too``: anything older
    than the last version seen)."""
    v = _version_tuple(version)
    return (older_too or v >= _version_tuple(seen["first_seen"])) and v <= _version_tuple(seen["last_seen"])
