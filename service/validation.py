"""Checks on an ask request that the JSON schema cannot express, with the configured limits."""

from __future__ import annotations

from service.errors_http import InvalidRequest
from service.schemas import AskRequest
from service.settings import Settings

ALLOWED_CONTROLS = frozenset("\t\n\r")  # line breaks from any OS are text, not control


def first_forbidden_control(text: str) -> int | None:
    """Index of the first C0 control character other than tab, CR and LF, or None."""
    for i, char in enumerate(text):
        if char < " " and char not in ALLOWED_CONTROLS:
            return i
    return None


def check_ask(request: AskRequest, settings: Settings) -> None:
    """Raise InvalidRequest with a message naming the field and the problem."""
    question = request.question
    position = first_forbidden_control(question)
    if position is not None:
        code = ord(question[position])
        raise InvalidRequest(
            f"question: must not contain control characters (found U+{code:04X} at position {position}); "
            "only tab and line breaks are allowed"
        )
    if not question.strip():
        raise InvalidRequest("question: must not be empty or only whitespace")
    if len(question) > settings.max_question_chars:
        raise InvalidRequest(
            f"question: must be at most {settings.max_question_chars} characters, got {len(question)}"
        )
    if request.k is not None and request.k > settings.max_k:
        raise InvalidRequest(f"k: must be at most {settings.max_k}, got {request.k}")
