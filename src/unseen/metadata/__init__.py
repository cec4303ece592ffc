"""What a file carries besides its pixels."""

from unseen.metadata.read import read_metadata

__all__ = ["read_metadata"]
