"""Support's look-up of a person's mails against a real database: the audit trail, kept for good in
identity's database, records the accounts the mails went to, never the address looked up."""

import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from psycopg_pool import ConnectionPool

from accounts_common import dlq
from accounts_common.db import create_pool
from accounts_common.events import CloudEvent, dead_letter_topic
from accounts_common.events.topics import OPERATOR_ACTIONS
from accounts_common.roles import Role
from mailer.adapters import claims
from mailer.entrypoints.app import create_app
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer import support as support_layer
from mailer.service_layer.support import Support
from tests.conftest import Infra, migrated_database
from tests.integration.conftest import account_of, bearer, private_mailer_settings, staff_token
from tests.support.kafka import publish_events
from tests.support.outbox import outbox_records

ACTOR = uuid.UUID("00000000-0000-4000-8000-00000000a11e")


@pytest.fixture(scope="module")
def mailer_db(infra: Infra) -> str:
    return migrated_database(infra, "test_mailer_support", MAILER_MIGRATIONS)


@pytest.fixture(scope="module")
def mailer_pool(mailer_db: str) -> Iterator[ConnectionPool]:
    with create_pool(mailer_db, name="test-mailer-support") as pool:
        yield pool


@dataclass
class Mail:
    recipient: str
    account_id: uuid.UUID | None
    kind: str = "code"
    locale: str | None = "en"
    event_id: str = ""

    def __post_init__(self) -> None:
        self.event_id = str(uuid.uuid4())


def mailed(pool: ConnectionPool, *mails: Mail) -> None:
    with pool.connection() as conn:
        claims.claim(conn, list(mails))


def newest_action(pool: ConnectionPool) -> dict[str, str]:
    [newest, *_] = outbox_records(pool, newest_first=True, topic=OPERATOR_ACTIONS)
    return newest["data"]


def last_look_up_target(pool: ConnectionPool) -> str:
    newest = newest_action(pool)
    assert (newest["action"], newest["actor_account_id"]) == ("deliveries.looked-up", str(ACTOR))
    return str(newest["target"])


def test_a_look_up_records_the_distinct_accounts_of_the_mails_found_not_the_address(mailer_pool):
    email = f"person-{uuid.uuid4().hex[:8]}@example.org"
    low, high = sorted([uuid.uuid4(), uuid.uuid4()], key=str)
    mailed(mailer_pool, Mail(email, high), Mail(email.upper(), low), Mail(email, high), Mail(email, None))
    found = Support(mailer_pool, "", "mailer").deliveries_to(email, ACTOR)
    assert len(found) == 4
    assert last_look_up_target(mailer_pool) == f"{low},{high}"


def test_a_look_up_finds_the_mails_whatever_the_case_of_a_letter_beyond_ascii(mailer_pool):
    """Identity writes the local part lower-cased (Python's lower()); support may type it as the person
    does, and the database's lower() (C locale) leaves "É" alone."""
    email = f"élodie-{uuid.uuid4().hex[:8]}@example.org"
    mailed(mailer_pool, Mail(email, uuid.uuid4()))
    assert len(Support(mailer_pool, "", "mailer").deliveries_to(email.upper(), ACTOR)) == 1


def test_a_look_up_finds_the_mails_of_an_address_as_a_browser_or_a_keyboard_sends_it(mailer_pool):
    """Identity keeps an address in NFC with its domain in Unicode, and the mails go to it so. Support's
    email field (type=email) sends an internationalised domain in its ASCII form (xn--, as Chrome
    does), and a keyboard may type an accent apart (e + ´, NFD): the same address, the same mails."""
    local = f"élodie-{uuid.uuid4().hex[:8]}"
    mailed(mailer_pool, Mail(f"{local}@exémple.fr", uuid.uuid4()))
    support = Support(mailer_pool, "", "mailer")
    for typed in (f"{local}@xn--exmple-cva.fr", unicodedata.normalize("NFD", f"{local}@exémple.fr")):
        assert len(support.deliveries_to(typed, ACTOR)) == 1, typed


@pytest.mark.parametrize("a_mail_without_account", [True, False], ids=["mail-without-account", "no-mail"])
def test_a_look_up_that_finds_no_account_records_no_account(mailer_pool, a_mail_without_account):
    email = f"person-{uuid.uuid4().hex[:8]}@example.org"
    if a_mail_without_account:
        mailed(mailer_pool, Mail(email, None))
    Support(mailer_pool, "", "mailer").deliveries_to(email, ACTOR)
    assert last_look_up_target(mailer_pool) == "(no account)"


def test_a_look_up_of_an_address_of_many_accounts_fits_the_targets_length(mailer_pool):
    email = f"person-{uuid.uuid4().hex[:8]}@example.org"
    accounts = sorted(str(uuid.uuid4()) for _ in range(20))
    mailed(mailer_pool, *(Mail(email, uuid.UUID(account)) for account in accounts))
    Support(mailer_pool, "", "mailer").deliveries_to(email, ACTOR)
    target = last_look_up_target(mailer_pool)
    assert len(target) <= 512
    assert target.startswith(",".join(accounts[:12]) + ",")
    assert email not in target


