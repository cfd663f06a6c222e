"""Every exception and warning this library raises, under one base each.

```
GeminiVisionError
 ├─ ImageError (also ValueError)          an image could not be turned into a data URL
 │   ├─ UnsupportedImageError             a format Gemini does not take, and not converted
 │   ├─ CorruptImageError                 empty, truncated or undecodable bytes
 │   └─ ImageTooLargeError                pixel dimensions over the policy's limit
 ├─ RequestTooLargeError (also ValueError) the request cannot fit max_request_bytes
 ├─ TooManyImagesError (also ValueError)   more images than max_images
 ├─ MessageFormatError (also TypeError)    the messages are not OpenAI chat messages
 ├─ InvalidArgumentError (also ValueError) an argument or option has a value that cannot work
 ├─ UnknownRuleError (also KeyError)       no token rule is registered under that pattern
 ├─ DetectionParseError (also ValueError)  a reply holds no bounding boxes to read
 ├─ DocumentError (also ValueError)        a PDF or a video could not be turned into images
 │   ├─ EncryptedDocumentError            the PDF needs a password (or the one given is wrong)
 │   ├─ CorruptDocumentError              damaged, truncated, or not a PDF / video at all
 │   ├─ EmptyDocumentError                a PDF without pages, a video without frames
 │   └─ UnsupportedDocumentError          a codec, file part or file type that cannot be read
 ├─ MissingDependencyError (also ImportError)  an optional extra is not installed
 ├─ FetchError                            an image URL could not be fetched
 │   └─ BlockedURLError                   the URL or path was refused by the policy
 ├─ BatchError                            a batch run (`ogv caption --batch`) cannot go on
 │   ├─ BatchStateError (also ValueError) the run's state file does not fit the command
 │   └─ FilesAPIError                     Gemini's Files API refused an upload or download
 └─ MissingAPIKeyError (also openai.OpenAIError)  no usable Gemini API key

GeminiVisionWarning (a UserWarning)
 ├─ ModelFamilyAssumedWarning             a model name was not recognised; a rule was assumed
 └─ DetectionWarning                      part of a detection reply was skipped, or a retry made
```

Errors that the Gemini API itself returns stay `openai` exceptions, which callers
already catch; the clients only make their messages readable.

Every message names the fix: the argument, policy field or environment variable to
change, and the values that are valid. Besides the message, an error keeps what a
caller needs to act on it: `source` (the image's label: a file name, a URL without its
query), `where` (its place in the messages), and `limit` / `actual` (the limit that was
hit and the value that broke it), so a command line can name the file and a gateway can
name the part.
"""

from __future__ import annotations

from typing import Any, Self

import openai

__all__ = [
    "BatchError",
    "BatchStateError",
    "BlockedURLError",
    "CorruptDocumentError",
    "CorruptImageError",
    "DetectionParseError",
    "DetectionWarning",
    "DocumentError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "FetchError",
    "FilesAPIError",
    "GeminiVisionError",
    "GeminiVisionWarning",
    "ImageError",
    "ImageTooLargeError",
    "InvalidArgumentError",
    "MessageFormatError",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "ModelFamilyAssumedWarning",
    "RequestTooLargeError",
    "TooManyImagesError",
    "UnknownRuleError",
    "UnsupportedDocumentError",
    "UnsupportedImageError",
]


