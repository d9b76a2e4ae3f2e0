"""Every page a demo persona reaches by following links answers without a server error: a real
server on the demo world, each persona signed in as a browser is, following the site's own
links breadth first. This is what the PostgreSQL half asks of every page; on the SQLite half
the journeys click through the pages in Chromium and the persona walk
(tests/browser/test_personas_on_phones.py) follows every link of every persona's pages and
fails on any 4xx or 5xx, so the crawl runs on PostgreSQL only."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from gongchuang.demo import DEMO_PASSWORD
from tests.support.databases import BACKEND, demo_database_url
from tests.support.servers import running_server, signed_in_client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("crawl"),
    pytest.mark.skipif(
        BACKEND != "postgresql",
        reason="the SQLite half walks every persona's links in Chromium instead",
    ),
]

# Anonymous, then each demo login of the README: one of every kind of person.
PERSONAS = [
    None,
    "13800000000",  # platform administrator
    "13800000001",  # village cadre
    "13800000002",  # villager
    "13800000003",  # county department staff
    "13800000004",  # venue admin, shopkeeper
    "13800000005",  # 120 dispatcher
    "13800000006",  # trainer
    "13800000007",  # volunteer organiser, responder
    "13800000008",  # group leader
    "13800000009",  # province department staff
    "13800000010",  # training institution head
]
# Not pages: signing out, files and PDFs (their own tests read them).
NOT_A_PAGE = re.compile(r"^/(logout|static/)|\.pdf$|/cards$")
PER_SHAPE = 2  # pages of one shape (/points/villages/N/records/N) visited per persona
PER_PERSONA = 60


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/") and not href.startswith("//"):
            self.hrefs.append(href.split("#")[0])


def _shape(url: str) -> str:
    return re.sub(r"\d+", "N", url.split("?")[0])


def crawl(client: httpx.Client) -> tuple[int, list[str]]:
    """(pages visited, problems) following links from the home page."""
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    queue = deque(["/"])
    problems: list[str] = []
    visited = 0
    while queue and visited < PER_PERSONA:
        url = queue.popleft()
        if url in seen or NOT_A_PAGE.search(url.split("?")[0]):
            continue
        seen.add(url)
        shape = _shape(url)
        if shapes.get(shape, 0) >= PER_SHAPE:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(url)
        visited += 1
        if response.status_code >= 500:
            problems.append(f"{response.status_code} {url}")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        if "Project-Id-Version" in response.text:
            problems.append(f"the catalogue header on {url}")
        links = _Links()
        links.feed(response.text)
        queue.extend(h for h in links.hrefs if h and h not in seen)
    return visited, problems


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("crawl")
    with (
        demo_database_url(tmp, "crawl") as url,
        running_server(url, tmp / "server.log") as base,
    ):
        yield base


def test_every_page_each_persona_reaches_answers(demo_server: str) -> None:
    problems: list[str] = []
    total = 0
    for phone in PERSONAS:
        client = (
            signed_in_client(demo_server, phone, DEMO_PASSWORD)
            if phone
            else httpx.Client(base_url=demo_server, timeout=10)
        )
        try:
            visited, found = crawl(client)
        finally:
            client.close()
        total += visited
        problems += [f"{phone or 'anonymous'}: {p}" for p in found]
    assert not problems, "\n".join(problems)
    assert total > 150  # the crawl really went through the site
