from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.helpers import cheap_argon2


@pytest.fixture
def cheap_hashing() -> Iterator[None]:
    """Opt-in: tests that create many users but do not test hashing itself."""
    with cheap_argon2():
        yield
