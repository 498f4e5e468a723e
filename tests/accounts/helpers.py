"""Test helpers for accounts: cheap argon2 parameters, a real PNG.

Cheap argon2 parameters are for tests that create many users.

The production hasher (argon2id with the library's defaults) costs about 0.1 s per hash; the
authorisation matrix creates hundreds of users. These tests still hash and verify with
argon2id, only with a small memory and time cost. ``tests/accounts/test_security.py`` checks
the production parameters with the real hasher.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher

from dialogo.accounts import security


@contextmanager
def cheap_argon2() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        yield


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real, minimal PNG image (logo uploads check the file signature)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
