"""Passwords are argon2id with production parameters; tokens are random and stored as hashes."""

from __future__ import annotations

import hashlib
import re

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from dialogo.accounts import security
from dialogo.accounts import service as accounts
from dialogo.accounts.models import User
from tests.factories import PASSWORD, make_user

ARGON2 = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def test_passwords_are_hashed_with_argon2id() -> None:
    hashed = security.hash_password("a long enough password")
    match = ARGON2.match(hashed)
    assert match, hashed
    memory_kib, time_cost, _parallelism = (int(g) for g in match.groups())
    # OWASP's floor for argon2id: 19 MiB of memory and 2 iterations.
    assert memory_kib >= 19 * 1024
    assert time_cost >= 2
    assert "a long enough password" not in hashed


def test_same_password_different_salt() -> None:
    assert security.hash_password("same password!") != security.hash_password("same password!")


def test_verify() -> None:
    hashed = security.hash_password("right password")
    assert security.verify_password(hashed, "right password")
    assert not security.verify_password(hashed, "wrong password")
    assert not security.verify_password(hashed, "")
    assert not security.verify_password(None, "right password")  # unknown user
    assert not security.verify_password("not a hash", "right password")


def test_user_rows_hold_only_the_hash(db: Session) -> None:
    user = make_user(db)
    assert ARGON2.match(user.password_hash)
    assert PASSWORD not in user.password_hash
    assert security.verify_password(user.password_hash, PASSWORD)


def test_weak_hashes_are_upgraded_at_sign_in(db: Session) -> None:
    user = make_user(db)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    db.flush()
    assert security.needs_rehash(weak)

    assert accounts.authenticate(db, user.email, PASSWORD) is not None
    db.refresh(user)
    assert user.password_hash != weak
    assert not security.needs_rehash(user.password_hash)
    assert security.verify_password(user.password_hash, PASSWORD)


def test_wrong_password_leaves_the_hash_alone(db: Session) -> None:
    user = make_user(db)
    before = user.password_hash
    assert accounts.authenticate(db, user.email, "not the password") is None
    assert db.get(User, user.id).password_hash == before  # type: ignore[union-attr]


def test_api_tokens() -> None:
    token, prefix, token_hash = security.new_api_token()
    assert token.startswith(f"{security.TOKEN_PREFIX}{prefix}_")
    assert len(token) > 40
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_hash
    assert len({security.new_api_token()[0] for _ in range(50)}) == 50


def test_session_tokens_and_csrf() -> None:
    token, token_hash = security.new_session_token()
    assert token_hash == security.hash_token(token) != token
    assert security.new_csrf_token() != security.new_csrf_token()
    assert security.constant_time_equal("abc", "abc")
    assert not security.constant_time_equal("abc", "abd")
