"""In a real headless Chromium, against a real server over the fake-embedder index: the chat page
takes its limits and modes from the server and works with an API key; /docs renders the API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from index.search import MODES, Searcher
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings
from tests.service.test_chat_page import CHROMIUM, TIMEOUT_MS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]
KEY = "s3cret-key"


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    problems: list[str] = []

    def open_(url: str, on_dialog: Any = None) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ko-KR")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" and "status of 401" not in m.text else None)  # the 401 that asks for the key
        if on_dialog is not None:
            page.on("dialog", on_dialog)
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert problems == []  # no script errors, no Content-Security-Policy violations


def test_the_page_offers_the_servers_limits_and_modes(
    open_page: Any, hash_settings: Settings, hash_searcher: Searcher
) -> None:
    settings = hash_settings.model_copy(update={"max_k": 7, "default_k": 3, "max_question_chars": 123})
    with BackgroundServer(create_app(settings, hash_searcher)) as url:
        page = open_page(url)
        page.locator("#composer[data-ready]").wait_for(state="attached")

        k_select, mode_select = page.get_by_test_id("k-select"), page.get_by_test_id("mode-select")
        assert k_select.locator("option").all_text_contents() == [str(k) for k in range(1, 8)]
        assert k_select.input_value() == "3"
        assert mode_select.locator("option").evaluate_all("os => os.map(o => o.value)") == list(MODES)
        assert mode_select.input_value() == MODES[0]
        assert page.get_by_test_id("question-input").get_attribute("maxlength") == "123"


def test_with_an_api_key_the_page_asks_once_and_sends_it_as_a_bearer_token(
    open_page: Any, hash_settings: Settings, hash_searcher: Searcher
) -> None:
    settings = hash_settings.model_copy(update={"api_key": SecretStr(KEY)})
    with BackgroundServer(create_app(settings, hash_searcher)) as url:
        prompts: list[str] = []
        page = open_page(url, lambda dialog: (prompts.append(dialog.message), dialog.accept(KEY)))
        sent: list[str | None] = []
        page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/api/ask" in r.url else None)
        page.locator("#composer[data-ready]").wait_for(state="attached")

        for question in ("광주 AI 데이터센터", "인공지능 중심도시"):
            page.get_by_test_id("question-input").fill(question)
            page.get_by_test_id("send-button").click()
            page.get_by_test_id("answer").nth(len(sent) - 1).wait_for()
        page.reload()  # same tab: the key is still there
        page.locator("#composer[data-ready]").wait_for(state="attached")
        page.get_by_test_id("question-input").fill("광주")
        page.get_by_test_id("send-button").click()
        page.get_by_test_id("answer").wait_for()

        assert len(prompts) == 1 and "API 키" in prompts[0]
        assert sent == [f"Bearer {KEY}"] * 3
        assert page.evaluate("sessionStorage.getItem('aihub-qa-api-key')") == KEY
        assert page.get_by_test_id("error").count() == 0


def test_docs_render_every_operation_offline(open_page: Any, hash_settings: Settings, hash_searcher: Searcher) -> None:
    with BackgroundServer(create_app(hash_settings, hash_searcher)) as url:
        page = open_page(url + "docs")
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(url) else None)
        page.reload()
        page.locator(".opblock").first.wait_for()

        paths = page.locator(".opblock-summary-path").all_text_contents()
        text = page.locator("#swagger-ui").text_content()

    assert {"/api/ask", "/api/config", "/api/documents", "/api/documents/{doc_id}", "/healthz", "/readyz", "/metrics"} <= {
        p.replace("\u200b", "") for p in paths
    }
    assert "valid version field" not in text and "OAS 3.1" in text
    assert external == []  # nothing from a CDN
