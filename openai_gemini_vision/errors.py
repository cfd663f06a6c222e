"""Every exception this library raises, under one base.

```
GeminiVisionError
 ├─ ImageError (also ValueError)          an image could not be turned into a data URL
 │   ├─ UnsupportedImageError             a format Gemini does not take, and not converted
 │   ├─ CorruptImageError                 empty, truncated or undecodable bytes
 │   └─ ImageTooLargeError                pixel dimensions over the policy's limit
 ├─ RequestTooLargeError (also ValueError) the request cannot fit max_request_bytes
 ├─ TooManyImagesError (also ValueError)   more images than max_images
 ├─ DetectionParseError (also ValueError)  a reply holds no bounding boxes to read
 ├─ FetchError                            an image URL could not be fetched
 │   └─ BlockedURLError                   the URL or path was refused by the policy
 └─ MissingAPIKeyError                    no Gemini API key was found
```

Errors that the Gemini API itself returns stay `openai` exceptions, which callers
already catch; the clients only make their messages readable.

Every message names the fix: the argument, policy field or environment variable
to change, and the values that are valid.
"""

from __future__ import annotations

__all__ = [
    "BlockedURLError",
    "CorruptImageError",
    "DetectionParseError",
    "FetchError",
    "GeminiVisionError",
    "ImageError",
    "ImageTooLargeError",
    "MissingAPIKeyError",
    "RequestTooLargeError",
    "TooManyImagesError",
    "UnsupportedImageError",
]


class GeminiVisionError(Exception):
    """Base class of every error raised by openai_gemini_vision."""


class ImageError(GeminiVisionError, ValueError):
    """An image could not be turned into something Gemini accepts."""


class UnsupportedImageError(ImageError):
    """The image's format is not one Gemini takes, and it was not converted."""


class CorruptImageError(ImageError):
    """The bytes are empty, truncated, or not an image at all."""


class ImageTooLargeError(ImageError):
    """The image's pixel dimensions exceed what the policy allows."""


class RequestTooLargeError(GeminiVisionError, ValueError):
    """The serialized request cannot be made to fit `max_request_bytes`."""


class TooManyImagesError(GeminiVisionError, ValueError):
    """The request holds more images than `max_images` allows."""


class DetectionParseError(GeminiVisionError, ValueError):
    """A model's reply holds no JSON list of `box_2d` detections to read."""


class FetchError(GeminiVisionError):
    """An image URL could not be fetched (network error, HTTP status, size or time limit)."""


class BlockedURLError(FetchError):
    """The URL or local path was refused by the image policy before any connection."""


class MissingAPIKeyError(GeminiVisionError):
    """No Gemini API key was given or found in the environment."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No Gemini API key found. Pass api_key=... or set the GEMINI_API_KEY "
            "(or GOOGLE_API_KEY) environment variable; get a key at "
            "https://aistudio.google.com/apikey."
        )
