"""`ImagePolicy`: every choice about how images are prepared, in one immutable value."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_POLICY", "Detail", "Fit", "ImagePolicy"]

Detail = Literal["auto", "low", "high"]
Fit = Literal["shrink", "error"]

#: Gemini counts an image whose sides are both <= 384 px as one 258-token tile
#: (https://ai.google.dev/gemini-api/docs/tokens#media-token): "low" aims there.
LOW_DETAIL_MAX_SIDE = 384


class ImagePolicy(BaseModel):
    """How images are checked, converted, fitted and fetched; immutable, every field defaulted.

    Derive a variant with `policy.model_copy(update={...})`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detail: Detail = "auto"
    """"low": downscale so both sides <= 384 px; "high"/"auto": keep size unless the
    budget needs otherwise. A part's own `image_url.detail` wins over the policy."""

    max_request_bytes: int = Field(default=20_000_000, gt=0)
    """Budget for the whole serialized request (Gemini rejects inline data over 20 MB)."""

    max_images: int = Field(default=3600, gt=0)
    """Images per request (Gemini's documented maximum is 3,600)."""

    fit: Fit = "shrink"
    """Over budget: "shrink" re-encodes / downscales the largest images until the request
    fits; "error" raises RequestTooLargeError."""

    convert_unsupported: bool = True
    """GIF, BMP, TIFF, ... become PNG or JPEG; False raises UnsupportedImageError."""

    fix_orientation: bool = True
    """Apply the EXIF Orientation tag so the model sees the image upright."""

    max_pixels: int = Field(default=180_000_000, gt=0)
    """Largest width x height that will be decoded; bigger raises ImageTooLargeError
    (decompression-bomb guard; Pillow's own default warns at 89 MP)."""

    fetch_timeout: float = Field(default=30.0, gt=0)
    """Seconds allowed for fetching one image URL."""

    max_fetch_bytes: int = Field(default=20_000_000, gt=0)
    """Bytes read from one image URL at most."""

    fetch_concurrency: int = Field(default=8, gt=0)
    """Image URLs of one request fetched at the same time at most."""

    allow_private_urls: bool = False
    """Allow loopback / private / link-local addresses (off: no request may reach them)."""

    allowed_hosts: frozenset[str] | None = None
    """If set, only these host names may be fetched."""

    allow_local_files: bool = False
    """Read string paths and file:// URLs found in `image_url.url` from disk. Off because
    message JSON may come from strangers."""

    pdf_pages: str | None = None
    """Pages of a PDF to send, 1-based, e.g. "1-3,7" (the CLI's --pages); None: every page."""

    pdf_dpi: float | None = Field(default=None, ge=36, le=600)
    """Render PDF pages at this many dots per inch; None: chosen per model family, the
    fewest tokens that keep body text legible (see `documents.sizing`)."""

    send_pdf_as_file: bool = False
    """Pass OpenAI `{"type": "file"}` parts holding a PDF through untouched, for endpoints
    that take PDFs; off: each page is sent as an image after a "Page 3 of 12" label."""

    video_fps: float = Field(default=1.0, gt=0, le=30)
    """Frames sampled per second of video (the CLI's --fps); Gemini itself samples 1 a second."""

    video_max_frames: int = Field(default=120, gt=0, le=3600)
    """Frames taken from one video at most (the CLI's --max-frames); a longer video is
    sampled evenly over its whole length at a lower rate, and says so."""


DEFAULT_POLICY = ImagePolicy()
