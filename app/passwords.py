"""Argon2id password hashing (OWASP parameters) and the tenant's password rules."""
from __future__ import annotations

import ctypes
import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def _return_hash_memory_to_the_system() -> None:
    """Keep Argon2's 19 MiB work buffers out of the heap (glibc only).

    glibc raises its mmap threshold after the first large buffer is freed, so every later hash
    is served from the heap and the worker keeps ~19 MiB it no longer uses. A fixed threshold
    keeps those buffers mmapped and returned after each hash (DESIGN §8: ≤ 60 MiB a worker).
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # another C library: nothing to tune


_return_hash_memory_to_the_system()

# OWASP: Argon2id, m=19 MiB, t=2, p=1 (about 20 ms here; the library default takes ~10x longer).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the login is unknown, so timing does not reveal which logins exist.
_DUMMY_HASH = _hasher.hash("no such account: timing equaliser")


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if the password matches; always spends the same work, even without a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, policy: Any) -> list[str]:
    """What a new password lacks under the tenant's rules (empty list: acceptable)."""
    min_length = getattr(policy, "min_length", 10) if policy is not None else 10
    problems = []
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters")
    if policy is not None:
        if getattr(policy, "require_upper", False) and not re.search(r"[A-Z]", password):
            problems.append("an upper-case letter")
        if getattr(policy, "require_lower", False) and not re.search(r"[a-z]", password):
            problems.append("a lower-case letter")
        if getattr(policy, "require_digit", False) and not re.search(r"[0-9]", password):
            problems.append("a digit")
        if getattr(policy, "require_symbol", False) and not re.search(r"[^A-Za-z0-9]", password):
            problems.append("a symbol")
    if len(password) > 1024:
        problems.append("at most 1024 characters")
    return problems


def describe_problems(problems: list[str]) -> str:
    """One sentence for a form error."""
    return "The password needs " + ", ".join(problems) + "."
