"""Which file of a video a browser plays in the page (no I/O)."""

from catalogue.domain.videos import Rendition, Video

# Containers every current browser's <video> plays.
PLAYABLE_CONTAINERS = ("mp4", "webm")


def preview_rendition(video: Video) -> Rendition | None:
    """The video's preview when it has one, else its smallest playable rendition; None when a browser
    could play none of them (an MXF-only video)."""
    playable = [rendition for rendition in video.renditions if rendition.container in PLAYABLE_CONTAINERS]
    previews = [rendition for rendition in playable if "preview" in rendition.label.lower()]
    candidates = previews or playable
    if not candidates:
        return None
    return min(candidates, key=lambda rendition: (rendition.height, rendition.size_bytes))
