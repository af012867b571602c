"""Tests of the JSON web service (digits.apps.service) against a live uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servers import free_port, live_server

from digits.predict import Prediction, default_model_path
from digits.runtime.modelfile import ModelInfo, file_sha256

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "digit_examples").iterdir())
MAX_BYTES = 2_000_000
CLIENT_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m digits serve`` on a free loopback port, with small limits, and 2 worker
    processes as `make serve` runs it on 2 cores (the limits reach each worker); its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("service") / "server.log"
    command = ["-m", "digits", "serve", "--port", str(port), "--max-bytes", str(MAX_BYTES)]
    command += ["--client-timeout", str(CLIENT_TIMEOUT_S), "--workers", "2"]
    with live_server(command, port, "/health", log) as (url, process):
        yield url
    assert process.returncode is not None


def raw_exchange(url: str, request: bytes, wait_s: float = 30.0) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes; (everything read, seconds taken)."""
    port = int(url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may answer and close before reading everything
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def test_health_and_docs(server):
    health = httpx.get(server + "/health").json()
    model = default_model_path()
    assert health["model"] == model.name
    assert health["sha256"] == file_sha256(model)
    assert health["version"] and health["status"] == "ok"
    assert httpx.get(server + "/docs").status_code == 200
    assert "/predict" in httpx.get(server + "/openapi.json").json()["paths"]


def test_example_images_multipart(server):
    files = [("files", (path.name, path.read_bytes())) for path in EXAMPLES]
    response = httpx.post(server + "/predict?top_k=3", files=files, timeout=60)
    assert response.status_code == 200
    records = response.json()["predictions"]
    assert [r["path"] for r in records] == [path.name for path in EXAMPLES]
    for record in records:
        assert record["digit"] == int(record["path"][0]), record
        assert len(record["probabilities"]) == 10 and len(record["top_k"]) == 3
        assert record["top_k"][0]["digit"] == record["digit"]


def test_raw_body_and_single_file_field(server):
    path = ROOT / "digit_examples" / "4_b.jpg"
    raw = httpx.post(
        server + "/predict", content=path.read_bytes(), headers={"content-type": "image/jpeg"}
    )
    assert raw.status_code == 200 and raw.json()["predictions"][0]["digit"] == 4
    single = httpx.post(server + "/predict", files={"file": ("x.jpg", path.read_bytes())})
    assert single.status_code == 200 and single.json()["predictions"][0]["digit"] == 4


def test_oversized_body_is_413(server):
    big = os.urandom(MAX_BYTES + 1000)
    declared = httpx.post(
        server + "/predict", content=big, headers={"content-type": "application/octet-stream"}
    )
    assert declared.status_code == 413 and "limit" in declared.json()["detail"]
    # Chunked (no Content-Length): refused once the counted chunks pass the limit.
    chunk = b"x" * 500_000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
    head = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, _ = raw_exchange(server, head + body)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("size", [MAX_BYTES + 1000, 15 * MAX_BYTES], ids=["just-over", "15x"])
def test_oversized_body_is_413_for_urllib(server, size):
    """urllib sends the whole body before it reads the answer: it must still see the 413,
    not a broken pipe or a reset."""
    request = urllib.request.Request(
        server + "/predict",
        data=os.urandom(size),
        headers={"Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert "limit" in json.loads(refused.value.read())["detail"]


def test_non_images_are_415_or_422(server):
    text = httpx.post(server + "/predict", content=b"hello", headers={"content-type": "text/plain"})
    assert text.status_code == 415 and "detail" in text.json()
    not_image = httpx.post(server + "/predict", files={"files": ("a.png", b"not an image")})
    assert not_image.status_code == 422
    assert "error" in not_image.json()["predictions"][0]
    png = EXAMPLES[0].read_bytes()
    wrong_field = httpx.post(server + "/predict", files={"image": ("a.png", png)})
    assert wrong_field.status_code == 422 and "'files'" in wrong_field.json()["detail"]
    form = httpx.post(server + "/predict", data={"files": "a.png"})
    assert form.status_code == 415
    bad_query = httpx.post(
        server + "/predict?top_k=99",
        content=EXAMPLES[0].read_bytes(),
        headers={"content-type": "image/png"},
    )
    assert bad_query.status_code == 422


def test_mixed_good_and_bad_images(server):
    files = [
        ("files", ("good.png", (ROOT / "digit_examples" / "2_a.png").read_bytes())),
        ("files", ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)),
        ("files", ("empty.png", b"")),
    ]
    response = httpx.post(server + "/predict", files=files)
    assert response.status_code == 200
    good, bad, empty = response.json()["predictions"]
    assert good["digit"] == 2 and "error" not in good
    assert bad["digit"] is None and bad["error"]
    assert empty["digit"] is None and empty["error"]


def test_200_requests_8_at_a_time(server):
    rng = random.Random(0)
    picks = [rng.choice(EXAMPLES) for _ in range(200)]
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=8)) as client:

        def ask(path: Path) -> tuple[int, int | None]:
            response = client.post(
                server + "/predict", files={"files": (path.name, path.read_bytes())}
            )
            return response.status_code, response.json()["predictions"][0]["digit"]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, picks))
    assert answers == [(200, int(path.name[0])) for path in picks]


