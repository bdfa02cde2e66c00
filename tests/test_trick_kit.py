"""Former name of ``tests/trick_kit.py``, for importers not yet moved (conftest keeps pytest from
collecting it); import from ``tests.trick_kit``."""
from tests.trick_kit import REGISTRY, assert_bitwise_equal, fit, weights  # noqa: F401
