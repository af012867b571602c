"""The JSON web service behind ``python -m digits serve``: FastAPI over `digits.predict`.

    POST /predict   one or more images -> {"predictions": [CLI --json objects]}, each
                    with ``low_confidence``, ``flags`` and ``flag_reason`` (why);
                    multipart files (field ``files`` or ``file``), or a raw image body
                    (``Content-Type: image/*`` or ``application/octet-stream``);
                    ``?top_k=K`` adds the K most likely digits.
    POST /read      the number in each image -> {"readings": [...]} (`digits.read`; only
                    when that module is installed)
    GET  /health    model file, its SHA-256, package version
    GET  /docs      OpenAPI page (Swagger UI; ``/redoc`` ReDoc), offline: their JS and CSS
                    come from the fastapi-offline wheel, under ``/static-offline-docs``

Limits, so that no client can take the server down:

- a request body over ``max_bytes`` is refused with 413 (`BodyLimit`: a pure ASGI
  middleware that checks Content-Length and counts the streamed chunks, since uvicorn
  and Starlette do not limit uploads);
- a client that stops sending its body for ``body_timeout_s`` gets 408 and is
  disconnected; one that opens a connection and does not finish its request headers
  within ``header_timeout_s`` is disconnected (`serve`'s protocol class);
- predictions run in a small thread pool: a request that waits longer than
  ``timeout_s`` for it gets 503, one whose prediction takes longer gets 504;
- a body that is not an image type gets 415, a malformed request 422, and every
  failure inside one image (whatever the exception) becomes that image's ``error``;
  when no image in the request could be read the answer is 422.

The Predictor is loaded once per process, when the app is created.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import UploadFile

from digits.apps.limits import (
    CLIENT_TIMEOUT_S,
    MAX_BYTES,
    BodyLimit,
    GuardedH11Protocol,
    Refused,
    guarded_protocol,
)
from digits.flags import unreadable_reading
from digits.image import ImageError
from digits.predict import Prediction, Predictor, prediction_record
from digits.runtime.modelfile import file_sha256

__all__ = [
    "BodyLimit",
    "GuardedH11Protocol",
    "create_app",
    "package_version",
    "predict_records",
    "serve",
]

log = logging.getLogger("digits.apps.service")

#: Default seconds a request may wait for and spend in prediction.
TIMEOUT_S = 10.0
#: Most images in one request.
MAX_FILES = 64
#: Field names of multipart image files.
FILE_FIELDS = ("files", "file")


def package_version() -> str:
    """The installed ``digits`` version (``unknown`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("digits")
    except PackageNotFoundError:
        return "unknown"


def _error(status: int, detail: str, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


# --------------------------------------------------------------------------- prediction


def predict_records(
    predictor: Predictor, images: list[tuple[str | None, bytes]], top_k: int | None = None
) -> list[dict]:
    """The CLI's JSON object for each ``(name, bytes)``; never raises for a bad image.

    All images go through one ``predict_many`` call; if that raises anything (a decoder
    bug, say), each image is retried alone and its exception becomes its ``error``.
    """
    datas = [data for _, data in images]
    try:
        predictions = predictor.predict_many(datas, raise_errors=False)
    except Exception:  # noqa: BLE001 - isolate the image that fails, below
        predictions = [_predict_one(predictor, data) for data in datas]
    return [prediction_record(name, p, top_k) for (name, _), p in zip(images, predictions)]


def _predict_one(predictor: Predictor, data: bytes) -> Prediction:
    try:
        return predictor.predict_many([data], raise_errors=False)[0]
    except Exception as error:  # noqa: BLE001 - any failure is this image's error
        log.exception("unexpected failure on one image")
        message = f"The image could not be read ({type(error).__name__}: {error})."
        return Prediction(None, 0.0, None, True, error=message, class_names=predictor.class_names)


class _Runner:
    """Runs ``work(images, top_k)`` in a thread pool with a deadline per request."""

    def __init__(self, work, executor: ThreadPoolExecutor, timeout_s: float):
        self.work = work
        self.executor = executor
        self.timeout_s = float(timeout_s)

    async def __call__(self, images, top_k):
        queued_at = time.monotonic()
        state = {"started": None}

        def job():
            state["started"] = time.monotonic()
            if state["started"] - queued_at > self.timeout_s:
                return None  # the client already had its 503: skip the work
            return self.work(images, top_k)

        future = asyncio.get_running_loop().run_in_executor(self.executor, job)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            if state["started"] is None:
                raise _Busy(503, "The server is busy; try again shortly.") from None
            raise _Busy(504, f"The prediction took over {self.timeout_s:g} s.") from None


class _Busy(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


# --------------------------------------------------------------------------- reading requests


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


async def _answer(request: Request, runner: _Runner, top_k: int | None, key: str) -> JSONResponse:
    """Run ``runner`` on the request's images: ``{key: [one record per image]}``, 422 when
    none could be read, the refusal's status when the request is bad or the server busy."""
    try:
        images = await _read_images(request)
        records = await runner(images, top_k)
    except (_BadRequest, _Busy) as failure:
        return _error(failure.status, failure.detail)
    if all("error" in record for record in records):
        return _error(422, "No image in the request could be read.", **{key: records})
    return JSONResponse({key: records})


async def _read_images(request: Request) -> list[tuple[str | None, bytes]]:
    """``(file name or None, bytes)`` for each image in the request."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _read_multipart(request)
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        data = await request.body()
        if not data:
            raise _BadRequest(422, "The request body is empty; send an image.")
        return [(request.headers.get("x-filename"), data)]
    raise _BadRequest(
        415,
        f"Unsupported Content-Type {content_type or '(none)'!r}: send multipart/form-data "
        "with image files in the field 'files', or a raw image body (image/* or "
        "application/octet-stream).",
    )


async def _read_multipart(request: Request) -> list[tuple[str | None, bytes]]:
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    except Refused:
        raise
    except Exception as error:  # noqa: BLE001 - Starlette raises several kinds
        detail = getattr(error, "detail", None) or str(error) or type(error).__name__
        raise _BadRequest(422, f"Malformed multipart body: {detail}") from None
    try:
        uploads = [
            item
            for name in FILE_FIELDS
            for item in form.getlist(name)
            if isinstance(item, UploadFile)
        ]
        if not uploads:
            raise _BadRequest(
                422, "No image files in the request: send them in the multipart field 'files'."
            )
        return [(upload.filename, await upload.read()) for upload in uploads]
    finally:
        await form.close()


# --------------------------------------------------------------------------- the app

_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                    "required": ["files"],
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _health(predictor: Predictor) -> dict:
    """The ``/health`` answer: the model file, its SHA-256 and the version."""
    model_file = Path(predictor.model_path)
    sha256 = predictor.info.sha256 or file_sha256(model_file)
    health = {
        "status": "ok",
        "model": model_file.name,
        "sha256": sha256,
        "verified": predictor.info.sha256 is not None,
        "version": package_version(),
    }
    return health


def _add_predict_route(app: FastAPI, runner: _Runner) -> None:
    """POST /predict: one digit per uploaded image."""

    @app.post("/predict", openapi_extra=_UPLOAD_SCHEMA)
    async def post_predict(
        request: Request, top_k: int | None = Query(None, ge=1, le=10)
    ) -> JSONResponse:
        """Predict the digit in each image: ``{"predictions": [...]}``, one object per image
        (the same as ``digits predict --json``; ``path`` is the uploaded file name)."""
        return await _answer(request, runner, top_k, "predictions")


def create_app(
    model_path: str | Path | None = None,
    max_bytes: int = MAX_BYTES,
    timeout_s: float = TIMEOUT_S,
    *,
    body_timeout_s: float = CLIENT_TIMEOUT_S,
    threads: int = 1,
    predictor: Predictor | None = None,
    reader_path: str | Path | None = None,
) -> FastAPI:
    """The FastAPI app, with its Predictor loaded (once) and `BodyLimit` installed.

    Args:
        model_path: model file for `Predictor` (default: the package's default model).
        max_bytes: largest request body (413 above it).
        timeout_s: most seconds a request waits for, then spends in, prediction.
        body_timeout_s: most seconds a client may pause while sending its body (408).
        threads: prediction threads (the Predictor is shared by them).
        predictor: an already loaded Predictor to use instead of loading ``model_path``.
        reader_path: the sequence reader ``POST /read`` uses (default: the shipped one;
            models/reader_marks_float32.tflite also reads ``. , - / :``).

    Raises:
        ModelError: the model file is missing, invalid or fails its checksum.
    """
    predictor = predictor if predictor is not None else Predictor(model_path)
    health = _health(predictor)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict")
    runner = _Runner(
        lambda images, top_k: predict_records(predictor, images, top_k), executor, timeout_s
    )
    app = FastAPIOffline(  # /docs and /redoc without a CDN: assets from the installed wheel
        title="digits",
        version=health["version"],
        summary="Handwritten digit recognition: POST images, get digits.",
    )
    app.state.predictor = predictor
    app.add_middleware(BodyLimit, max_bytes=max_bytes, body_timeout_s=body_timeout_s)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        return _error(422, "Invalid request.", errors=error.errors())

    @app.get("/health")
    async def get_health() -> dict:
        """The model file, its SHA-256 (from its sidecar when it has one) and the version."""
        return health

    _add_predict_route(app, runner)

    # ---- POST /read: numbers (several digits) -- wired when digits.read exists.
    _add_read_route(app, predictor, runner, reader_path)
    return app


def _add_read_route(app: FastAPI, predictor: Predictor, runner: _Runner, reader_path=None) -> None:
    """``POST /read``: the number in each image (`digits.read.read_number`), added only
    when that module is installed. Same uploads and limits as ``/predict``; answers
    ``{"readings": [{"path", "text", "digits": [{digit, label, confidence, box}], ...}]}``."""
    try:
        from digits.read import read_number
    except ImportError:
        return
    if reader_path is not None:
        from functools import partial

        from digits.runtime.sequence import SequenceReader

        read_number = partial(read_number, reader=SequenceReader(reader_path))

    def read_all(images: list[tuple[str | None, bytes]], top_k: int | None) -> list[dict]:
        return [_read_one(read_number, predictor, name, data) for name, data in images]

    read_runner = _Runner(read_all, runner.executor, runner.timeout_s)  # one pool, one model

    @app.post("/read", openapi_extra=_UPLOAD_SCHEMA)
    async def post_read(request: Request) -> JSONResponse:
        """Read the handwritten number in each image: ``{"readings": [...]}``."""
        return await _answer(request, read_runner, None, "readings")


def _read_one(read_number, predictor: Predictor, name: str | None, data: bytes) -> dict:
    try:
        return {"path": name, **read_number(data, predictor).to_dict()}
    except Exception as error:  # noqa: BLE001 - any failure is this image's error
        if not isinstance(error, ImageError):
            log.exception("unexpected failure reading a number")
        return unreadable_reading(name, str(error))


# --------------------------------------------------------------------------- serving


def _app_from_env() -> FastAPI:
    """App factory for uvicorn workers (``--workers N``): settings from the environment.
    Each worker keeps OpenCV to one thread: the workers, one per core, already fill the
    cores, and OpenCV's own threads would only contend with them."""
    import cv2

    cv2.setNumThreads(1)
    return create_app(
        os.environ.get("DIGITS_MODEL") or None,
        max_bytes=int(os.environ.get("DIGITS_MAX_BYTES", MAX_BYTES)),
        timeout_s=float(os.environ.get("DIGITS_TIMEOUT_S", TIMEOUT_S)),
        threads=int(os.environ.get("DIGITS_THREADS", 1)),
        body_timeout_s=_client_timeout_from_env(),
    )


def _client_timeout_from_env() -> float:
    seconds = float(os.environ.get("DIGITS_CLIENT_TIMEOUT_S", CLIENT_TIMEOUT_S))
    guarded_protocol(seconds)  # this worker process's connections
    return seconds


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    model_path: str | Path | None = None,
    max_bytes: int = MAX_BYTES,
    timeout_s: float = TIMEOUT_S,
    workers: int = 1,
    threads: int = 1,
    predictor: Predictor | None = None,
    client_timeout_s: float = CLIENT_TIMEOUT_S,
) -> int:
    """Run the service with uvicorn until interrupted; returns the exit status. Several
    ``workers`` are processes with a Predictor each and a socket each (`workers`), so
    that connections spread over them; ``predictor``, already loaded, serves a single
    worker. ``client_timeout_s`` bounds both the wait for request headers and any pause
    in a request body."""
    import uvicorn

    options = dict(
        host=host,
        port=port,
        http=guarded_protocol(client_timeout_s),
        timeout_keep_alive=5,
        limit_concurrency=256,
        log_level="info",
    )
    if workers > 1:
        from digits.apps.workers import run_workers

        environ = dict(
            DIGITS_MODEL=str(model_path or ""),
            DIGITS_MAX_BYTES=str(max_bytes),
            DIGITS_TIMEOUT_S=str(timeout_s),
            DIGITS_THREADS=str(threads),
            DIGITS_CLIENT_TIMEOUT_S=str(client_timeout_s),
        )
        return run_workers(workers, "digits.apps.service:_app_from_env", options, environ)
    app = create_app(
        model_path,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
        threads=threads,
        predictor=predictor,
        body_timeout_s=client_timeout_s,
    )
    uvicorn.run(app, **options)
    return 0
