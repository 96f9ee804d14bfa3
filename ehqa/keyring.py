"""The application's keys: `EHQA_CIPHER_KEYS` read and checked, and the keyring that seals and
opens with them (AES-GCM, the key's id written in front of what it seals).

Kept apart from the library's cipher strategy (ehqa.cipher), so that a command that only opens
the store (a query whose views are current) reads its keys without loading the event store's
code. `python -m ehqa.keyring ID` prints a new key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (loaded by a keyring: a store without keys never loads cryptography)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ehqa:k1:"  # what an encrypted state starts with, then the key id's length and the id
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
NONCE = 12
TOPIC = "ehqa.cipher:RotatingCipher"  # the strategy the library loads (ehqa.cipher)
ENV = "CIPHER_KEY"


class CipherKeyError(ValueError):
    """The keys setting cannot be read: the message names the pair at fault (never a key)."""


def parse_keys(text: str) -> list[tuple[str, bytes]]:
    """`ID:KEY,ID:KEY` (newest first) as (id, key bytes) pairs."""
    found: list[tuple[str, bytes]] = []
    for number, pair in enumerate(text.split(","), start=1):
        ident, colon, encoded = pair.strip().partition(":")
        if not colon or not KEY_ID.fullmatch(ident):
            raise CipherKeyError(
                f"key {number}: write it as ID:KEY, the ID 1-32 letters, digits, '_' or '-'"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CipherKeyError(f"key {number} ({ident}): not base64") from None
        if len(key) not in (16, 24, 32):
            raise CipherKeyError(f"key {number} ({ident}): {len(key)} bytes (give 16, 24 or 32)")
        if any(ident == known for known, _ in found):
            raise CipherKeyError(f"key {number} ({ident}): the id is listed twice")
        found.append((ident, key))
    return found


class Keyring:
    """The application's keys: seals with the newest, opens with the one a sealed value names."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise CipherKeyError("no key given")
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead: type[AESGCM] = AESGCM
        self._damaged: type[Exception] = InvalidTag
        self.newest = keys[0][0]
        self._keys = dict(keys)

    def seal(self, plaintext: bytes, associated: bytes | None = None) -> bytes:
        ident = self.newest.encode()
        nonce = os.urandom(NONCE)
        sealed = self._aead(self._keys[self.newest]).encrypt(nonce, plaintext, associated)
        return MAGIC + bytes([len(ident)]) + ident + nonce + sealed

    def __contains__(self, ident: str) -> bool:
        return ident in self._keys

    @staticmethod
    def key_id(stored: bytes) -> str | None:
        """The id of the key a stored value was sealed with (None: not sealed by a keyring)."""
        if not stored.startswith(MAGIC) or len(stored) <= len(MAGIC):
            return None
        size = stored[len(MAGIC)]
        return stored[len(MAGIC) + 1 : len(MAGIC) + 1 + size].decode("ascii", "replace")

    def open(self, stored: bytes, associated: bytes | None = None) -> bytes:
        ident = self.key_id(stored)
        if ident is None:
            raise ValueError("not sealed with a key of this keyring")
        if ident not in self._keys:
            raise ValueError(f"sealed with key '{ident}', which is not listed in EHQA_CIPHER_KEYS")
        body = stored[len(MAGIC) + 1 + len(ident) :]
        try:
            return self._aead(self._keys[ident]).decrypt(body[:NONCE], body[NONCE:], associated)
        except self._damaged:
            raise ValueError(f"damaged, or not sealed with key '{ident}'") from None


def cipher_env(keys: str | None) -> dict[str, str]:
    """The persistence settings of the cipher: always ours, so that an encrypted event read
    without its key is a clear refusal, not a decoding error; with no keys it encrypts nothing."""
    if keys:
        parse_keys(keys)
    return {"CIPHER_TOPIC": TOPIC, ENV: keys or ""}


def new_key(ident: str) -> str:
    if not KEY_ID.fullmatch(ident):
        raise CipherKeyError("a key id is 1-32 letters, digits, '_' or '-'")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return f"{ident}:{base64.b64encode(AESGCM.generate_key(256)).decode()}"


if __name__ == "__main__":
    sys.stdout.write(new_key(sys.argv[1] if len(sys.argv) > 1 else "k1") + "\n")
