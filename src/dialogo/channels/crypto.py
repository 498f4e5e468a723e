"""Network credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from ``DIALOGO_CREDENTIALS_KEYS`` (a list; the first encrypts, all decrypt, so a new
key can be put in front and ``dialogo channels rotate-key`` re-encrypts everything with it).
Without it a key is derived from ``DIALOGO_SECRET_KEY`` with HKDF, which is fine until the
secret key changes: set explicit keys in production.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dialogo.core.config import Settings
from dialogo.core.errors import DomainError
from dialogo.providers.base import Credentials


class CredentialsUnreadable(DomainError):
    code = "credentials_unreadable"
    status = 500


def derive_key(secret: str) -> str:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"dialogo", info=b"channel credentials v1"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(raw).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


class CredentialCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one credentials key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialCipher:
        keys = list(settings.credentials_keys) or [
            derive_key(settings.secret_key.get_secret_value())
        ]
        return cls(keys)

    def encrypt(self, credentials: Credentials) -> str:
        payload = {
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "expires_at": credentials.expires_at.isoformat() if credentials.expires_at else None,
            "account_id": credentials.account_id,
            "extra": credentials.extra,
        }
        return self._fernet.encrypt(json.dumps(payload).encode()).decode()

    def decrypt(self, token: str) -> Credentials:
        try:
            payload = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured keys "
                "(was DIALOGO_SECRET_KEY or DIALOGO_CREDENTIALS_KEYS changed?)"
            ) from None
        expires = payload.get("expires_at")
        return Credentials(
            access_token=payload.get("access_token"),
            refresh_token=payload.get("refresh_token"),
            expires_at=dt.datetime.fromisoformat(expires) if expires else None,
            account_id=payload.get("account_id"),
            extra=dict(payload.get("extra") or {}),
        )

    def rotate(self, token: str) -> str:
        """Re-encrypt with the first key (after a new key was put in front of the list)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured keys"
            ) from None
