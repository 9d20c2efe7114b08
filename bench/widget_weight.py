"""Widget weight: loader and chat-frame bytes on the wire (gzip) and launcher click → usable composer.

Everything is real and local: embedded PostgreSQL and Redis under ``instance/bench-widget``
(git-ignored), one gunicorn + gevent web process, Debian's Chromium through Playwright.
``loader_gzip_bytes`` is ``/widget/loader.js`` as served with ``Accept-Encoding: gzip``;
``frame_gzip_bytes`` sums the frame page and every script, style and font the frame loaded
on a first visit, each fetched again with ``Accept-Encoding: gzip`` (the body bytes a
browser without brotli downloads). ``open_to_interactive_ms`` is the median over
``--runs`` fresh browser profiles of the time from the launcher click on the demo page to
the chat's composer being visible and editable.

Prints, as its last line: ``{"name": "widget_weight", "loader_gzip_bytes", "frame_gzip_bytes",
"open_to_interactive_ms", ...}``
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import bench_stack  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def gzip_bytes(port: int, path: str) -> int:
    """Body bytes of ``path`` as served to a client that accepts gzip only."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept-Encoding": "gzip", "Referer": f"http://127.0.0.1:{port}/demo"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"{path}: {resp.status}")
    return len(body)


def allow_demo_origin(app: Any, port: int) -> None:
    """The demo page is served from the bench server itself: allow that origin on the inbox."""
    import sqlalchemy as sa

    from messenger.extensions import db
    from messenger.models import Inbox

    with app.app_context():
        db.session.execute(sa.update(Inbox).values(allowed_origins=[f"http://127.0.0.1:{port}"]))
        db.session.commit()
        db.session.remove()


def open_once(browser: Any, base: str) -> tuple[float, list[str]]:
    """One first visit: (ms from launcher click to a usable composer, URLs the frame loaded)."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    urls: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda req: urls.append(req.url) if req.frame != page.main_frame else None)
        page.goto(base + "/demo")
        launcher = page.locator("button[data-inbox]").first
        launcher.wait_for()
        started = time.perf_counter()
        launcher.click()
        composer = page.frame_locator("iframe[src*='inbox=']").first.locator("#input")
        composer.wait_for(state="visible", timeout=30_000)
        if not composer.is_editable():
            raise SystemExit("the composer is visible but not editable")
        return (time.perf_counter() - started) * 1000, urls
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=str(ROOT / "instance" / "bench-widget"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with bench_stack(args.data_dir, "messenger_bench_widget", 1) as (app, port, _, _):
        allow_demo_origin(app, port)
        base = f"http://127.0.0.1:{port}"
        loader = gzip_bytes(port, "/widget/loader.js")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                samples, frame_urls = [], []
                for _ in range(args.runs):
                    ms, urls = open_once(browser, base)
                    samples.append(ms)
                    frame_urls = frame_urls or urls
            finally:
                browser.close()
        assets = sorted({u for u in frame_urls if urllib.parse.urlsplit(u).netloc == f"127.0.0.1:{port}"
                         and "/api/" not in u})
        frame = sum(gzip_bytes(port, u.removeprefix(base)) for u in assets)
        print(f"frame resources ({len(assets)}):", *assets, sep="\n  ", flush=True)
        print(f"open_to_interactive samples (ms): {[round(s) for s in samples]}", flush=True)
        print(json.dumps({"name": "widget_weight", "loader_gzip_bytes": loader, "frame_gzip_bytes": frame,
                          "frame_resources": len(assets), "open_to_interactive_ms": round(statistics.median(samples)),
                          "runs": args.runs}))


if __name__ == "__main__":
    main()
