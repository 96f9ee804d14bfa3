"""Encryption at rest: the store's events encrypted with the application's keys, which rotate.

The keys are one setting, `EHQA_CIPHER_KEYS`: `ID:KEY` pairs, comma-separated, newest first,
each KEY 16, 24 or 32 random bytes in base64 (`python -m ehqa.keyring ID` prints a new one). The
library (eventsourcing) encrypts each stored event's state with `CIPHER_TOPIC`'s cipher; ours,
`RotatingCipher`, is its AES-GCM cipher with the key's id written in front of what it stores, so
it encrypts with the newest key and decrypts with whichever listed key the event names. Adding
a key on top rotates: new events use it, old ones stay readable as long as their key is listed,
and no stored event is ever rewritten (their stored bytes are what the hash chain covers).

An event stored before any key was set carries no key id: it is read as it was stored.
The same keys wrap each child's data key (ehqa.keys).
"""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.persistence import Cipher, OperationalError

from ehqa.keyring import ENV, Keyring, parse_keys


class KeyMissingError(OperationalError):
    """An event is encrypted with a key the settings do not list: the store cannot be read
    (a failure of the run, never a fault of the event: views stop rather than skip it)."""


class RotatingCipher(Cipher):
    """The library's cipher strategy (`CIPHER_TOPIC`), with the keys of `CIPHER_KEY`; without
    keys it stores events as they are and refuses to read one that is encrypted."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        keys = environment.get(ENV)
        self.keyring = Keyring(parse_keys(keys)) if keys else None

    def encrypt(self, plaintext: bytes) -> bytes:
        return plaintext if self.keyring is None else self.keyring.seal(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        ident = Keyring.key_id(ciphertext)
        if ident is None:
            return ciphertext  # stored before encryption was turned on
        if self.keyring is None or ident not in self.keyring:
            raise KeyMissingError(
                f"an event is encrypted with key '{ident}', which EHQA_CIPHER_KEYS does not list"
            )
        return self.keyring.open(ciphertext)
