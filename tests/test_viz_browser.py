"""`kedro viz build`'s lineage opened in Debian's headless Chromium: the graph renders,
every pipeline is in the selector and the layer bands are drawn."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from tests.test_run import _kedro

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")
ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
]
# Same origin as the app: turns off the onboarding pop-up (kedro-viz keeps its settings
# in localStorage) and opens the chosen pipeline.
SETUP_PAGE = """<!doctype html><script>
localStorage.setItem("KedroViz", JSON.stringify({showFeatureHints: false, theme: "light"}));
location.replace("/" + location.search);
</script>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _chromium(url: str, *args: str, profile: Path) -> str:
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: `make test` as root installs it, or "
    "`sudo apt-get install chromium`",
)
def test_the_lineage_renders_in_chromium(project: Path, tmp_path: Path):
    result = _kedro(project, "viz", "build", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    build = project / "build"
    (build / "setup.html").write_text(SETUP_PAGE)
    handler = functools.partial(_Quiet, directory=str(build))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/setup.html"
        dom = _chromium(f"{url}?pid=__default__", "--dump-dom", profile=tmp_path / "a")
        shot = tmp_path / "lineage.png"
        _chromium(
            f"{url}?pid=engagement",
            "--window-size=1400,900",
            f"--screenshot={shot}",
            profile=tmp_path / "b",
        )
    finally:
        server.shutdown()
    bands = re.findall(r'class="pipeline-layer-name[^"]*"[^>]*>([^<]*)<', dom)
    assert sorted(bands) == sorted(LAYERS), bands
    bootstrap_project(ROOT)
    for name in pipelines:
        assert len(re.findall(f">{re.escape(name)}<", dom)) >= 1, name
    nodes = re.findall(r'class="pipeline-node pipeline-node--', dom)
    assert len(nodes) > 100  # the graph itself, not only the page's frame
    assert shot.stat().st_size > 20_000
