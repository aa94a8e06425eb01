"""Transcoding time per minute of 1080p input, and the memory it takes, with `catalogue transcoder`'s
own code (probe, one ffmpeg run for 1080p/720p/360p and the preview, poster, thumbnail, sha256s).

A 1080p25 master (ffmpeg's testsrc2 with a tone, H.264/AAC; TRANSCODE_BENCH_SECONDS long, 30 by
default) is made first, then transcoded with the transcoder's functions in a scratch folder (no
database). Prints the wall time per minute of input, the CPU seconds ffmpeg used, and the peak RSS of
this process (the transcoder's Python side) and of its ffmpeg children. Run with
`make bench BENCH=catalogue_transcode`.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalogue.adapters import transcoding
from catalogue.service_layer.transcoder import sha256_of

SECONDS = float(os.environ.get("TRANSCODE_BENCH_SECONDS", 30))


def make_master(path: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "20M", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="catalogue-transcode-") as folder:
        root = Path(folder)
        master = root / "master.mp4"
        make_master(master)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        source = transcoding.probe(master)
        outputs = transcoding.renditions_for(source, root)
        transcoding.encode(master, source, outputs, root / "preview.mp4", lambda _fraction: True)
        transcoding.still(master, min(source.duration_s / 10, 5.0), 1920, root / "poster.jpg")
        transcoding.still(master, min(source.duration_s / 10, 5.0), 640, root / "thumbnail.jpg")
        for path in [master, *(output.path for output in outputs)]:
            sha256_of(path)
        elapsed = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    print(f"master: 1080p25 H.264/AAC, {SECONDS:.0f} s; machine: {os.cpu_count()} cores (shared)")
    print(f"renditions: {', '.join(output.label for output in outputs)}, a 10 s preview, poster, thumbnail")
    print(f"wall time: {elapsed:.1f} s, {elapsed / SECONDS * 60:.0f} s per minute of 1080p input")
    print(f"ffmpeg CPU: {cpu:.1f} s ({cpu / SECONDS * 60:.0f} CPU-seconds per minute of input)")
    print(f"peak RSS: transcoder {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"largest ffmpeg {children.ru_maxrss / 1024:.0f} MiB")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
