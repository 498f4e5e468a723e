"""Named, independent random streams: everything in the sandbox is a function of (seed, config).

Each sub-model draws from its own stream, keyed by a stable name (and, for streams that are
generated piecewise, by integers such as a day number or a hash of an id). The key goes into a
``numpy.random.SeedSequence`` spawn key, so streams are statistically independent, and adding a
new sub-model (a new name) never shifts the numbers any other sub-model draws.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

_MASK32 = (1 << 32) - 1


def stable_key(name: str) -> int:
    """A 64-bit integer from a string, the same on every run and platform (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def _words(value: int) -> tuple[int, int]:
    """A possibly negative or wide integer as two non-negative 32-bit words."""
    value &= (1 << 64) - 1
    return value & _MASK32, value >> 32


def stream(seed: int, name: str, *keys: int | str) -> np.random.Generator:
    """The generator for sub-model ``name`` (and optional piece ``keys``) of the world ``seed``."""
    spawn: list[int] = [*_words(stable_key(name))]
    for key in keys:
        spawn.extend(_words(stable_key(key) if isinstance(key, str) else key))
    sequence = np.random.SeedSequence(entropy=seed & ((1 << 128) - 1), spawn_key=tuple(spawn))
    return np.random.Generator(np.random.PCG64(sequence))


def py_random(generator: np.random.Generator) -> random.Random:
    """A fast pure-Python generator seeded from ``generator`` (for string work in loops, where
    numpy's per-call overhead dominates). ``random.Random`` with an int seed is stable across
    CPython versions for ``random``, ``randrange`` and ``choice``."""
    return random.Random(int(generator.integers(0, 1 << 62)))  # noqa: S311 - simulation only
