"""What preparing one image will do, decided from its header and structure; then doing it.

`plan_image` reads as little as it can (a `Blob`'s head, and what the completeness
checks need), refuses what sending would refuse, and decides the size, orientation and
type the image will be sent at. An image that can go as it is needs nothing more: its
plan knows its size as sent and its byte count, which is all an estimate needs.
`ImagePlan.prepare()` does the rest (reads every byte; decodes and re-encodes only when
the plan says so). Sending and estimating both go through here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CorruptImageError, GeminiVisionError, UnsupportedImageError
from ..policy import DEFAULT_POLICY, Detail, ImagePolicy
from . import convert
from .blob import Blob
from .prepared import SUPPORTED_MIME_TYPES, PreparedImage
from .probe import ImageInfo, planned_size, probe
from .sniff import check_complete, not_an_image, vector_error
from .source import Source

__all__ = ["ImagePlan", "plan_image", "plan_source", "prepare_source"]


def _label_note(declared: str | None, actual: str) -> list[str]:
    if declared is None or declared.lower() == actual:
        return []
    if len(declared) > 60:  # a stranger's label must not fill logs and reports
        declared = f"{declared[:40]}...({len(declared):,} characters)"
    return [f"declared {declared}, is {actual}: sent as {actual}"]


@dataclass(frozen=True)
class ImagePlan:
    """One image, checked, with what preparing it will do; its pixels not yet touched."""

    blob: Blob
    info: ImageInfo
    """What the header says (read again from every byte when the image needs work)."""
    target: tuple[int, int]
    """Width and height as sent, before any shrinking the request budget may need."""
    detail: Detail | None
    policy: ImagePolicy
    label: str
    """The source's label, kept as the prepared image's `source`."""
    notes: tuple[str, ...] = ()
    """Changes that touch no byte (a corrected type label)."""
    error_label: str | None = None
    """How errors name the image (None for anonymous bytes)."""

    @property
    def passthrough(self) -> bool:
        """Whether the bytes go as they are: a type Gemini takes, upright, the right size."""
        info = self.info
        oriented = self.policy.fix_orientation and info.orientation != 1
        return info.supported and not oriented and self.target == (info.width, info.height)

    @property
    def mime_type(self) -> str:
        """The type as sent when the image passes through (else decided when encoding)."""
        return self.info.mime_type

    def prepare(self) -> PreparedImage:
        """The image as sent: the bytes themselves, or decoded and re-encoded as planned."""
        info = self.info
        data = self.blob.all()
        if self.passthrough:
            return PreparedImage(
                mime_type=info.mime_type,
                width=info.width,
                height=info.height,
                original_width=info.width,
                original_height=info.height,
                original_format=info.format,
                data=data,
                changes=self.notes,
                source=self.label,
            )
        try:
            return convert.transform(
                data,
                info,
                target=self.target,
                detail=self.detail,
                policy=self.policy,
                source=self.label,
                notes=list(self.notes),
            )
        except GeminiVisionError as exc:
            raise exc.from_source(self.error_label) from None


def _probe(blob: Blob, policy: ImagePolicy) -> ImageInfo:
    """The header read from the head, or from every byte when the head is not enough."""
    head = blob.head()
    if not blob.complete and len(head) < blob.size:
        try:
            return probe(head, policy)
        except GeminiVisionError as exc:
            if not isinstance(exc, CorruptImageError):
                raise  # too many pixels: the header said so, reading more cannot help
        except Exception:  # noqa: BLE001, S110 - any failure on a cut-off head means "read it all"
            pass
    data = blob.all()
    try:
        return probe(data, policy)
    except CorruptImageError as exc:
        raise not_an_image(data) or exc from None


def plan_image(
    blob: Blob,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    label: str = "bytes",
    declared_mime: str | None = None,
    error_label: str | None = None,
) -> ImagePlan:
    """Check the image in `blob` and decide how it will be sent; raises what sending would.

    `declared_mime` is the type the bytes were labelled with (a data URL's); a wrong
    label is corrected and listed in `changes`. `error_label` names the image in errors
    (None for anonymous bytes).
    """
    policy = policy or DEFAULT_POLICY
    try:
        info = _probe(blob, policy)
        check_complete(info, blob)
        vector = vector_error(info)
        if vector:
            raise vector
        notes = tuple(_label_note(declared_mime, info.mime_type))
        plan = ImagePlan(
            blob, info, planned_size(info, detail=detail, policy=policy), detail, policy, label,
            notes, error_label,
        )  # fmt: skip
        if plan.passthrough:
            return plan
        if not info.supported and not policy.convert_unsupported:
            raise UnsupportedImageError(
                f"The image is {info.format} ({info.mime_type}); Gemini takes only "
                f"{', '.join(sorted(SUPPORTED_MIME_TYPES))}. Convert it first, or leave "
                "ImagePolicy(convert_unsupported=True) to have it converted to PNG or JPEG."
            )
        if blob.complete:
            return plan
        # It will be decoded: read it all now, and the header again (a GIF's frame count).
        full = probe(blob.all(), policy)
        return ImagePlan(
            blob, full, planned_size(full, detail=detail, policy=policy), detail, policy, label,
            notes, error_label,
        )  # fmt: skip
    except GeminiVisionError as exc:
        raise exc.from_source(error_label) from None


def prepare_source(
    source: Source,
    *,
    detail: Detail | None = None,
    policy: ImagePolicy | None = None,
    fetched: bytes | None = None,
) -> PreparedImage:
    """Read, check and prepare the image `source` names (an http(s) URL is fetched)."""
    policy = policy or DEFAULT_POLICY
    if source.kind == "prepared":
        image: PreparedImage = source.value
        return image
    try:
        if source.kind == "pil":
            return convert.encode_pil(
                source.value, detail=detail, policy=policy, source=source.label
            )
        blob = source.blob(policy, fetched=fetched)
    except GeminiVisionError as exc:
        raise exc.from_source(source.error_label) from None
    return plan_source(source, blob, detail=detail, policy=policy).prepare()


def plan_source(
    source: Source, blob: Blob, *, detail: Detail | None, policy: ImagePolicy
) -> ImagePlan:
    """`plan_image` of bytes read from `source`, labelled and named as the source is."""
    return plan_image(
        blob,
        detail=detail,
        policy=policy,
        label=source.label,
        declared_mime=source.declared_mime,
        error_label=source.error_label,
    )
