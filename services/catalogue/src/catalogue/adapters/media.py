"""Small real media files for the sample catalogue, rendered with ffmpeg (Debian's `ffmpeg` package)."""

import shutil
import subprocess
from pathlib import Path

from catalogue.domain.videos import Encoding

FFMPEG_TIMEOUT_S = 300


class FfmpegMissing(Exception):
    """ffmpeg is not installed, so no sample media can be made."""


CODEC_OPTIONS = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mpeg2video": ["-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-c:a", "pcm_s16le", "-ar", "48000"],
}


def ffmpeg() -> str:
    """The ffmpeg executable; FfmpegMissing with what to do when there is none."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise FfmpegMissing(
            "ffmpeg is needed to render the sample videos: `apt-get install ffmpeg` "
            "(deploy/local/install.sh does it when run as root)"
        )
    return found


def render_video(path: Path, encoding: Encoding, duration_s: float, pattern: str) -> None:
    """Render `duration_s` seconds of an ffmpeg test pattern (testsrc2, smptehdbars…) with a tone."""
    size = f"{encoding.width}x{encoding.height}"
    _run(
        [
            "-f", "lavfi", "-i", f"{pattern}=size={size}:rate=25:duration={duration_s}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={duration_s}",
            *CODEC_OPTIONS[encoding.codec],
            "-b:v", str(encoding.bitrate), "-shortest", "-f", encoding.container,
        ],
        path,
    )  # fmt: skip


def render_thumbnail(path: Path, pattern: str) -> None:
    """One 640×360 JPEG frame of the test pattern."""
    _run(["-f", "lavfi", "-i", f"{pattern}=size=640x360:rate=1", "-frames:v", "1", "-f", "mjpeg"], path)


def _run(arguments: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    subprocess.run(
        [ffmpeg(), "-nostdin", "-y", "-loglevel", "error", *arguments, str(partial)],
        check=True,
        timeout=FFMPEG_TIMEOUT_S,
    )
    partial.replace(path)
