"""`catalogue seed`: the sample videos with real media files rendered by ffmpeg, added once."""

import hashlib

from catalogue import samples
from catalogue.adapters.storage import LocalStorage
from catalogue.entrypoints.app import create_app

MP4_BOX = b"ftyp"  # bytes 4-8 of an MP4 file
MXF_KEY = bytes.fromhex("060e2b34")  # the SMPTE universal label opening an MXF file
JPEG = b"\xff\xd8\xff"


def test_seeding_renders_real_media_once_and_lists_the_article(make_catalogue, tmp_path):
    catalogue = make_catalogue(storage_root=str(tmp_path))
    storage = LocalStorage(tmp_path)
    assert samples.seed(catalogue, storage) == len(samples.SAMPLES)
    assert samples.seed(catalogue, storage) == 0

    client = create_app(catalogue).test_client()
    [found] = client.get("/v1/videos?q=Dedonder Afghanistan").json["items"]
    video = client.get(f"/v1/videos/{found['id']}").json
    assert "Ludivine Dedonder to NATO Headquarters" in video["description"]["en"]
    assert video["title"]["fr"] == "Le Secrétaire général accueille la ministre belge de la Défense"
    [in_french] = client.get("/v1/videos?q=ministre belge Défense").json["items"]
    assert in_french["id"] == found["id"]
    assert {rendition["label"] for rendition in video["renditions"]} == {
        "1080p MP4",
        "360p MP4",
        "Broadcast MXF",
    }
    for rendition, sample_rendition in zip(
        video["renditions"], samples.SAMPLES[0].video.renditions, strict=True
    ):
        data = (tmp_path / sample_rendition.storage_key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rendition["checksum"]
        assert len(data) == rendition["size_bytes"] > 10_000
        if rendition["container"] == "mp4":
            assert data[4:8] == MP4_BOX
        else:
            assert data[:4] == MXF_KEY
    thumbnail = client.get(video["thumbnail"].removeprefix("http://localhost"))
    assert thumbnail.status_code == 200 and thumbnail.data.startswith(JPEG)
