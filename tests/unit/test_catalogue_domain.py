"""The catalogue's rules without I/O: byte ranges, signed links, download file names, storage keys."""

import hashlib
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalogue.adapters.storage import LocalStorage, MissingFile, UnsafeKey
from catalogue.domain import links
from catalogue.domain.playback import preview_rendition
from catalogue.domain.ranges import ByteRange, UnsatisfiableRange, parse_range
from catalogue.domain.videos import Encoding, Localized, Rendition, Video, download_filename
from catalogue.entrypoints.delivery import repr_digest
from catalogue.entrypoints.schemas import VideoEdit, VideoIngest, VideoSubmit

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("BYTES = 5 - 5", ByteRange(5, 5)),
        ("bytes=000000000000000000000005-6", ByteRange(5, 6)),
    ],
)
def test_single_ranges_are_resolved_against_the_size(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=1000-", "bytes=5-4", "bytes=-0", "bytes=0-1,5-6", "bytes=", "bytes=-", "items=0-1", "bytes=a-b",
     "bytes=" + "9" * 30 + "-", "0-1", "bytes=1-2-3", "bytes=\u0661-\u0662"],
)  # fmt: skip
def test_malformed_multiple_or_outside_ranges_are_unsatisfiable(header):
    with pytest.raises(UnsatisfiableRange):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("bytes=0-" + "9" * 20, ByteRange(0, 999), id="last-20-digits"),
        pytest.param("bytes=10-" + "9" * 5000, ByteRange(10, 999), id="last-5000-digits"),
        pytest.param("bytes=-" + "9" * 20, ByteRange(0, 999), id="suffix-20-digits"),
        pytest.param("bytes=-" + "9" * 5000, ByteRange(0, 999), id="suffix-5000-digits"),
    ],
)
def test_a_last_position_or_suffix_too_long_to_read_reaches_the_end(header, expected):
    # RFC 9110 §14.1.1: a last position past the end means "to the end", a suffix longer than the
    # file the whole file; however many digits they have.
    assert parse_range(header, 1000) == expected


def test_an_empty_file_has_no_satisfiable_range():
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=-1", 0)


def test_a_range_knows_its_length_and_content_range():
    assert ByteRange(10, 19).length == 10
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"


def claims(expires: int = 2_000) -> links.LinkClaims:
    return links.LinkClaims(uuid.UUID(int=1), uuid.UUID(int=2), expires)


def test_a_signed_link_is_valid_until_it_expires():
    signature = links.sign(KEY, claims())
    assert links.check(KEY, claims(), signature, now=1_999) is links.LinkCheck.VALID
    assert links.check(KEY, claims(), signature, now=2_000) is links.LinkCheck.EXPIRED


def test_any_change_to_a_link_breaks_its_signature():
    signature = links.sign(KEY, claims())
    other_rendition = links.LinkClaims(uuid.UUID(int=1), uuid.UUID(int=3), 2_000)
    assert links.check(KEY, claims(expires=9_999), signature, now=0) is links.LinkCheck.TAMPERED
    assert links.check(KEY, other_rendition, signature, now=0) is links.LinkCheck.TAMPERED
    assert links.check(b"x" * 32, claims(), signature, now=0) is links.LinkCheck.TAMPERED
    assert links.check(KEY, claims(), signature[:-2] + "AA", now=0) is links.LinkCheck.TAMPERED
    # An altered link that is also past its time says "invalid", not "expired".
    assert links.check(KEY, claims(expires=1), signature, now=5) is links.LinkCheck.TAMPERED


def rendition(label: str, container: str) -> Rendition:
    return Encoding(label, container, "h264", 1920, 1080, 1).rendition(uuid.uuid4(), 1, "0" * 64, "a.bin")


