"""A password is prepared in Unicode NFC (RFC 8265) wherever identity receives it, and a login tries it
as typed too, for hashes made before: with fakes for the database, the real argon2 at a test cost."""

import unicodedata
from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest
from argon2 import PasswordHasher
from marshmallow import ValidationError

from identity.adapters.account_store import Account
from identity.adapters.hashing import BackgroundHasher
from identity.domain.passwords import Password
from identity.entrypoints import schemas
from identity.service_layer.sessions import Match, _password_matches

COMPOSED = "Crème-brûlée-42!"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def test_a_password_is_prepared_in_nfc_however_its_accents_were_typed():
    assert COMPOSED != DECOMPOSED
    assert Password(DECOMPOSED).prepared == Password(COMPOSED).prepared == COMPOSED
    angstrom_sign = "\u212b"  # NFC makes it Å, U+00C5
    assert Password(f"{angstrom_sign}ngstr\u00f6m-Sign-1!").prepared == "\u00c5ngstr\u00f6m-Sign-1!"


def test_a_login_tries_a_second_form_only_when_the_password_has_one():
    assert Password("Correct-Horse-9!").forms() == ("Correct-Horse-9!",)
    assert Password(DECOMPOSED).forms() == (COMPOSED, DECOMPOSED)
    assert Password(COMPOSED).forms() == (COMPOSED, DECOMPOSED)


def test_a_password_never_shows_in_a_repr():
    assert COMPOSED not in repr(Password(COMPOSED)) and DECOMPOSED not in repr(Password(DECOMPOSED))


@pytest.mark.parametrize(
    ("schema", "field", "extra"),
    [
        (schemas.Registration, "password", {"email": "a@example.org"}),
        (schemas.Login, "password", {"email": "a@example.org"}),
        (schemas.PasswordConfirmation, "password", {}),
        (schemas.ResetCompletion, "new_password", {"reset_token": "t"}),
    ],
)
def test_every_password_field_hands_the_service_a_prepared_password(schema, field, extra):
    loaded = schema().load({field: DECOMPOSED, **extra})[field]
    assert isinstance(loaded, Password)
    assert (loaded.prepared, loaded.typed) == (COMPOSED, DECOMPOSED)
    with pytest.raises(ValidationError):  # still the length every policy shares
        schema().load({field: "", **extra})


class NothingStored:
    """A connection whose every query finds no row (no decoy, no registration)."""

    def cursor(self, **_):  # type: ignore[no-untyped-def]
        return self

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *_):  # type: ignore[no-untyped-def]
        return False

    def execute(self, *_):  # type: ignore[no-untyped-def]
        return self

    def fetchone(self) -> None:
        return None


class CountingHasher(BackgroundHasher):
    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1), nice=0)
        self.runs = 0

    def _run(self, work, *args):  # type: ignore[no-untyped-def]
        self.runs += 1
        return super()._run(work, *args)


def verified(password_hash: str | None) -> Account:
    now = datetime.now(UTC)
    return Account(uuid4(), "a@example.org", password_hash, now, now, now, None, None)


def matched(account: Account | None, typed: str) -> tuple[Match, int]:
    """What the login made of the password, and how many argon2 runs it took."""
    hasher = CountingHasher()
    app = SimpleNamespace(hasher=hasher, dummy_hash=hasher.hasher.hash("no account has this password"))
    return _password_matches(app, NothingStored(), account, Password(typed)), hasher.runs  # type: ignore[arg-type]


def test_a_hash_in_nfc_matches_the_password_in_either_form_at_the_first_run():
    account = verified(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(COMPOSED))
    assert matched(account, COMPOSED) == (Match.ACCOUNT, 1)
    assert matched(account, DECOMPOSED) == (Match.ACCOUNT, 1)


def test_a_legacy_hash_of_the_password_as_typed_matches_at_the_second_run_and_says_so():
    account = verified(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DECOMPOSED))
    assert matched(account, DECOMPOSED) == (Match.ACCOUNT_AS_TYPED, 2)


def test_a_wrong_password_costs_the_same_runs_for_a_known_and_an_unknown_email():
    account = verified(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(COMPOSED))
    wrong = unicodedata.normalize("NFD", "Crème-brûlée-43!")
    assert matched(account, wrong) == matched(None, wrong) == (Match.NONE, 2)
    assert matched(account, "Wrong-Horse-9!x") == matched(None, "Wrong-Horse-9!x") == (Match.NONE, 1)
