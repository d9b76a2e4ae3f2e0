"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile; the settings'
`hash_profile` may choose a fast profile for test suites). A hash carries its own
parameters: whatever made it, it is verified as made, and a log-in rehashes one made with
other parameters than the running profile's (`needs_rehash`)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gongchuang.config import get_settings


@cache
def _hasher() -> PasswordHasher:
    if get_settings().hash_profile == "fast-for-tests":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the phone is unknown, so timing does not reveal it.
    Made on first use, not at import: every process (a CLI command, a worker) would otherwise
    pay an argon2 hash to start."""
    return _hasher().hash("gongchuang-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
