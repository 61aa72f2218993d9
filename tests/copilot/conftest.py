from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.keyring import MemoryKeyring, fail_keyring, using_keyring


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    with using_keyring(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


@pytest.fixture
def no_keyring() -> Iterator[None]:
    with using_keyring(fail_keyring()):
        yield
