"""No enumeration by what an attacker can do with an address: register it with a password of their
choosing and log in, or sign up for it again. A verified address answers as a new one does, in
status and body, and costs the same argon2 work (counted here; timing itself is measured by
bench/enumeration_timing.py); its owner is mailed a notice, never a code."""

import dataclasses
import unicodedata

import pytest

from accounts_common.events.topics import CODES
from identity.adapters.hashing import BackgroundHasher
from identity.entrypoints.app import create_app
from tests.integration.conftest import NEW_PASSWORD, PASSWORD, bearer, latest_code, register, sign_up, verify
from tests.support.outbox import outbox_records

ATTACKER_PASSWORD = "Attacker-Knows-1!"


class CountingHasher(BackgroundHasher):
    """The real hasher, counting its argon2 runs."""

    def __init__(self, real: BackgroundHasher) -> None:
        super().__init__(real.hasher, 0)
        self.runs = 0

    def _run(self, work, *args):  # type: ignore[no-untyped-def]
        self.runs += 1
        return super()._run(work, *args)


@pytest.fixture
def counted(identity):  # type: ignore[no-untyped-def]
    hasher = CountingHasher(identity.hasher)
    return hasher, create_app(dataclasses.replace(identity, hasher=hasher)).test_client()


def login(client, email: str, password: str) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    response = client.post("/v1/sessions", json={"email": email, "password": password})
    return response.status_code, response.json


