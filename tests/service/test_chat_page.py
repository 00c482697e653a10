"""The chat page in a real headless Chromium against a real server with the real model and corpus."""

from __future__ import annotations

import os

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "광주 AI 데이터센터의 연산 능력은 얼마인가?"
INJECTION = "<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script>"
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    # Skipped on a developer machine without Chromium; in CI (CI=true) a missing browser fails instead.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, real_server: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ko-KR")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and "status of 422" not in message.text else None)
    page.goto(real_server)
    page.locator("#composer[data-ready]").wait_for(state="attached")  # limits and modes loaded from the server
    yield page
    context.close()
    assert problems == []  # no script errors, no Content-Security-Policy violations


def ask(page: Any, question: str) -> None:
    page.get_by_test_id("question-input").fill(question)
    page.get_by_test_id("send-button").click()


def test_answer_citation_and_source_viewer(page: Any) -> None:
    ask(page, QUESTION)

    answer = page.get_by_test_id("answer")
    answer.wait_for()
    assert page.get_by_test_id("loading").count() == 0
    passages = answer.get_by_test_id("passage")
    assert passages.count() == 5
    hit = passages.filter(has_text="88.5").first
    hit.wait_for()
    passage_text = hit.locator(".card-text").text_content()
    assert "88.5" in passage_text
    assert hit.get_by_test_id("passage-highlight").text_content() in passage_text

    hit.get_by_test_id("citation").click()

    viewer = page.get_by_test_id("source-viewer")
    viewer.wait_for(state="visible")
    cited = page.get_by_test_id("cited-span")
    cited.wait_for(state="visible")
    assert cited.text_content() == passage_text
    assert cited.is_visible() and viewer.is_visible()
    assert page.get_by_test_id("source-text").text_content().count(passage_text) >= 1
    box = cited.bounding_box()
    assert box is not None and box["height"] > 0
    # Scrolled into view and not covered: what is on screen at the span's first line is the span.
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid=cited-span]') != null",
        [box["x"] + 2, box["y"] + 2],
    )
    assert on_top

    page.get_by_test_id("source-close").click()
    viewer.wait_for(state="hidden")


def test_markup_in_a_question_is_shown_as_text_and_never_runs(page: Any) -> None:
    ask(page, INJECTION)

    page.get_by_test_id("answer").or_(page.get_by_test_id("error")).first.wait_for()
    bubble = page.get_by_test_id("user-question").last
    assert bubble.locator(".bubble-text").text_content() == INJECTION
    assert bubble.locator("img, script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_refused_question_shows_the_servers_message(page: Any) -> None:
    # The text box stops at the server's limit (from /api/config); a client without it meets the server's 422.
    assert page.get_by_test_id("question-input").get_attribute("maxlength") == "2000"
    page.get_by_test_id("question-input").evaluate("el => el.removeAttribute('maxlength')")
    ask(page, "광" * 2001)

    error = page.get_by_test_id("error")
    error.wait_for()
    assert error.locator(".error-title").text_content() == "오류가 발생했습니다 (422)"
    assert error.locator(".error-text").text_content() == "question: must be at most 2000 characters, got 2001"
    assert page.get_by_test_id("answer").count() == 0
