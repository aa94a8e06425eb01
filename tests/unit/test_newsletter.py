"""The newsletter's rules without I/O: unsubscribe tokens, delivery ids, keys, the worker's threads."""

import threading
import uuid
from datetime import UTC, datetime

import pytest

from accounts_common.config import InsecureKey
from accounts_common.events import validate_data
from newsletter.domain.issues import Issue, Recipient, delivery_id, delivery_request
from newsletter.domain.unsubscribe import account_of_token, unsubscribe_token
from newsletter.entrypoints.cli import run_together
from newsletter.settings import DEV_UNSUBSCRIBE_KEY, Settings

KEY = b"0123456789abcdef0123456789abcdef"
ACCOUNT = uuid.UUID("5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30")


def test_a_token_names_its_account_and_only_with_the_right_key():
    token = unsubscribe_token(KEY, ACCOUNT)
    assert account_of_token(KEY, token) == ACCOUNT
    assert account_of_token(b"another key of thirty-two bytes!", token) is None
    assert unsubscribe_token(KEY, ACCOUNT) == token  # a link stays valid as long as the key


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: unsubscribe_token(KEY, uuid.uuid4()).split(".")[0] + "." + t.split(".")[1],
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "not base64!.at all",
        lambda t: t + t,
    ],
)
def test_altered_or_made_up_tokens_name_nobody(forge):
    assert account_of_token(KEY, forge(unsubscribe_token(KEY, ACCOUNT))) is None


def other_spelling_of_the_last_character(part: str) -> str:
    """The same bytes under a lenient decoder: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused_bits = {2: 4, 3: 2}[len(part) % 4]  # 16-byte ids end with 4 spare bits, 32-byte HMACs with 2
    return part[:-1] + alphabet[alphabet.index(part[-1]) | (1 << unused_bits) - 1]


@pytest.mark.parametrize(
    "respell",
    [
        lambda a, s: f"{other_spelling_of_the_last_character(a)}.{s}",
        lambda a, s: f"{a}.{other_spelling_of_the_last_character(s)}",
        lambda a, s: f"{a}==.{s}",
        lambda a, s: f"{a}.{s}=",
        lambda a, s: f"{a}.{s[:10]}\n{s[10:]}",
        lambda a, s: f" {a}.{s}",
        lambda a, s: f"+{a[1:]}.{s}",
    ],
)
def test_only_the_canonical_spelling_of_a_token_is_accepted(respell):
    account_part, signature_part = unsubscribe_token(KEY, ACCOUNT).split(".")
    assert account_of_token(KEY, respell(account_part, signature_part)) is None


def test_a_delivery_request_is_valid_and_its_id_is_the_same_every_time():
    issue = Issue(uuid.uuid4(), "News", "Text\n", "<p>Html</p>", datetime.now(UTC), 10, 10, 0, 0, None)
    recipient = Recipient(3, ACCOUNT, "ana@example.org")
    event = delivery_request(issue, recipient, "https://n.example.org/v1/unsubscribe?token=x", "now")
    validate_data(event.type, event.data)
    assert event.id == event.data["delivery_id"] == str(delivery_id(issue.id, ACCOUNT))
    assert event.subject == str(ACCOUNT)
    assert (
        delivery_id(issue.id, ACCOUNT) == delivery_id(issue.id, ACCOUNT) != delivery_id(uuid.uuid4(), ACCOUNT)
    )


def test_the_unsubscribe_key_is_refused_outside_development_unless_real(monkeypatch):
    monkeypatch.delenv("ACCOUNTS_ENV", raising=False)
    for refused in ("", "short", DEV_UNSUBSCRIBE_KEY):
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_KEY", refused)
        with pytest.raises(InsecureKey):
            Settings.from_env()
    real = "Zq3v9-Jc1Lr8XbT2mWk7YhN4pGd6Fs0AeUo5Ri1Kt8Q"
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_KEY", real)
    assert Settings.from_env().unsubscribe_key == real.encode()
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_KEY")
    assert Settings.from_env().unsubscribe_key == DEV_UNSUBSCRIBE_KEY.encode()


def test_when_one_loop_of_the_worker_fails_the_other_is_stopped():
    stop = threading.Event()
    stopped = threading.Event()

    def failing(_stop: threading.Event) -> None:
        raise RuntimeError("consumer died")

    def waiting(stop: threading.Event) -> None:
        stop.wait()
        stopped.set()

    hook, threading.excepthook = threading.excepthook, lambda _args: None
    try:
        run_together(stop, failing, waiting)
    finally:
        threading.excepthook = hook
    assert stop.is_set() and stopped.wait(5)