class GeminiVisionError(Exception):
    """Base class of every error raised by openai_gemini_vision."""

    def __init__(
        self,
        message: str = "",
        *,
        source: str | None = None,
        where: str | None = None,
        limit: float | None = None,
        actual: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong and the fix, without the image's place in the messages."""
        self.source = source
        """The image's label: a file name, a URL without its query, "data URL", "bytes"."""
        self.where = where
        """The image's place in a request, e.g. "messages[0].content[2]"."""
        self.limit = limit
        """The limit that was hit (bytes, pixels, images), when one was."""
        self.actual = actual
        """The value that went over `limit`."""

    def __str__(self) -> str:
        if self.where and self.source:
            return f"{self.where} ({self.source}): {self.message}"
        place = self.where or self.source
        return f"{place}: {self.message}" if place else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword fields survive pickling (worker processes, multiprocessing pools).
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "where": self.where,
            "limit": self.limit,
            "actual": self.actual,
        }

    def located(self, where: str) -> Self:
        """A copy of this error placed at `where` in the messages (the cause is kept)."""
        return self._copy(where=where)

    def from_source(self, source: str | None) -> Self:
        """This error naming the image's `source`, unless it names one already."""
        if self.source is not None or source is None:
            return self
        return self._copy(source=source)

    def _copy(self, **fields: Any) -> Self:
        copy: Self = _rebuild(type(self), self.message, {**self._fields(), **fields})
        copy.__cause__ = self.__cause__
        copy.__suppress_context__ = self.__suppress_context__
        return copy.with_traceback(self.__traceback__)


def _rebuild(cls: type[GeminiVisionError], message: str, fields: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    GeminiVisionError.__init__(error, message, **fields)
    return error


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


class MessageFormatError(GeminiVisionError, TypeError):
    """The messages are not a list of OpenAI chat message dicts."""


class InvalidArgumentError(GeminiVisionError, ValueError):
    """An argument or option has a value the library cannot work with."""


class UnknownRuleError(GeminiVisionError, KeyError):
    """No token rule is registered under the pattern given."""


class DetectionParseError(GeminiVisionError, ValueError):
    """A model's reply holds no JSON list of `box_2d` detections to read."""


class DocumentError(GeminiVisionError, ValueError):
    """A PDF or a video could not be turned into page images or frames."""


class EncryptedDocumentError(DocumentError):
    """The PDF is encrypted and needs a password, or the password given is wrong."""


class CorruptDocumentError(DocumentError):
    """The bytes are damaged, truncated, or not a PDF or video at all."""


class EmptyDocumentError(DocumentError):
    """A PDF with no pages, or a video with no picture to sample."""


class UnsupportedDocumentError(DocumentError):
    """A file part, file type or video codec this library cannot read."""


class MissingDependencyError(GeminiVisionError, ImportError):
    """An optional extra (e.g. `documents`: pypdfium2 and PyAV) is not installed."""


class FetchError(GeminiVisionError):
    """An image URL could not be fetched (network error, HTTP status, size or time limit)."""


class BlockedURLError(FetchError):
    """The URL or local path was refused by the image policy before any connection."""


class BatchError(GeminiVisionError):
    """A batch run cannot go on: its state, a Files API call, or a job stands in the way."""


class BatchStateError(BatchError, ValueError):
    """The batch state beside a results file does not fit the command (another prompt, no run)."""


class FilesAPIError(BatchError):
    """Gemini's Files API refused or failed an upload, a download or a listing.

    Its message names the HTTP status and never holds the upload address (which carries
    a credential) or the key.
    """


class MissingAPIKeyError(GeminiVisionError, openai.OpenAIError):
    """No usable Gemini API key was given or found in the environment.

    Also an `openai.OpenAIError`, so `except openai.OpenAIError` around building a
    client catches it, as it catches openai's own missing-key error.
    """

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        super().__init__(
            message
            or "No Gemini API key found. Pass api_key=... or set the GEMINI_API_KEY "
            "(or GOOGLE_API_KEY) environment variable; get a key at "
            "https://aistudio.google.com/apikey.",
            **fields,
        )


class GeminiVisionWarning(UserWarning):
    """Base class of every warning issued by openai_gemini_vision."""


class ModelFamilyAssumedWarning(GeminiVisionWarning):
    """A model name was not recognised; the newest known family's rule was used."""


class DetectionWarning(GeminiVisionWarning):
    """An entry of a detection reply was skipped, or the request was retried without a schema."""
