"""Two editors (or two tabs, or the "New videos" worker) on one issue: what goes is what was confirmed."""

from tests.integration.test_newsletter_issues import ISSUE, create


def test_a_send_confirmed_on_a_copy_read_before_an_edit_is_refused_and_nothing_goes(
    newsletter_client, newsletter_editor
):
    """The console asks to confirm the issue as it shows it; another editor saves a half-written text
    before the click: sending it would mail every subscriber a text nobody confirmed."""
    read = create(newsletter_client, newsletter_editor)
    half_written = {**ISSUE, "body": {**ISSUE["body"], "en": "Half-written, do not"}}
    saved = newsletter_client.put(f"/v1/issues/{read['id']}", json=half_written, headers=newsletter_editor)
    assert saved.status_code == 200 and saved.json["updated_at"] > read["updated_at"]

    refused = newsletter_client.post(
        f"/v1/issues/{read['id']}/send", json={"updated_at": read["updated_at"]}, headers=newsletter_editor
    )
    assert refused.status_code == 409 and refused.json["type"].endswith("/issue-changed"), refused.json
    current = newsletter_client.get(f"/v1/issues/{read['id']}", headers=newsletter_editor).json
    assert current["status"] == "draft"

    sent = newsletter_client.post(
        f"/v1/issues/{read['id']}/send", json={"updated_at": current["updated_at"]}, headers=newsletter_editor
    )
    assert sent.status_code == 202 and sent.json["status"] == "sending", sent.json