def test_download_names_are_safe_ascii_with_the_right_extension():
    title = 'Secretary General welcomes the Belgian Minister — "Défense" / ../../etc'
    name = download_filename(title, rendition("1080p MP4", "mp4"))
    assert name == "secretary-general-welcomes-the-belgian-minister-defense-etc-1080p-mp4.mp4"
    assert download_filename("Ütö", rendition("Broadcast MXF", "mxf")) == "uto-broadcast-mxf.mxf"
    assert download_filename("???", rendition("", "weird")) == "video.bin"


@pytest.mark.parametrize(
    "key",
    ["../secret", "a/../../secret", "/etc/passwd", "a//b", "./a", "a\\b", "a\x00b", "", "a/", "a" * 256,
     f"videos/{'é' * 128}.mp4"],
)  # fmt: skip
def test_storage_keys_cannot_leave_the_root(tmp_path, key):
    with pytest.raises(UnsafeKey):
        LocalStorage(tmp_path / "root").path(key)


def test_a_link_pointing_outside_the_root_is_refused(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    storage = LocalStorage(root)
    with pytest.raises(UnsafeKey):
        storage.open("escape.txt")


def test_keys_no_file_system_can_hold_are_refused_or_missing_never_an_os_error(tmp_path: Path):
    storage = LocalStorage(tmp_path / "root")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root" / "loop")
    (tmp_path / "root" / "file").write_bytes(b"x")
    with pytest.raises(UnsafeKey):
        storage.size("a" * 300)
    with pytest.raises(UnsafeKey):
        storage.size("loop")
    for missing in ("file/below", "a" * 255):
        with pytest.raises(MissingFile):
            storage.size(missing)
        with pytest.raises(MissingFile):
            storage.open(missing)
        with pytest.raises(MissingFile), storage.local_path(missing):
            pass


def test_a_key_of_the_longest_name_a_file_system_takes_is_stored(tmp_path: Path):
    storage = LocalStorage(tmp_path)
    storage.write("videos/" + "a" * 255, b"abc")
    assert storage.size("videos/" + "a" * 255) == 3


def test_two_writers_of_one_key_at_once_leave_one_whole_file(tmp_path: Path):
    """The later to finish wins, whole: neither writes into the other's file (two transcoders of one
    job, just after a lease changed hands)."""
    storage = LocalStorage(tmp_path)
    first, second = b"A" * 3_000_000, b"B" * 1_000_000

    class Interleaved(io.BytesIO):
        """The first writer's source: the second writer stores the key after its first chunk."""

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            if self.tell() == len(chunk):
                storage.write("videos/a.mp4", second)
            return chunk

    storage.put("videos/a.mp4", Interleaved(first))
    with storage.open("videos/a.mp4") as stored:
        assert stored.read() == first
    assert [path.name for path in (tmp_path / "videos").iterdir()] == ["a.mp4"]


def test_local_storage_stores_sizes_and_checksums(tmp_path: Path):
    storage = LocalStorage(tmp_path)
    storage.write("videos/a.mp4", b"abc")
    assert storage.size("videos/a.mp4") == 3
    assert (
        storage.checksum("videos/a.mp4") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    with storage.open("videos/a.mp4") as file:
        assert file.read() == b"abc"
    with pytest.raises(MissingFile):
        storage.size("videos/missing.mp4")
    with pytest.raises(MissingFile):
        storage.open("videos")


def test_local_storage_puts_a_stream_whole_or_not_at_all(tmp_path: Path):
    storage = LocalStorage(tmp_path)
    data = bytes(range(256)) * 20_000  # several copy chunks
    storage.put("renditions/360p.mp4", io.BytesIO(data))
    assert storage.path("renditions/360p.mp4").read_bytes() == data
    assert [path.name for path in (tmp_path / "renditions").iterdir()] == ["360p.mp4"]

    class Broken(io.RawIOBase):
        def readinto(self, buffer):  # type: ignore[no-untyped-def]
            raise OSError("upload interrupted")

    with pytest.raises(OSError):
        storage.put("renditions/720p.mp4", Broken())  # type: ignore[arg-type]
    with pytest.raises(MissingFile):
        storage.size("renditions/720p.mp4")
    assert [path.name for path in (tmp_path / "renditions").iterdir()] == ["360p.mp4"]  # no half copy
    storage.delete("renditions/360p.mp4")
    storage.delete("renditions/360p.mp4")  # gone already: nothing to do
    assert list((tmp_path / "renditions").iterdir()) == []


def sized(label: str, container: str, height: int, size: int) -> Rendition:
    encoding = Encoding(label, container, "h264", height * 16 // 9, height, 1)
    return encoding.rendition(uuid.uuid4(), size, "0" * 64, "k")


def test_the_page_plays_the_preview_else_the_smallest_file_a_browser_plays():
    master = sized("Broadcast MXF", "mxf", 1080, 10**9)
    hd, sd = sized("1080p MP4", "mp4", 1080, 10**8), sized("360p MP4", "mp4", 360, 10**7)
    preview = sized("Preview", "mp4", 720, 10**6)
    assert preview_rendition(video_with(master, hd, sd)) == sd
    assert preview_rendition(video_with(master, hd, sd, preview)) == preview
    assert preview_rendition(video_with(master)) is None


def video_with(*renditions: Rendition) -> Video:
    return Video(uuid.uuid4(), "t", "", datetime.now(UTC), 1, [], "", [], None, list(renditions))


def test_repr_digest_is_rfc_9530_of_the_stored_hex_checksum():
    checksum = hashlib.sha256(b"abc").hexdigest()
    assert repr_digest(checksum) == "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:"


def test_an_edit_changes_only_the_languages_sent():
    assert VideoEdit().load({"title": {"fr": "Bonjour"}}) == {"title_fr": "Bonjour"}
    assert VideoEdit().load({"description": {"en": "x"}, "location": "Mons"}) == {
        "description_en": "x",
        "location": "Mons",
    }
    assert VideoEdit().load({"title": {"en": "", "fr": "Salut"}}) == {"title_en": "", "title_fr": "Salut"}


def test_a_text_of_blanks_alone_is_no_text_so_the_other_language_shows():
    # A title or description of spaces in one language would be "there" (the pages show a text in the
    # visitor's language, else the other one): a blank title, the French one hidden.
    assert VideoEdit().load({"title": {"en": "  ", "fr": "Salut"}, "description": {"fr": " \n "}}) == {
        "title_en": "",
        "title_fr": "Salut",
        "description_fr": "",
    }
    upload = f"https://catalogue.example/v1/uploads/{uuid.UUID(int=3)}"
    submitted = VideoSubmit().load({"upload_url": upload, "title": {"en": " ", "fr": " Salut"},
                                    "description": {"en": "\t", "fr": "Texte"}})  # fmt: skip
    assert (submitted.title.best("en"), submitted.description.best("en")) == (" Salut", "Texte")
    rendition = {"label": "HD", "container": "mp4", "codec": "h264", "width": 2, "height": 2, "bitrate": 1,
                 "path": "a.mp4"}  # fmt: skip
    dated = {"published_at": "2021-02-11T14:00:00Z", "duration": 1, "renditions": [rendition]}
    imported = VideoIngest().load({"title": {"en": "Hello", "fr": "   "}, **dated})
    assert imported.title.best("fr") == "Hello"


def test_an_edit_changes_the_texts_of_the_languages_it_names_and_the_same_words_are_no_change():
    video = Video(
        uuid.uuid4(), Localized("Summit", "Sommet"), Localized("Words", ""), None, 1, [], "", [], None
    )
    title, description = video.edited_texts({"title_fr": "Le sommet", "tags": ["x"]})
    assert (title, description) == (Localized("Summit", "Le sommet"), Localized("Words", ""))
    assert video.texts_differ(title, description)
    assert video.texts_differ(*video.edited_texts({"description_fr": "Mots"}))
    for unchanged in ({}, {"title_en": "Summit", "description_fr": ""}, {"people": ["Someone"]}):
        assert not video.texts_differ(*video.edited_texts(unchanged))
    assert video.texts_differ(*video.edited_texts({"title_en": "Summit "}))  # words saved as sent
