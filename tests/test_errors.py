"""The error tree: fields a caller can act on, and the bases callers already catch."""

from __future__ import annotations

import pickle

import openai
import pytest

import openai_gemini_vision as ogv
from openai_gemini_vision.errors import (
    CorruptImageError,
    GeminiVisionError,
    ImageTooLargeError,
    InvalidArgumentError,
    MessageFormatError,
    MissingAPIKeyError,
    UnknownRuleError,
)


def test_an_error_keeps_its_fields_and_names_its_place_when_located() -> None:
    """`located` adds the place to the text and the field, and keeps source and limits."""
    error = ImageTooLargeError("too many pixels", source="photo.jpg", limit=100, actual=250)
    moved = error.located("messages[0].content[2]")
    assert str(error) == "photo.jpg: too many pixels"
    assert str(moved) == "messages[0].content[2] (photo.jpg): too many pixels"
    assert str(ImageTooLargeError("too many pixels")) == "too many pixels"
    assert type(moved) is ImageTooLargeError
    assert (moved.source, moved.where, moved.limit, moved.actual) == (
        "photo.jpg",
        "messages[0].content[2]",
        100,
        250,
    )
    assert moved.message == "too many pixels"


def test_errors_survive_pickling_with_their_fields() -> None:
    """An error raised in a worker process arrives whole: type, message and fields."""
    error = CorruptImageError("empty", source="a.png", where="messages[1].content[0]")
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made
    assert type(back) is CorruptImageError
    assert (str(back), back.source, back.where) == (str(error), "a.png", "messages[1].content[0]")


def test_a_missing_key_is_also_an_openai_error() -> None:
    """`except openai.OpenAIError` around building a client still catches a missing key."""
    with pytest.raises(openai.OpenAIError):
        raise MissingAPIKeyError()
    assert issubclass(MissingAPIKeyError, GeminiVisionError)
    assert "GEMINI_API_KEY" in str(MissingAPIKeyError())


@pytest.mark.parametrize(
    ("error", "base"),
    [
        (InvalidArgumentError, ValueError),
        (MessageFormatError, TypeError),
        (UnknownRuleError, KeyError),
    ],
)
def test_input_problems_keep_the_builtin_base_callers_catch(
    error: type[GeminiVisionError], base: type[Exception]
) -> None:
    """Input problems are GeminiVisionErrors and still the builtin type a caller catches."""
    assert issubclass(error, GeminiVisionError)
    assert issubclass(error, base)
    assert str(error("the fix")) == "the fix"  # not KeyError's quoted repr


def test_every_warning_is_a_gemini_vision_warning() -> None:
    """One base catches or filters every warning the library issues."""
    assert issubclass(ogv.ModelFamilyAssumedWarning, ogv.GeminiVisionWarning)
    assert issubclass(ogv.DetectionWarning, ogv.GeminiVisionWarning)
    assert issubclass(ogv.GeminiVisionWarning, UserWarning)


def test_document_errors_are_value_errors_and_a_missing_extra_an_import_error() -> None:
    """PDF and video problems are input problems; a missing extra is caught as ImportError."""
    for cls in (
        ogv.EncryptedDocumentError,
        ogv.CorruptDocumentError,
        ogv.EmptyDocumentError,
        ogv.UnsupportedDocumentError,
    ):
        assert issubclass(cls, ogv.DocumentError)
        assert issubclass(cls, ValueError)
        back = pickle.loads(pickle.dumps(cls("the fix", source="a.pdf")))  # noqa: S301 - ours
        assert (type(back), back.message, back.source) == (cls, "the fix", "a.pdf")
        assert str(back) == "a.pdf: the fix"  # the file named first, as every error does
    assert issubclass(ogv.MissingDependencyError, ImportError)
    assert issubclass(ogv.MissingDependencyError, ogv.GeminiVisionError)
    assert not issubclass(ogv.MissingDependencyError, ValueError)
