"""Secrets at rest: keys that rotate, tokens that cannot be read without them, settings checked on load."""

import pytest
from cryptography.fernet import Fernet
from pydantic import BaseModel, SecretStr, ValidationError

from grants_shared.encryption import FernetKeys, KeyRing, Unreadable, split_keys


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = new_key(), new_key()
    token = KeyRing([old]).encrypt(b"20-00-00 55779911")
    assert b"55779911" not in token.encode()
    assert KeyRing([new, old]).decrypt(token) == b"20-00-00 55779911"
    with pytest.raises(Unreadable):
        KeyRing([new]).decrypt(token)
    with pytest.raises(Unreadable):
        KeyRing([old]).decrypt(token[:-4] + "AAAA")


class Keys(BaseModel):
    keys: FernetKeys


def test_a_key_setting_is_checked_when_settings_load_without_echoing_it() -> None:
    good = f" {new_key()} , {new_key()} "
    assert len(split_keys(Keys(keys=SecretStr(good)).keys)) == 2
    for bad in ("", " , ", "not-a-key-but-a-secret-value"):
        with pytest.raises(ValidationError) as error:
            Keys(keys=SecretStr(bad))
        assert "not-a-key-but-a-secret-value" not in str(error.value)
