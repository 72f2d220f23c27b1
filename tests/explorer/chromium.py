"""Debian's headless Chromium driven over the DevTools protocol (no extra package).

Streamlit draws its page from a websocket after the first load, so Chromium's
``--screenshot`` (which waits for the load, not the websocket) shoots an empty page;
here the page's text is polled until it shows what the caller waits for, then the
screenshot is taken.

Also a command, for the README's screenshots of a served explorer::

    .venv/bin/python -m tests.explorer.chromium URL OUT.png "text to wait for"
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium")


class Page:
    """One Chromium page: ``text()``, ``wait_for(text)``, ``screenshot(path)``."""

    def __init__(self, url: str, width: int = 1400, height: int = 2000) -> None:
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = self._devtools_port()
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert pages, "Chromium opened no page"
        self._stack = ExitStack()
        self._ws = self._stack.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        )
        self._id = 0

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                return int(found.group(1))
            if not line and self._process.poll() is not None:
                break
        raise RuntimeError("Chromium did not open its DevTools port")

    def _call(self, method: str, **params) -> dict:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def text(self) -> str:
        """The page's visible text."""
        result = self._call(
            "Runtime.evaluate",
            expression="document.body ? document.body.innerText : ''",
            returnByValue=True,
        )
        return result["result"].get("value") or ""

    def wait_for(self, *texts: str, timeout: float = 90) -> str:
        """Waits until the page shows every text, with no script running and no
        placeholder left, the same on two reads a second apart.

        Returns:
            The page's text then.

        Raises:
            AssertionError: Not within ``timeout`` seconds (with the text seen).
        """
        busy = (
            '!!document.querySelector(\'[data-testid="stStatusWidget"], '
            '[data-testid="stSkeleton"], .stale-element\')'
        )
        deadline = time.monotonic() + timeout
        text, ready_before = "", None
        while time.monotonic() < deadline:
            text = self.text()
            running = self._call(
                "Runtime.evaluate", expression=busy, returnByValue=True
            )
            ready = all(t in text for t in texts) and not running["result"].get("value")
            if ready and ready_before == text:
                return text
            ready_before = text if ready else None
            time.sleep(1)
        raise AssertionError(
            f"The page never showed {texts}; it showed:\n{text[-3000:]}"
        )

    def screenshot(self, path: Path) -> None:
        """Saves the window (its size is the page's: ``height``) as a PNG."""
        data = self._call("Page.captureScreenshot", format="png")
        Path(path).write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._profile.cleanup()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    url, out, *wanted = sys.argv[1:]
    with Page(url) as page:
        page.wait_for(*wanted)
        time.sleep(2)  # the charts' and the sidebar's last frame
        page.screenshot(Path(out))
