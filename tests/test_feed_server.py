"""The loopback feed server itself, driven by a plain synchronous client (urllib)."""

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fakes.feed_server import SMALL_FEED, FeedServer, Reply, status


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_serves_on_loopback_with_validators(feed_server: FeedServer) -> None:
    url = feed_server.serve("feed.xml", SMALL_FEED)
    assert url == f"http://127.0.0.1:{feed_server.port}/feed.xml"
    code, body, headers = get(url)
    assert (code, body) == (200, SMALL_FEED)
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert headers["ETag"].startswith('"')
    assert headers["Last-Modified"].endswith("GMT")


def test_conditional_requests_and_replacing_the_body(feed_server: FeedServer) -> None:
    url = feed_server.serve("/feed.xml", "<rss>one</rss>")
    _, _, first = get(url)
    assert get(url, {"If-None-Match": first["ETag"]})[0] == 304
    assert get(url, {"If-Modified-Since": first["Last-Modified"]})[0] == 304
    assert get(url, {"If-None-Match": '"other"'})[0] == 200
    feed_server.serve("/feed.xml", "<rss>two</rss>")
    code, body, second = get(url, {"If-None-Match": first["ETag"]})
    assert (code, body) == (200, b"<rss>two</rss>")
    assert second["ETag"] != first["ETag"]
    assert get(url, {"If-Modified-Since": first["Last-Modified"]})[0] == 200


def test_script_plays_in_order_and_repeats_the_last(feed_server: FeedServer) -> None:
    url = feed_server.script("/flaky", [status(503), status(500), Reply(b"<rss/>")])
    codes = [get(url)[0] for _ in range(5)]
    assert codes == [503, 500, 200, 200, 200]
    assert feed_server.hits("/flaky") == 5


def test_records_requests_and_answers_404_elsewhere(feed_server: FeedServer) -> None:
    code, body, _ = get(feed_server.url("/missing"), {"User-Agent": "probe/1"})
    assert code == 404
    assert b"/missing" in body
    [seen] = feed_server.requests
    assert (seen.method, seen.path, seen.headers["User-Agent"]) == ("GET", "/missing", "probe/1")


def test_serve_file_guesses_the_type(feed_server: FeedServer, tmp_path: Path) -> None:
    atom = tmp_path / "news.atom"
    atom.write_bytes(b"<feed/>")
    code, body, headers = get(feed_server.serve_file("/news", atom))
    assert (code, body, headers["Content-Type"]) == (200, b"<feed/>", "application/atom+xml")


def test_empty_script_is_refused(feed_server: FeedServer) -> None:
    with pytest.raises(ValueError, match="at least one"):
        feed_server.script("/nothing", [])


def test_stop_is_safe_twice() -> None:
    server = FeedServer()
    server.start()
    assert get(server.serve("/x", "x"))[0] == 200
    server.stop()
    server.stop()
