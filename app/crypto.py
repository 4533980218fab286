"""Encryption at rest for client secrets and TOTP secrets, with a key kept outside the database."""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _key() -> bytes:
    """The Fernet key: ENCRYPTION_KEY from config, else instance/encryption.key (made once)."""
    configured = current_app.config.get("ENCRYPTION_KEY")
    if configured:
        return configured.encode() if isinstance(configured, str) else configured
    path = Path(current_app.instance_path) / "encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return path.read_bytes().strip()


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return Fernet(_key()).encrypt(plaintext.encode()).decode()


def decrypt(token: str | None) -> str | None:
    """Decrypt a stored secret; None when absent or unreadable with this install's key."""
    if not token:
        return None
    try:
        return Fernet(_key()).decrypt(token.encode()).decode()
    except InvalidToken:
        current_app.logger.error("A stored secret cannot be decrypted with this install's key.")
        return None
