"""Secrets at rest: Fernet encryption keyed from config.secret_key through HKDF."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASK = "••••••"


class SecretError(ValueError):
    """A stored secret could not be decrypted (wrong key or tampered data)."""


def _fernet(secret_key: bytes, purpose: bytes) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"callcontrol:" + purpose)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret_key)))


class SecretBox:
    def __init__(self, secret_key: bytes, purpose: bytes = b"secrets-at-rest") -> None:
        self._fernet = _fernet(secret_key, purpose)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretError("stored secret cannot be decrypted with this secret key") from exc


def mask(secret: str | None) -> str:
    """What to display instead of a secret: never its length or any character."""
    return MASK if secret else ""
