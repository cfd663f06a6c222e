"""How the drop-in clients find their key and endpoint, and what `wrap()` installs."""

from __future__ import annotations

import inspect
from typing import Any

import openai
import pytest

from openai_gemini_vision import (
    GEMINI_BASE_URL,
    AsyncOpenAI,
    ImagePolicy,
    InvalidArgumentError,
    MissingAPIKeyError,
    OpenAI,
    wrap,
)


@pytest.mark.parametrize("client_class", [OpenAI, AsyncOpenAI])
def test_the_key_comes_from_the_argument_then_gemini_then_google(
    client_class: type[OpenAI] | type[AsyncOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_key=, else GEMINI_API_KEY, else GOOGLE_API_KEY; OPENAI_API_KEY is never read."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-key-never-sent")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert client_class().api_key == "google-key"
    monkeypatch.setenv("GEMINI_API_KEY", " gemini-key\n")
    assert client_class().api_key == "gemini-key"
    assert client_class(api_key="given-key").api_key == "given-key"


@pytest.mark.parametrize("client_class", [OpenAI, AsyncOpenAI])
def test_no_key_names_every_way_to_give_one(
    client_class: type[OpenAI] | type[AsyncOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a Gemini key the error names GEMINI_API_KEY, GOOGLE_API_KEY and api_key=."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-key-never-sent")
    with pytest.raises(MissingAPIKeyError) as caught:
        client_class()
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "api_key="):
        assert name in str(caught.value)


def test_a_blank_key_given_is_refused_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """api_key="  " is a mistake to report, not a cue to send the environment's key."""
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    with pytest.raises(MissingAPIKeyError, match="given but is blank"):
        OpenAI(api_key="   ")


def test_the_base_url_comes_from_the_argument_then_gemini_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """base_url=, else GEMINI_BASE_URL, else Gemini's endpoint; OPENAI_BASE_URL is ignored."""
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1/")
    assert str(OpenAI(api_key="k").base_url) == GEMINI_BASE_URL
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:8080/v1beta/openai/")
    assert str(OpenAI(api_key="k").base_url) == "http://127.0.0.1:8080/v1beta/openai/"
    given = OpenAI(api_key="k", base_url="http://127.0.0.1:9/x/")
    assert str(given.base_url) == "http://127.0.0.1:9/x/"


def test_openai_account_settings_are_not_carried_to_google(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OPENAI_ORG_ID and OPENAI_PROJECT_ID would become headers; they are dropped."""
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-456")
    client = OpenAI(api_key="k")
    assert client.organization is None
    assert client.project is None
    assert OpenAI(api_key="k", organization="org-mine").organization == "org-mine"


def test_the_clients_are_openai_clients_with_a_policy() -> None:
    """Subclasses of openai's clients, keeping their image policy through with_options()."""
    policy = ImagePolicy(detail="low")
    client = OpenAI(api_key="k", image_policy=policy)
    assert isinstance(client, openai.OpenAI)
    assert isinstance(AsyncOpenAI(api_key="k"), openai.AsyncOpenAI)
    assert client.with_options(max_retries=0).image_policy == policy


@pytest.mark.parametrize("plain_class", [openai.OpenAI, openai.AsyncOpenAI])
def test_wrap_is_idempotent_and_keeps_the_client(
    plain_class: type[openai.OpenAI] | type[openai.AsyncOpenAI],
) -> None:
    """wrap() returns the same client, keeps its key and URL, and wrapping again is harmless."""
    plain = plain_class(api_key="k", base_url=GEMINI_BASE_URL)
    wrapped = wrap(plain)
    assert wrapped is plain
    assert isinstance(wrapped, plain_class)
    assert wrap(wrap(plain)) is plain
    assert type(wrap(plain)) is type(wrapped)
    assert plain.api_key == "k"
    assert wrap(plain, image_policy=ImagePolicy(detail="low")).image_policy.detail == "low"  # type: ignore[union-attr]


def test_wrap_refuses_what_is_not_an_openai_client() -> None:
    """Anything else is a TypeError naming what wrap() takes."""
    with pytest.raises(TypeError, match=r"openai\.OpenAI or openai\.AsyncOpenAI"):
        wrap(object())  # type: ignore[type-var]


@pytest.mark.parametrize("method", ["copy", "with_options"])
def test_the_policy_can_be_changed_per_call_site(method: str) -> None:
    """`client.with_options(image_policy=...)` gives a client with that policy, as copy() does."""
    client = OpenAI(api_key="test-key-not-real")
    policy = ImagePolicy(max_images=1)
    changed = getattr(client, method)(image_policy=policy)
    assert changed.image_policy is policy
    assert client.image_policy is not policy
    assert getattr(changed, method)().image_policy is policy  # carried over by default


@pytest.mark.parametrize("client_class", [OpenAI, AsyncOpenAI])
def test_signatures_show_openais_parameters_and_the_policy(client_class: Any) -> None:
    """inspect.signature of __init__ and copy() names openai's parameters and image_policy."""
    client = client_class(api_key="test-key-not-real")
    base = openai.OpenAI if client_class is OpenAI else openai.AsyncOpenAI
    for method in ("__init__", "copy", "with_options"):
        shown = inspect.signature(getattr(client, method)).parameters
        expected = inspect.signature(getattr(base(api_key="k"), method)).parameters
        assert set(expected) | {"image_policy"} == set(shown), method


def test_a_copy_never_points_the_gemini_key_at_openai() -> None:
    """`copy(data_residency=...)` of a Gemini client is refused, as the constructor refuses it."""
    client = OpenAI(api_key="test-key-not-real")
    with pytest.raises(InvalidArgumentError, match="base_url") as copied:
        client.copy(data_residency="eu")
    with pytest.raises(InvalidArgumentError) as built:
        OpenAI(api_key="test-key-not-real", data_residency="eu")
    assert str(copied.value) == str(built.value)


@pytest.mark.parametrize("client_class", [openai.OpenAI, openai.AsyncOpenAI])
def test_wrap_keeps_openais_user_agent(client_class: Any) -> None:
    """A wrapped client's class keeps its name, so its User-Agent is openai's own."""
    plain = client_class(api_key="k", base_url=GEMINI_BASE_URL)
    expected = plain.user_agent
    assert wrap(plain).user_agent == expected
    assert type(plain).__name__ == client_class.__name__
