"""A tracking URI is checked for what it is, an MLflow API, before any stage removes a result: a web
service that answers HTTP at that address but is not MLflow is refused by the check stage in one
line."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.project_kit import REPO, run


class NotMlflow(BaseHTTPRequestHandler):
    """A web page for every path but /health, which it answers as many services do."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"ok" if self.path == "/health" else b"<html><body>a wiki</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class NotFound(NotMlflow):
    def do_GET(self):  # noqa: N802
        self.send_error(404, "File not found")


@pytest.fixture(params=[NotMlflow, NotFound], ids=["html", "404"])
def server(request):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", request.param
    httpd.shutdown()
    httpd.server_close()


def test_a_web_service_that_is_not_mlflow_is_refused_by_the_check(server, tmp_path: Path):
    uri, handler = server
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    done = run(["pipeline", "run", "check"], tmp_path, check=False, MLFLOW_TRACKING_URI=uri)
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    why = "gave HTTP 404 File not found" if handler is NotFound else "did not answer in JSON"
    assert line == (
        f"error: MLFLOW_TRACKING_URI = {uri} answers HTTP but is not an MLflow tracking server "
        f"(its experiments API {why}); point MLFLOW_TRACKING_URI at the `mlflow server` "
        "address, or unset it."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written
