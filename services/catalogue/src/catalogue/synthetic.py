"""Synthetic catalogue entries for benchmarks: `catalogue generate N` adds N videos of made-up text.

Titles and descriptions draw from a vocabulary of a few hundred news words and a couple of thousand
made-up ones, so a one-word search matches a few percent of the catalogue, as in a real archive.
Their single rendition points at `synthetic/placeholder.mp4`, which need not exist (search only).
"""

import random
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

NEWS_WORDS = """alliance allies summit defence ministers secretary general minister security cooperation
exercise training mission forces air sea land cyber space deterrence partnership capability budget
investment readiness command headquarters brussels meeting press conference statement interview
operation maritime patrol policing fighter jets ships submarine soldiers battlegroup baltic black
north atlantic arctic mediterranean eastern flank resilience crisis response innovation technology
climate energy women peace youth students parliament council commission union partners dialogue
counter terrorism afghanistan kosovo iraq ukraine georgia moldova finland sweden norway poland
estonia latvia lithuania romania bulgaria turkey greece italy spain portugal france germany belgium
netherlands luxembourg denmark iceland canada united states kingdom albania croatia montenegro
macedonia slovakia slovenia hungary czech republic veterans medical transport vaccination pandemic
helicopter aircraft radar missile defence shield satellite drone logistics engineers exercise
anniversary ceremony wreath memorial flag parade visit welcome arrival departure handshake talks""".split()
SYLLABLES = "ka ro mi tu se la no vi da re po zu fe gi ha lo ne sa ti mo".split()
TAGS = [f"tag-{n}" for n in range(40)]
PEOPLE = [f"Person {chr(65 + n // 26)}{chr(65 + n % 26)}" for n in range(60)]
PLACES = ["Brussels", "Mons", "Norfolk", "Naples", "Brunssum", "Tallinn", "Riga", "Vilnius", "Warsaw"]
PLACEHOLDER_KEY = "synthetic/placeholder.mp4"
EPOCH = datetime(2012, 1, 1, tzinfo=UTC)
SPAN_DAYS = 14 * 365


def vocabulary(size: int = 2500, seed: int = 7) -> list[str]:
    """The news words, then made-up words of three syllables up to `size` words."""
    rng = random.Random(seed)
    words = list(dict.fromkeys(NEWS_WORDS))
    made_up: set[str] = set()
    while len(words) + len(made_up) < size:
        made_up.add("".join(rng.choice(SYLLABLES) for _ in range(3)))
    return words + sorted(made_up)


def sentence(rng: random.Random, words: list[str], count: int) -> str:
    return " ".join(rng.choice(words) for _ in range(count))


def generate(conn: psycopg.Connection, count: int, seed: int | None = None) -> int:
    """Add `count` synthetic videos (one placeholder rendition each) with COPY; returns `count`.
    `conn` must be in autocommit mode (VACUUM runs after the copy)."""
    rng = random.Random(seed)
    words = vocabulary()
    with conn.transaction(), conn.cursor() as cursor:
        videos: list[tuple[object, ...]] = []
        renditions: list[uuid.UUID] = []
        for _ in range(count):
            video_id = uuid.uuid4()
            renditions.append(video_id)
            videos.append(
                (
                    video_id,
                    sentence(rng, words, rng.randint(4, 9)).capitalize(),
                    sentence(rng, words, rng.randint(40, 90)).capitalize() + ".",
                    EPOCH + timedelta(days=rng.uniform(0, SPAN_DAYS)),
                    rng.uniform(30, 1800),
                    rng.sample(PEOPLE, rng.randint(0, 3)),
                    rng.choice(PLACES),
                    rng.sample(TAGS, rng.randint(1, 4)),
                )
            )
        columns = "id, title_en, description_en, published_at, duration_s, people, location, tags"
        with cursor.copy(f"COPY videos ({columns}) FROM STDIN") as copy:
            for row in videos:
                copy.write_row(row)
        rendition_columns = "id, video_id, position, label, container, codec, width, height, bitrate, "
        with cursor.copy(
            f"COPY renditions ({rendition_columns} size_bytes, checksum, storage_key) FROM STDIN"
        ) as copy:
            for video_id in renditions:
                placeholder = (
                    "1080p MP4",
                    "mp4",
                    "h264",
                    1920,
                    1080,
                    8_000_000,
                    0,
                    "0" * 64,
                    PLACEHOLDER_KEY,
                )
                copy.write_row((uuid.uuid4(), video_id, 0, *placeholder))
    # Moves the bulk of new entries from the GIN pending list into the index, and sets hint bits.
    conn.execute("VACUUM ANALYZE videos")
    return count
