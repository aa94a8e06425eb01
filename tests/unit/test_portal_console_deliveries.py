"""The console's Deliveries page (support) with a fake of the mailer behind it."""

import re
from urllib.parse import unquote

import pytest

from portal.adapters.http import ApiError, ServiceUnavailable
from tests.unit.test_portal import FakeMailer, SupportStaffIdentity, csrf_token, staff_client

PAGE = "/console/deliveries?email=ana.silva%40example.org"


class ReplayedMeanwhile(FakeMailer):
    """The mailer: the dead letter asked for was replayed by someone else meanwhile."""

    def replay(self, token: str, letter: tuple[int, int] | None = None) -> int:
        raise ApiError(404, "unknown-dead-letter")


@pytest.mark.parametrize(
    ("replay", "mailer"),
    [
        ({"partition": "0", "offset": "7"}, FakeMailer),
        ({"all": "1"}, FakeMailer),
        ({"partition": "0", "offset": "7"}, ReplayedMeanwhile),
    ],
    ids=["one", "all", "replayed meanwhile"],
)
def test_a_replay_returns_to_the_mails_of_the_person_looked_up(replay, mailer):
    client = staff_client(SupportStaffIdentity(), mailer=mailer())
    page = client.get(PAGE)
    forms = re.findall(r'<form method="post" action="/console/deliveries/replays".*?</form>', page.text, re.S)
    assert forms and all('name="email" value="ana.silva@example.org"' in form for form in forms)
    form = {"csrf_token": csrf_token(client, PAGE), "email": "ana.silva@example.org", **replay}
    answer = client.post("/console/deliveries/replays", data=form)
    assert (answer.status_code, unquote(answer.headers["Location"])) == (303, unquote(PAGE))


class KafkaDown(FakeMailer):
    """The mailer: Kafka, where the dead letters are, did not answer the replay (or stopped part way)."""

    def replay(self, token: str, letter: tuple[int, int] | None = None) -> int:
        raise ServiceUnavailable("mailer", "503 dead-letters-unavailable")


@pytest.mark.parametrize("replay", [{"partition": "0", "offset": "7"}, {"all": "1"}], ids=["one", "all"])
def test_a_replay_the_mailer_cannot_make_is_said_on_the_deliveries_page(replay):
    """Back on the page, the person looked up still shown, with why: not an error page of its own."""
    client = staff_client(SupportStaffIdentity(), mailer=KafkaDown())
    form = {"csrf_token": csrf_token(client, PAGE), "email": "ana.silva@example.org", **replay}
    answer = client.post("/console/deliveries/replays", data=form)
    assert (answer.status_code, unquote(answer.headers["Location"])) == (303, unquote(PAGE))
    page = client.get(PAGE)
    assert "The mail service is unavailable. Please try again in a few minutes." in page.text
    assert "sent again" not in page.text


class ManyLetters(FakeMailer):
    """The mailer: more dead letters than it lists (an outage left thousands)."""

    more_letters = True


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "There are more dead letters than these, the oldest."),
        ("fr", "Il y a plus de lettres mortes que celles-ci, les plus anciennes."),
    ],
)
def test_a_list_of_the_oldest_dead_letters_says_there_are_more(language, said):
    """Support must not take the 500 oldest for every dead letter there is."""
    many = staff_client(SupportStaffIdentity(), mailer=ManyLetters()).get(
        PAGE, headers={"Accept-Language": language}
    )
    assert many.status_code == 200 and said in many.text
    every = staff_client(SupportStaffIdentity(), mailer=FakeMailer()).get(
        PAGE, headers={"Accept-Language": language}
    )
    assert every.status_code == 200 and said not in every.text and 'data-event-id="e-7"' in every.text
