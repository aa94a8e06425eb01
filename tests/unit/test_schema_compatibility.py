"""The committed JSON Schemas of the event versions, and the guard against breaking their readers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from marshmallow import fields, validate

from accounts_common.events.compatibility import breaking_changes, generated, json_schema
from accounts_common.events.schemas import ACCOUNT_ID, EMAIL, AccountVerified, CodeIssued, EventData, meaning

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "schemas"
GENERATOR_HINT = "run .venv/bin/accounts-schemas (it refuses breaking changes)"


def committed(file_name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((COMMITTED / file_name).read_text())


@pytest.mark.parametrize("file_name", sorted(generated()))
def test_every_event_version_has_a_committed_schema(file_name):
    assert (COMMITTED / file_name).exists(), GENERATOR_HINT


@pytest.mark.parametrize(("file_name", "schema"), sorted(generated().items()))
def test_no_schema_breaks_the_readers_of_its_committed_version(file_name, schema):
    assert breaking_changes(committed(file_name), schema) == []


def changed(schema: type[EventData]) -> dict:  # type: ignore[type-arg]
    return json_schema("AccountVerified", 1, schema)


VERIFIED_AT = AccountVerified().fields["verified_at"].metadata


class WithoutVerifiedAt(EventData):
    account_id = fields.UUID(required=True, metadata=ACCOUNT_ID)
    email = fields.Email(required=True, metadata=EMAIL)


class VerifiedAtRenamed(WithoutVerifiedAt):
    verified_on = fields.AwareDateTime(required=True, metadata=VERIFIED_AT)


class VerifiedAtAsNumber(WithoutVerifiedAt):
    verified_at = fields.Float(required=True, metadata=VERIFIED_AT)


class VerifiedAtNullable(WithoutVerifiedAt):
    verified_at = fields.AwareDateTime(required=True, allow_none=True, metadata=VERIFIED_AT)


class WithRequiredMethod(AccountVerified):
    method = fields.String(required=True)


class VerifiedAtMeansSomethingElse(WithoutVerifiedAt):
    verified_at = fields.AwareDateTime(required=True, metadata=meaning("When the code was emailed."))


class WithOptionalMethod(AccountVerified):
    method = fields.String(metadata=meaning("How the mailbox was proved: a code, or a link."))


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (WithoutVerifiedAt, "field 'verified_at' removed or renamed"),
        (VerifiedAtRenamed, "field 'verified_at' removed or renamed"),
        (VerifiedAtAsNumber, "field 'verified_at': type changed from string (date-time) to number"),
        (VerifiedAtNullable, "field 'verified_at': type changed from string (date-time) to null/string"),
        (WithRequiredMethod, "field 'method' is newly required"),
        (VerifiedAtMeansSomethingElse, "field 'verified_at': meaning changed"),
    ],
    ids=["removed", "renamed", "changed-type", "now-nullable", "new-required", "changed-meaning"],
)
def test_the_guard_rejects_each_kind_of_breaking_change(schema, problem):
    problems = breaking_changes(committed("AccountVerified.v1.json"), changed(schema))
    assert any(found.startswith(problem) for found in problems), problems


def test_the_guard_rejects_new_values_of_an_enumeration():
    class MorePurposes(CodeIssued):
        purpose = fields.String(
            required=True, validate=validate.OneOf(["verification", "password_reset", "x"])
        )

    problems = breaking_changes(committed("CodeIssued.v1.json"), json_schema("CodeIssued", 1, MorePurposes))
    assert problems == ["field 'purpose': values beyond ['verification', 'password_reset']"]


def test_an_optional_field_added_passes():
    assert breaking_changes(committed("AccountVerified.v1.json"), changed(WithOptionalMethod)) == []


def test_the_generator_refuses_to_commit_a_breaking_change(tmp_path):
    (tmp_path / "AccountVerified.v1.json").write_text(json.dumps(changed(WithOptionalMethod)))
    result = subprocess.run(
        [sys.executable, "-m", "accounts_common.events.compatibility", "--folder", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "AccountVerified.v1.json: breaking change, not written: field 'method' removed" in result.stderr
    assert json.loads((tmp_path / "AccountVerified.v1.json").read_text()) == changed(WithOptionalMethod)
    assert (tmp_path / "PasswordReset.v1.json").exists()


def test_the_guard_takes_a_wider_format_and_refuses_a_narrower_one():
    idn = committed("AccountVerified.v1.json")
    plain = json.loads(json.dumps(idn))
    plain["properties"]["email"]["format"] = "email"
    assert idn["properties"]["email"]["format"] == "idn-email"
    assert breaking_changes(plain, idn) == []  # every address `email` takes, `idn-email` takes
    assert breaking_changes(idn, plain) == [
        "field 'email': type changed from string (idn-email) to string (email)"
    ]