def test_slow_clients_are_cut_off(server):
    stalled_body = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
        b"Content-Length: 5000\r\n\r\n\x89PNG"
    )
    answer, seconds = raw_exchange(server, stalled_body)
    assert answer.startswith(b"HTTP/1.1 408")
    assert CLIENT_TIMEOUT_S - 0.5 < seconds < CLIENT_TIMEOUT_S + 5
    stalled_headers = b"POST /predict HTTP/1.1\r\nHost: t\r\n"
    answer, seconds = raw_exchange(server, stalled_headers)
    assert answer == b"" and seconds < CLIENT_TIMEOUT_S + 5  # closed without an answer
    idle, seconds = raw_exchange(server, b"")
    assert idle == b"" and seconds < CLIENT_TIMEOUT_S + 10


def test_abuse_never_takes_the_server_down(server):
    png = (ROOT / "digit_examples" / "6_a.png").read_bytes()
    abuse = [
        b"GARBAGE\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
        b"boundary=zz\r\nContent-Length: 20\r\n\r\n--zz\r\nbroken\r\n--",
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data\r\n"
        b"Content-Length: 4\r\n\r\nabcd",
        b"POST /predict HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ]
    for request in abuse:
        answer, _ = raw_exchange(server, request)
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    truncated = httpx.post(
        server + "/predict", content=png[: len(png) // 2], headers={"content-type": "image/png"}
    )
    assert truncated.status_code in (200, 422) and truncated.status_code != 500
    assert httpx.get(server + "/health").status_code == 200
    again = httpx.post(server + "/predict", content=png, headers={"content-type": "image/png"})
    assert again.json()["predictions"][0]["digit"] == 6


class StuckPredictor:
    """Stands in for a Predictor whose every call waits until the test sets ``release``: a
    prediction that is slower than any timeout, on a machine of any speed."""

    low_confidence = 0.6

    def __init__(self, model_path: Path):
        self.model_path, self.release = model_path, threading.Event()
        self.info = ModelInfo(sha256="0" * 64)

    def predict_many(self, images, raise_errors=True):
        self.release.wait(timeout=300)
        return [Prediction(None, 0.0, None, True, reason="slow") for _ in images]


def test_slow_predictions_answer_504_and_queued_ones_503(tmp_path):
    from digits.apps.service import create_app

    (tmp_path / "m.tflite").write_bytes(b"model")
    stuck = StuckPredictor(tmp_path / "m.tflite")
    app = create_app(predictor=stuck, timeout_s=0.3)

    async def two_requests():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"content-type": "image/png"}
            requests = [client.post("/predict", content=b"png", headers=headers) for _ in "ab"]
            return await asyncio.gather(*requests)

    try:
        first, second = asyncio.run(two_requests())
    finally:
        stuck.release.set()
    assert first.status_code == 504 and "took over" in first.json()["detail"]
    assert second.status_code == 503 and "busy" in second.json()["detail"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--max-bytes", "0"],
        ["--port", "x"],
        ["--timeout", "-1"],
        ["--model", "no/such/model.tflite"],
        ["--model", "no/such/model.tflite", "--workers", "2"],
    ],
)
def test_serve_refuses_bad_arguments(arguments, capsys):
    from digits.apps import cli

    assert cli.main(["serve", *arguments]) == 2
    assert "error" in capsys.readouterr().err


def test_read_a_number(server):
    pytest.importorskip("digits.read", reason="the number reader (digits.read) is not here")
    path = ROOT / "digit_examples" / "8_a.png"
    response = httpx.post(server + "/read", files={"files": (path.name, path.read_bytes())})
    assert response.status_code == 200
    reading = response.json()["readings"][0]
    assert reading["path"] == path.name and reading["text"] == "8"
    assert len(reading["digits"]) == 1 and len(reading["digits"][0]["box"]) == 4
    assert reading["low_confidence"] == bool(reading["flags"])
    bad = httpx.post(server + "/read", files={"files": ("x.png", b"not an image")})
    assert bad.status_code == 422 and bad.json()["readings"][0]["error"]
    assert bad.json()["readings"][0]["flags"] == ["unreadable"]
