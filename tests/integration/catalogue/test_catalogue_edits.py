"""Two editors' saves of one video's texts: each edit may say which texts it was typed over
(`texts_version`, from the video's detail), and one typed over texts saved since is refused under the
video's lock, changing nothing; an edit that says none saves as before."""

from tests.integration.catalogue.conftest import add_video, editor, unique_word


def test_an_edit_typed_over_texts_saved_since_is_refused_and_changes_nothing(catalogue_client, media_root):
    video = add_video(catalogue_client, media_root, title=unique_word())
    path = f"/v1/videos/{video['id']}"
    opened = catalogue_client.get(path, headers=editor()).json["texts_version"]  # two editors open it

    first = catalogue_client.patch(
        path, json={"title": {"en": "First"}, "texts_version": opened}, headers=editor()
    )
    assert first.status_code == 200 and first.json["texts_version"] != opened
    second = catalogue_client.patch(
        path, json={"title": {"en": "Second"}, "tags": ["late"], "texts_version": opened}, headers=editor()
    )
    assert second.status_code == 409 and second.json["type"].endswith("/texts-changed"), second.json
    now = catalogue_client.get(path, headers=editor()).json
    assert (now["title"]["en"], now["tags"]) == ("First", first.json["tags"])  # nothing of the second
    assert now["texts_version"] == first.json["texts_version"]

    again = catalogue_client.patch(
        path, json={"title": {"en": "Second"}, "texts_version": now["texts_version"]}, headers=editor()
    )
    assert again.status_code == 200 and again.json["title"]["en"] == "Second"
    unversioned = catalogue_client.patch(path, json={"title": {"en": "Third"}}, headers=editor())
    assert unversioned.status_code == 200 and unversioned.json["title"]["en"] == "Third"
    operation = catalogue_client.get("/openapi.json").json["paths"]["/v1/videos/{video_id}"]["patch"]
    assert "texts-changed" in operation["responses"]["409"]["description"]
