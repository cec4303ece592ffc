"""One handler per kind of media, behind one protocol (:class:`Handler`):
the file's sniffed kind picks it, and nothing else in unseen asks what kind
a file is."""

from unseen.handlers.audio import AudioHandler
from unseen.handlers.base import FrameProgress, Handler, Run, Work, not_for, sniff_file
from unseen.handlers.image import ImageHandler
from unseen.handlers.video import VideoHandler
from unseen.media.sniff import Kind

HANDLERS: dict[Kind, Handler] = {
    "image": ImageHandler(),
    "video": VideoHandler(),
    "audio": AudioHandler(),
}


def handler_for(kind: Kind, fmt: str) -> Handler:
    """The handler of files of ``kind`` (raises for files unseen does not know)."""
    if kind not in HANDLERS:
        raise not_for(kind, fmt)
    return HANDLERS[kind]


__all__ = ["HANDLERS", "FrameProgress", "Handler", "Run", "Work", "handler_for", "sniff_file"]
