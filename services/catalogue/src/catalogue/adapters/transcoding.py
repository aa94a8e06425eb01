"""ffprobe and ffmpeg for the transcoder: what a master is, and its renditions, poster, thumbnail and
preview, made by one ffmpeg run (one decode, several encodes) whose `-progress` output is followed."""

import ctypes
import ctypes.util
import json
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from catalogue.adapters.disk import DiskFull, says_full
from catalogue.adapters.media import ffmpeg

PR_SET_PDEATHSIG = 1
PROBE_TIMEOUT_S = 120
STILL_TIMEOUT_S = 120
PREVIEW_S = 10
AUDIO_BITRATE = 128_000
# Height, video bitrate (bits/s): the usual ladder for H.264 at 25-30 frames per second.
LADDER = ((1080, 5_000_000), (720, 2_800_000), (360, 800_000))
# Containers of still images: ffprobe finds a "video" stream in them, but they are not videos.
IMAGE_FORMATS = {
    "tty",
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "bmp_pipe",
    "gif",
    "webp_pipe",
    "tiff_pipe",
    "svg_pipe",
}


class NotAVideo(Exception):
    """The master is not a video ffmpeg can read; the message says why, for the editor."""


class TranscodeFailed(Exception):
    """ffmpeg stopped with an error (its last words are the message)."""


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of a master."""

    container: str
    codec: str
    width: int
    height: int
    duration_s: float
    bitrate: int
    has_audio: bool


@dataclass(frozen=True)
class Output:
    """One rendition to make: an H.264/AAC MP4 `height` pixels high."""

    label: str
    height: int
    bitrate: int
    path: Path


def probe(path: Path) -> Probe:
    """Read the master's format and streams; NotAVideo with the reason when it is not a video."""
    command = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise NotAVideo("ffprobe could not read the file in time.") from None
    if done.returncode != 0:
        words = done.stderr.decode(errors="replace").strip().splitlines()
        raise NotAVideo(f"Not a video ffmpeg can read: {words[-1] if words else 'unknown format'}.")
    return _described(json.loads(done.stdout or b"{}"))


def _described(found: dict) -> Probe:  # type: ignore[type-arg]
    form = found.get("format") or {}
    streams = found.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video" and s.get("width")), None)
    if form.get("format_name") in IMAGE_FORMATS:
        raise NotAVideo("This is a still image, not a video.")
    if video is None:
        raise NotAVideo("The file has no video stream.")
    duration = _number(form.get("duration")) or _number(video.get("duration"))
    if not duration or duration <= 0:
        raise NotAVideo("The video has no duration.")
    return Probe(
        container=_container(form),
        codec=str(video.get("codec_name", "unknown")),
        width=int(video["width"]),
        height=int(video["height"]),
        duration_s=duration,
        bitrate=int(_number(form.get("bit_rate")) or 0),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
    )


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _container(form: dict) -> str:  # type: ignore[type-arg]
    """A short container name: mxf, mp4, mov, mkv, webm, ts… (ffprobe lists a family, e.g. mov,mp4,…)."""
    names = str(form.get("format_name", "")).split(",")
    if "mov" in names:
        brand = str((form.get("tags") or {}).get("major_brand", "")).strip()
        return "mov" if brand == "qt" else "mp4"
    if "matroska" in names:
        return "webm" if "webm" in names else "mkv"
    return {"mpegts": "mpegts"}.get(names[0], names[0][:16] or "bin")


def renditions_for(source: Probe, folder: Path) -> list[Output]:
    """The ladder's rungs no taller than the master (never upscaled); a master smaller than the
    smallest rung gets one rendition at its own height."""
    rungs = [(height, rate) for height, rate in LADDER if height <= source.height]
    if not rungs:
        rungs = [(source.height - source.height % 2, LADDER[-1][1])]
    return [Output(f"{height}p MP4", height, rate, folder / f"{height}p.mp4") for height, rate in rungs]


def encode(
    master: Path, source: Probe, outputs: list[Output], preview: Path, on_progress: Callable[[float], bool]
) -> None:
    """Make every output and the preview in one ffmpeg run. `on_progress(fraction)` is called as ffmpeg
    reports; when it answers False, ffmpeg is stopped and TranscodeFailed raised."""
    command = [
        ffmpeg(),
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-progress",
        "pipe:1",
        "-nostats",
        "-i",
        str(master),
    ]
    for output in outputs:
        command += _mp4_options(source, output.height, output.bitrate) + [str(output.path)]
    preview_height = min(360, outputs[-1].height)
    command += ["-t", str(PREVIEW_S), *_mp4_options(source, preview_height, LADDER[-1][1]), str(preview)]
    _run_following(command, source.duration_s, on_progress)


def _mp4_options(source: Probe, height: int, bitrate: int) -> list[str]:
    audio = (
        ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2"] if source.has_audio else []
    )
    return [
        "-map", "0:v:0", *audio,
        "-vf", f"scale=-2:{height}", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-b:v", str(bitrate), "-maxrate", str(bitrate * 3 // 2),
        "-bufsize", str(bitrate * 2), "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip


def _die_with_parent() -> None:
    """In ffmpeg's process before it starts: a transcoder killed outright takes its ffmpeg with it
    (Linux's parent-death signal), instead of leaving it encoding for nobody."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_following(command: list[str], duration_s: float, on_progress: Callable[[float], bool]) -> None:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True)
    reader.start()
    stopped = True  # until its output ends: `on_progress` answering False, or raising, stops ffmpeg
    try:
        assert process.stdout is not None
        stopped = not _followed(process.stdout, duration_s, on_progress)
    finally:
        if stopped:
            process.kill()
        process.wait()
        reader.join(timeout=5)
    if stopped:
        raise TranscodeFailed("stopped")
    if process.returncode != 0:
        words = b"".join(errors).decode(errors="replace").strip().splitlines()
        if says_full("\n".join(words)):
            raise DiskFull("transcoder", f"ffmpeg: {' '.join(words)[-300:]}")
        raise TranscodeFailed(words[-1] if words else f"ffmpeg exited with {process.returncode}")


def _followed(output: IO[bytes], duration_s: float, on_progress: Callable[[float], bool]) -> bool:
    """Read ffmpeg's `-progress` lines to their end, telling `on_progress`; False once it answers False."""
    for line in output:
        key, _, value = line.decode(errors="replace").strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            if not on_progress(min(1.0, int(value) / 1e6 / duration_s)):
                return False
    return True


def still(master: Path, at_s: float, width: int, target: Path) -> None:
    """One JPEG frame of the master at `at_s` seconds, `width` pixels wide (never wider than it is)."""
    scale = f"scale='min({width},iw)':-2"
    command = [ffmpeg(), "-nostdin", "-y", "-v", "error", "-ss", f"{at_s:.3f}", "-i", str(master),
               "-frames:v", "1", "-vf", scale, "-q:v", "3", "-f", "mjpeg", str(target)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=STILL_TIMEOUT_S, check=False)
    if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        words = done.stderr.decode(errors="replace")
        if says_full(words):
            raise DiskFull("transcoder", f"ffmpeg: {words[-300:]}")
        raise TranscodeFailed(f"no still image at {at_s:.1f} s: {words[-200:]}")