def codes_topic_events(pool, email: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return outbox_records(pool, topic=CODES, email=email)


def test_register_then_login_answers_alike_for_a_verified_and_a_new_email(
    client, identity_pool, unique_email
):
    sign_up(client, identity_pool, unique_email)
    answers = {}
    for kind, email in (("verified", unique_email), ("new", "new-" + unique_email)):
        register(client, email, ATTACKER_PASSWORD)
        answers[kind] = login(client, email, ATTACKER_PASSWORD)
        answers[kind + " wrong"] = login(client, email, "Nobody-Chose-3#")
    assert answers["verified"] == answers["new"]
    assert answers["verified"][0] == 403 and str(answers["verified"][1]["type"]).endswith(
        "account-not-verified"
    )
    assert answers["verified wrong"] == answers["new wrong"]
    assert answers["verified wrong"][0] == 401
    assert login(client, unique_email, PASSWORD)[0] == 200  # the owner's password still logs in


def test_every_login_and_registration_path_runs_argon2_once(counted, identity_pool, unique_email):
    hasher, client = counted
    sign_up(client, identity_pool, unique_email)
    pending = "pending-" + unique_email
    paths = {
        "register verified": lambda: register(client, unique_email, ATTACKER_PASSWORD),
        "register new": lambda: register(client, pending, ATTACKER_PASSWORD),
        "login verified, decoy's password": lambda: login(client, unique_email, ATTACKER_PASSWORD),
        "login pending, its password": lambda: login(client, pending, ATTACKER_PASSWORD),
        "login verified, owner's password": lambda: login(client, unique_email, PASSWORD),
        "login verified, wrong password": lambda: login(client, unique_email, "Nobody-Chose-3#"),
        "login pending, wrong password": lambda: login(client, pending, "Nobody-Chose-3#"),
        "login unknown": lambda: login(client, "nobody-" + unique_email, ATTACKER_PASSWORD),
    }
    runs = {}
    for name, path in paths.items():
        before = hasher.runs
        path()
        runs[name] = hasher.runs - before
    assert runs == dict.fromkeys(paths, 1)


def test_a_password_not_in_nfc_runs_argon2_twice_for_every_email_unless_its_nfc_form_matches(
    counted, identity_pool, unique_email
):
    """Whether a login tries the password as typed after its NFC form (for a hash made before identity
    prepared passwords) depends on the password, never on the email: an unknown email, a pending one
    and a wrong password of a verified one all cost two runs. Only a right password costs one."""
    hasher, client = counted
    owners, attackers = "Crème-brûlée-42!", "Attaqué-Connu-1!"
    sign_up(client, identity_pool, unique_email, owners)
    pending = "pending-" + unique_email
    register(client, unique_email, attackers)
    register(client, pending, attackers)
    typed = {password: unicodedata.normalize("NFD", password) for password in (owners, attackers)}
    wrong = unicodedata.normalize("NFD", "Nobody-Chosé-3#")
    paths = {
        "login verified, owner's password": (lambda: login(client, unique_email, typed[owners]), 1),
        "login verified, decoy's password": (lambda: login(client, unique_email, typed[attackers]), 1),
        "login pending, its password": (lambda: login(client, pending, typed[attackers]), 1),
        "login verified, wrong password": (lambda: login(client, unique_email, wrong), 2),
        "login pending, wrong password": (lambda: login(client, pending, wrong), 2),
        "login unknown": (lambda: login(client, "nobody-" + unique_email, wrong), 2),
    }
    runs, answers = {}, {}
    for name, (path, _) in paths.items():
        before = hasher.runs
        answers[name] = path()[0]
        runs[name] = hasher.runs - before
    assert runs == {name: expected for name, (_, expected) in paths.items()}
    assert list(answers.values()) == [200, 403, 403, 401, 401, 401]


def test_a_decoys_password_does_not_clear_the_failures_against_the_owners(
    client, identity_pool, unique_email
):
    sign_up(client, identity_pool, unique_email)
    register(client, unique_email, ATTACKER_PASSWORD)
    statuses = []
    for _ in range(5):
        statuses.append(login(client, unique_email, "Nobody-Chose-3#")[0])
        statuses.append(login(client, unique_email, ATTACKER_PASSWORD)[0])
    assert statuses[:2] == [401, 403]
    assert 429 in statuses  # the attacker's own registration does not buy unlimited guesses


def test_a_decoys_password_neither_deletes_the_account_nor_verifies(client, identity_pool, unique_email):
    token = sign_up(client, identity_pool, unique_email)
    decoy = register(client, unique_email, ATTACKER_PASSWORD)
    for password in (ATTACKER_PASSWORD, "Nobody-Chose-3#"):
        refused = client.delete("/v1/accounts/me", json={"password": password}, headers=bearer(token))
        assert refused.status_code == 403 and refused.json["type"].endswith("wrong-password")
    assert verify(client, unique_email, decoy, latest_code(identity_pool, unique_email)).status_code == 400


def test_signing_up_again_mails_the_owner_a_notice_in_their_language_and_no_code(
    client, identity_pool, unique_email
):
    first = register(client, unique_email, PASSWORD, locale="fr")
    assert verify(client, unique_email, first, latest_code(identity_pool, unique_email)).status_code == 200
    again = client.post(
        "/v1/accounts", json={"email": unique_email, "password": ATTACKER_PASSWORD, "locale": "en"}
    )
    new = client.post("/v1/accounts", json={"email": "new-" + unique_email, "password": ATTACKER_PASSWORD})
    assert (again.status_code, set(again.json)) == (new.status_code, set(new.json))
    events = codes_topic_events(identity_pool, unique_email)
    assert [event["type"] for event in events] == ["CodeIssued", "DuplicateSignupAttempted"]
    assert events[1]["data"]["locale"] == "fr"  # the owner's language, not the one asked in
    assert "code_encrypted" not in events[1]["data"]
    client.post(
        "/v1/accounts/verification/resend",
        json={"email": unique_email, "registration_id": again.json["registration_id"]},
    )
    assert len(codes_topic_events(identity_pool, unique_email)) == 2  # within the resend cooldown


def test_the_notices_are_capped_like_code_mails(make_identity, identity_pool, unique_email):
    client = create_app(make_identity(codes_per_hour=3)).test_client()
    sign_up(client, identity_pool, unique_email)
    for _ in range(5):
        register(client, unique_email, ATTACKER_PASSWORD)
    types = [event["type"] for event in codes_topic_events(identity_pool, unique_email)]
    assert types == ["CodeIssued", "DuplicateSignupAttempted", "DuplicateSignupAttempted"]


def reset_password(client, pool, email: str, new_password: str) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/password-resets", json={"email": email})
    code = latest_code(pool, email, "password_reset")
    verified = client.post("/v1/password-resets/verification", json={"email": email, "code": code})
    completion = {"reset_token": verified.json["reset_token"], "new_password": new_password}
    assert client.post("/v1/password-resets/completion", json=completion).status_code == 200


def test_a_decoys_password_still_answers_not_verified_after_the_owner_resets_theirs(
    client, identity_pool, unique_email
):
    sign_up(client, identity_pool, unique_email)
    register(client, unique_email, ATTACKER_PASSWORD)
    reset_password(client, identity_pool, unique_email, NEW_PASSWORD)
    # A new address's registration answers 403 until it expires: so must the decoy.
    assert login(client, unique_email, ATTACKER_PASSWORD)[0] == 403
    assert login(client, unique_email, NEW_PASSWORD)[0] == 200
    assert login(client, unique_email, PASSWORD)[0] == 401


def test_a_decoys_password_still_answers_not_verified_after_the_owners_hash_is_upgraded(
    make_identity, identity_pool, unique_email
):
    old = create_app(make_identity()).test_client()
    sign_up(old, identity_pool, unique_email)
    register(old, unique_email, ATTACKER_PASSWORD)
    upgraded = create_app(make_identity(argon2_time_cost=2)).test_client()
    assert login(upgraded, unique_email, PASSWORD)[0] == 200  # the owner logs in: a rehash is due
    assert login(upgraded, unique_email, ATTACKER_PASSWORD)[0] == 403
