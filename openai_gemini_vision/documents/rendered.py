"""What a PDF page and a video frame have in common: labelled image bytes, ready to send."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from ..images.prepared import PreparedImage, data_url

__all__ = ["Rendered"]


class Rendered:
    """A mixin for a page or frame dataclass: its picture, its `PreparedImage`, its parts.

    The dataclass supplies `width`, `height`, `mime_type`, `data` and `label`, and says in
    `_origin` what it came from (format, changes, source label).
    """

    width: int
    height: int
    mime_type: str
    data: bytes

    @property
    def label(self) -> str:
        """The text part sent before the image."""
        raise NotImplementedError

    def _origin(self) -> tuple[str, tuple[str, ...], str]:
        raise NotImplementedError

    def image(self) -> Image.Image:
        """The image as a PIL image (decoded from `data` on each call)."""
        return Image.open(io.BytesIO(self.data))

    def prepared(self) -> PreparedImage:
        """The image as a `PreparedImage`, ready for a request."""
        original_format, changes, source = self._origin()
        return PreparedImage(
            mime_type=self.mime_type,
            width=self.width,
            height=self.height,
            original_width=self.width,
            original_height=self.height,
            original_format=original_format,
            data=self.data,
            changes=changes,
            source=source,
        )

    def parts(self) -> list[dict[str, Any]]:
        """The label's text part, then the image's `image_url` part."""
        return [
            {"type": "text", "text": self.label},
            {"type": "image_url", "image_url": {"url": data_url(self.mime_type, self.data)}},
        ]
