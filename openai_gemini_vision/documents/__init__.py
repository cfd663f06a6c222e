"""PDFs and videos as images Gemini reads: page images and sampled frames, each labelled."""

from __future__ import annotations

from ..images.sniff import is_pdf, is_video
from .pdf import (
    PDF_MIME,
    Page,
    page_sizes,
    parse_pages,
    pdf_from_file_part,
    render_pages,
)
from .sizing import FamilyCost, PageSize, family_cost, frame_side, page_size
from .video import Frame, FramePlan, frame_plan, sample_frames, timestamp

__all__ = [
    "PDF_MIME",
    "FamilyCost",
    "Frame",
    "FramePlan",
    "Page",
    "PageSize",
    "family_cost",
    "frame_plan",
    "frame_side",
    "is_pdf",
    "is_video",
    "page_size",
    "page_sizes",
    "parse_pages",
    "pdf_from_file_part",
    "render_pages",
    "sample_frames",
    "timestamp",
]
