"""Former name of ``tests/family_kit.py``, for importers not yet moved (conftest keeps pytest from
collecting it); import from ``tests.family_kit`` and mark the module with
``pytest.mark.usefixtures("one_thread")``."""
import pytest

from tests.family_kit import REGISTRY, build, fit, prepared, read_history  # noqa: F401


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread):
    """conftest's ``one_thread`` for each module importing this name, as the fixture here was."""
    yield
