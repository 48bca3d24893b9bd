"""A hostile or broken API server: every answer bounded, every failure one line and exit 2 (hairpin.kube.answers).

A stub API server answers every list call with what the test sets; ``check --kubeconfig`` reads it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from hairpin import reading
from hairpin.cli.main import main
from hairpin.errors import InputError
from hairpin.kube.answers import MAX_PAGES, Budget
from hairpin.reading import too_deep
from stub_api import serving


class _Hostile(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b"{}"  # what every call gets
    calls: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    _Hostile.calls = 0
    with serving(_Hostile, tmp_path) as path:
        yield path
    reading.set_limits()  # cleared: the environment's limits stand again


def _check(kubeconfig: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    try:
        code = main([*extra, "check", "--kubeconfig", str(kubeconfig), "--format", "json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_an_answer_over_the_input_limit_is_one_line(server: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _Hostile.body = b'{"kind": "List", "items": [' + b'{"a": 1},' * 2000 + b'{"a": 1}]}'
    code, err = _check(server, capsys, "--max-input", "16KiB")
    assert code == 2
    assert err == (
        "hairpin: error: the current context: listing Nodes failed: the API server's answers are larger than "
        "the input limit of 16 KiB (raise it with hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)\n"
    )


def test_a_repeated_continue_token_is_a_loop_not_followed(server: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _Hostile.body = b'{"kind": "List", "metadata": {"continue": "again"}, "items": []}'
    code, err = _check(server, capsys)
    assert code == 2
    assert err == (
        "hairpin: error: the current context: listing Nodes failed: the API server repeated a continue token "
        "(a loop)\n"
    )
    assert _Hostile.calls == 2  # the first page and the one that repeated its token


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>proxy error</html>", "the API server's answer is not valid JSON: Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "the API server's answer is " + too_deep()),
        (b'{"items": 7}', "the API server's items are not a list"),
        (b'{"items": [], "metadata": {"continue": 5}}', "the API server's continue token is not a string"),
        (b"[1, 2]", "the API server answered a list"),
    ],
    ids=["html", "deep", "items", "token", "list"],
)  # fmt: skip
def test_broken_answers_are_one_line(server: Path, capsys: pytest.CaptureFixture[str], body: bytes, why: str) -> None:
    _Hostile.body = body
    code, err = _check(server, capsys)
    assert (code, err) == (2, f"hairpin: error: the current context: listing Nodes failed: {why}\n")


class _Body(io.BytesIO):
    released = False

    def release_conn(self) -> None:
        self.released = True


def test_the_budget_counts_every_answer_and_releases_each() -> None:
    budget = Budget("ctx", limit=10)
    first = _Body(b"123456")
    assert budget.body(first, "listing Pods") == b"123456" and first.released
    assert budget.json(_Body(b"[1]"), "listing Pods") == [1]
    with pytest.raises(InputError) as exc:
        budget.body(_Body(b"12"), "listing Services")  # 6 + 3 + 2 > 10
    assert str(exc.value) == (
        "ctx: listing Services failed: the API server's answers are larger than the input limit of 10 bytes "
        "(raise it with hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)"
    )


def test_pages_end_at_the_page_limit() -> None:
    pages = Budget("ctx", limit=1).pages("listing Pods")
    assert pages.next(None) is None and pages.next("") is None
    for i in range(MAX_PAGES - 1):
        assert pages.next(str(i)) == str(i)
    with pytest.raises(InputError, match=r"^ctx: listing Pods failed: the API server sent more than 10,000 pages$"):
        pages.next("one more")
