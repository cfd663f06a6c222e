"""Send images from OpenAI code to Google Gemini: change three lines, nothing breaks.

```python
from openai_gemini_vision import OpenAI   # was: from openai import OpenAI
client = OpenAI()                          # key from GEMINI_API_KEY
client.chat.completions.create(model="gemini-2.5-flash", messages=...)
```
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .client import GEMINI_BASE_URL, AsyncOpenAI, OpenAI, wrap
from .detection import (
    Detection,
    Segmentation,
    adetect,
    asegment,
    detect,
    draw_detections,
    draw_segmentations,
    parse_detections,
    parse_segmentations,
    segment,
)
from .errors import (
    BatchError,
    BatchStateError,
    BlockedURLError,
    CorruptDocumentError,
    CorruptImageError,
    DetectionParseError,
    DetectionWarning,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FetchError,
    FilesAPIError,
    GeminiVisionError,
    GeminiVisionWarning,
    ImageError,
    ImageTooLargeError,
    InvalidArgumentError,
    MessageFormatError,
    MissingAPIKeyError,
    MissingDependencyError,
    ModelFamilyAssumedWarning,
    RequestTooLargeError,
    TooManyImagesError,
    UnknownRuleError,
    UnsupportedDocumentError,
    UnsupportedImageError,
)
from .images import SUPPORTED_MIME_TYPES, PreparedImage, image_part, load_image
from .policy import ImagePolicy
from .request import (
    PreparedRequest,
    TokenEstimate,
    aprepare_messages,
    estimate_image_tokens,
    estimate_tokens,
    prepare_messages,
)

try:
    __version__ = version("openai-gemini-vision")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "GEMINI_BASE_URL",
    "SUPPORTED_MIME_TYPES",
    "AsyncOpenAI",
    "BatchError",
    "BatchStateError",
    "BlockedURLError",
    "CorruptDocumentError",
    "CorruptImageError",
    "Detection",
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
    "ImagePolicy",
    "ImageTooLargeError",
    "InvalidArgumentError",
    "MessageFormatError",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "ModelFamilyAssumedWarning",
    "OpenAI",
    "PreparedImage",
    "PreparedRequest",
    "RequestTooLargeError",
    "Segmentation",
    "TokenEstimate",
    "TooManyImagesError",
    "UnknownRuleError",
    "UnsupportedDocumentError",
    "UnsupportedImageError",
    "__version__",
    "adetect",
    "aprepare_messages",
    "asegment",
    "detect",
    "draw_detections",
    "draw_segmentations",
    "estimate_image_tokens",
    "estimate_tokens",
    "image_part",
    "load_image",
    "parse_detections",
    "parse_segmentations",
    "prepare_messages",
    "segment",
    "wrap",
]
