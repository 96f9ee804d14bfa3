"""The rotating cipher and the keys setting."""

from __future__ import annotations

import base64
import re

import pytest

from ehqa.cipher import KeyMissingError, RotatingCipher
from ehqa.keyring import CipherKeyError, new_key, parse_keys
from ehqa.keys import seal, unseal


def cipher(keys: str) -> RotatingCipher:
    return RotatingCipher({"CIPHER_KEY": keys})


def test_it_encrypts_with_the_newest_key_and_reads_with_any_listed() -> None:
    k1, k2 = new_key("k1"), new_key("k2")
    old = cipher(k1).encrypt(b'{"a": 1}')
    assert b'"a"' not in old
    rotated = cipher(f"{k2},{k1}")
    assert rotated.decrypt(old) == b'{"a": 1}'
    assert cipher(k2).decrypt(rotated.encrypt(b"x")) == b"x"
    with pytest.raises(KeyMissingError, match="key 'k1'"):
        cipher(k2).decrypt(old)
    with pytest.raises(KeyMissingError, match="key 'k1'"):
        cipher("").decrypt(old)
    assert cipher("").encrypt(b"plain") == b"plain" == cipher(k1).decrypt(b"plain")


def test_a_damaged_event_is_refused() -> None:
    k1 = new_key("k1")
    stored = bytearray(cipher(k1).encrypt(b"state"))
    stored[-1] ^= 1
    with pytest.raises(ValueError, match="damaged"):
        cipher(k1).decrypt(bytes(stored))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("nocolon", "key 1: write it as ID:KEY"),
        ("k1:!!!", "key 1 (k1): not base64"),
        ("k1:" + base64.b64encode(b"x" * 10).decode(), "10 bytes (give 16, 24 or 32)"),
        (  # (fixed keys: a test's id must be the same in every pytest-xdist worker)
            "a:"
            + base64.b64encode(b"a" * 32).decode()
            + ",a:"
            + base64.b64encode(b"b" * 32).decode(),
            "key 2 (a): the id is listed twice",
        ),
        ("bad id:" + base64.b64encode(b"x" * 32).decode(), "key 1: write it as ID:KEY"),
    ],
)
def test_a_malformed_setting_names_the_key_at_fault(keys: str, message: str) -> None:
    with pytest.raises(CipherKeyError, match=re.escape(message)):
        parse_keys(keys)


def test_a_sealed_field_opens_only_for_its_child_and_field() -> None:
    key = bytes(32)
    sealed = seal(key, "C-1", "name", "Ann")
    assert unseal(key, "C-1", "name", sealed) == "Ann"
    assert unseal(key, "C-2", "name", sealed) is None
    assert unseal(key, "C-1", "postcode", sealed) is None
    assert unseal(bytes([1] * 32), "C-1", "name", sealed) is None