def test_the_api_answers_the_mails_as_before_and_audits_the_account(
    mailer_db, mailer_pool, served_identity, identity_pool, infra
):
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "support")
    identity = served_identity.app.extensions["identity"]
    support = bearer(staff_token(identity, identity_pool, Role.SUPPORT))
    email, account = f"person-{uuid.uuid4().hex[:8]}@example.org", uuid.uuid4()
    mailed(mailer_pool, Mail(email, account))
    answer = (
        create_app(settings, mailer_pool).test_client().get(f"/v1/deliveries?email={email}", headers=support)
    )
    assert answer.status_code == 200, answer.json
    [item] = answer.json["items"]
    assert "account_id" not in item and item["kind"] == "code"
    [newest, *_] = outbox_records(mailer_pool, newest_first=True, topic=OPERATOR_ACTIONS)
    assert (newest["data"]["action"], newest["data"]["target"]) == ("deliveries.looked-up", str(account))


STOPPED = "replay stopped: 1 dead letter(s) not re-published (KafkaTimeoutError)"


def replay_stopped_after(monkeypatch: pytest.MonkeyPatch, went_back: int) -> None:
    """Kafka stops the replay once `went_back` letters were re-published."""

    def stopped(*_args: object) -> dlq.ReplayResult:
        raise dlq.ReplayFailed(STOPPED, went_back)

    monkeypatch.setattr(dlq, "replay", stopped)


def test_a_replay_kafka_stops_part_way_is_audited_with_the_letters_that_went_back(mailer_pool, monkeypatch):
    replay_stopped_after(monkeypatch, 2)
    with pytest.raises(dlq.ReplayFailed):
        Support(mailer_pool, "127.0.0.1:1", "mailer").replay_all(ACTOR)
    newest = newest_action(mailer_pool)
    assert (newest["action"], newest["actor_account_id"]) == ("mail.dead-letters-replayed", str(ACTOR))
    assert newest["target"] == f"2 letter(s), then stopped: {STOPPED}"


def test_a_replay_kafka_stops_before_any_letter_went_back_records_nothing(mailer_pool, monkeypatch):
    support = Support(mailer_pool, "127.0.0.1:1", "mailer")
    support.deliveries_to("nobody@example.org", ACTOR)  # the newest action before the replay
    replay_stopped_after(monkeypatch, 0)
    with pytest.raises(dlq.ReplayFailed):
        support.replay_all(ACTOR)
    assert newest_action(mailer_pool)["action"] == "deliveries.looked-up"


def test_dead_letters_past_those_listed_are_said_to_be_there(
    mailer_db, mailer_pool, served_identity, identity_pool, infra, monkeypatch
):
    """The list holds the oldest dead letters only (500): support must not take it for all of them when
    an outage left thousands ("Replay all" replays every one, listed or not)."""
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "many-letters")
    letters = [CloudEvent("CodeIssued", "/identity", str(uuid.uuid4()), {}) for _ in range(3)]
    publish_events(infra.kafka, dead_letter_topic(settings.consumer_group), letters)
    support = bearer(staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT))
    client = create_app(settings, mailer_pool).test_client()
    for listed, more in ((2, True), (3, False)):
        monkeypatch.setattr(support_layer, "LISTED_LETTERS", listed)
        answer = client.get("/v1/dead-letters", headers=support)
        assert answer.status_code == 200, answer.json
        assert [letter["event_id"] for letter in answer.json["items"]] == [e.id for e in letters[:listed]]
        assert answer.json["more"] is more, listed


def test_each_dead_letter_listed_is_audited_as_read_by_the_support_member_who_listed_it(
    mailer_db, mailer_pool, served_identity, identity_pool, infra
):
    """A letter names a person's account and what became of their mail: reading it is recorded as
    replaying it is, one entry per letter, by whoever asked."""
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "letters-read")
    letters = [CloudEvent("CodeIssued", "/identity", str(uuid.uuid4()), {}) for _ in range(2)]
    publish_events(infra.kafka, dead_letter_topic(settings.consumer_group), letters)
    token = staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT)
    reader = account_of(token)
    answer = create_app(settings, mailer_pool).test_client().get("/v1/dead-letters", headers=bearer(token))
    assert answer.status_code == 200, answer.json
    assert len(answer.json["items"]) == 2
    newest = [
        record["data"] for record in outbox_records(mailer_pool, newest_first=True, topic=OPERATOR_ACTIONS)
    ]
    assert [(entry["action"], entry["actor_account_id"], entry["target"]) for entry in newest[:2]] == [
        ("mail.dead-letter-read", reader, f"CodeIssued {letter.id}") for letter in reversed(letters)
    ]


def test_a_dead_letter_of_an_event_with_an_overlong_type_and_id_is_listed_and_audited_within_bounds(
    mailer_db, mailer_pool, served_identity, identity_pool, infra
):
    """A record is often dead-lettered for what is wrong with it: its type and id may be any length.
    Listed all the same, its reading audited under the audit trail's 512 characters of target."""
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "letters-long")
    odd = CloudEvent("Code" + "X" * 400, "/identity", str(uuid.uuid4()), {}, id="i" * 400)
    publish_events(infra.kafka, dead_letter_topic(settings.consumer_group), [odd])
    token = staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT)
    answer = create_app(settings, mailer_pool).test_client().get("/v1/dead-letters", headers=bearer(token))
    assert answer.status_code == 200, answer.json
    assert [letter["event_id"] for letter in answer.json["items"]] == [odd.id]
    [entry] = [
        record["data"] for record in outbox_records(mailer_pool, newest_first=True, topic=OPERATOR_ACTIONS)
    ][:1]
    assert entry["action"] == "mail.dead-letter-read" and len(entry["target"]) <= 512
    assert entry["target"].startswith("CodeXXX")
