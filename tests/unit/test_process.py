"""The shared process runner: what it does to the cyclic collector before a service's work starts, and
the log lines it writes."""

import gc
import logging
import signal
import sys
from collections.abc import Iterator

import pytest

from accounts_common import gunicorn_hooks
from accounts_common.emails import normalise_email
from accounts_common.process import AddressesLeftOut, run_until_signalled
from accounts_common.retry_policy import PermanentError


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Every test starts and ends with nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def in_collected_generations(obj: object) -> bool:
    """Whether full collections still walk `obj` (frozen objects are in none of the generations)."""
    return any(candidate is obj for candidate in gc.get_objects())


def test_a_worker_starts_its_work_with_its_startup_objects_out_of_the_collectors_reach() -> None:
    built_at_startup = [["a client", "a pool"]]
    assert in_collected_generations(built_at_startup)
    walked_while_working = []
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        run_until_signalled(
            lambda stop: walked_while_working.append(in_collected_generations(built_at_startup))
        )
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert walked_while_working == [False]


def test_a_web_worker_freezes_its_startup_objects_once_its_app_is_built() -> None:
    built_with_the_app = [["blueprints", "a pool"]]
    assert in_collected_generations(built_with_the_app)
    gunicorn_hooks.post_worker_init(worker=None)
    assert not in_collected_generations(built_with_the_app)


def test_the_log_format_leaves_every_email_address_out_of_the_message_and_its_traceback() -> None:
    formatter = AddressesLeftOut("%(levelname)s %(name)s: %(message)s")
    try:
        raise PermanentError("SMTP 550 5.1.1 <Ana.Silva+news@example.org>: Recipient address rejected")
    except PermanentError:
        record = logging.LogRecord(
            "consumer",
            logging.ERROR,
            __file__,
            1,
            "dead-lettered for %s: %s",
            ("jöe@exämple.org", "x"),
            sys.exc_info(),
        )
    text = formatter.format(record)
    assert "@" not in text
    assert "ERROR consumer: dead-lettered for <address>: x" in text
    assert "SMTP 550 5.1.1 <<address>>: Recipient address rejected" in text, "the traceback too"


@pytest.mark.parametrize(
    "address",
    [
        "mary.o'brien@example.org",  # an apostrophe, as in many names
        "राम@example.org",  # a vowel sign: a mark, not a letter (\w)
        "user@उदाहरण.भारत",  # the same in the domain
        "ana@exämple.org",
    ],
)
def test_an_address_identity_accepts_is_left_out_whole(address: str) -> None:
    """Whatever an account's address may be (accounts_common.emails takes any character email-validator
    allows), none of it stays in the line: not the part of the name before an apostrophe or a mark."""
    assert normalise_email(address) == address, "an address identity keeps as it is"
    record = logging.LogRecord("mailer", logging.WARNING, __file__, 1, "mail to %s: 550", (address,), None)
    assert AddressesLeftOut("%(message)s").format(record) == "mail to <address>: 550"


@pytest.mark.parametrize(
    ("address", "written"), [("ana@example.org", "'<address>'"), ("o'brien@example.org", '"<address>"')]
)
def test_an_address_written_in_quotes_keeps_them(address: str, written: str) -> None:
    record = logging.LogRecord("mailer", logging.WARNING, __file__, 1, "mail to %r", (address,), None)
    assert AddressesLeftOut("%(message)s").format(record) == f"mail to {written}"
