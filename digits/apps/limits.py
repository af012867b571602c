"""Limits that keep one client from taking the service down: body size, slow clients.

- `BodyLimit`: a pure ASGI middleware that refuses a request body over ``max_bytes`` with
  413 (it checks Content-Length and counts the streamed chunks, since uvicorn and
  Starlette do not limit uploads) and a client that pauses its body for ``body_timeout_s``
  with 408. Before refusing, it reads and discards what is left of the body (a lingering
  close, as nginx does), so that clients that send the whole body before they read still
  get the answer.
- `GuardedH11Protocol`: uvicorn's HTTP/1.1 protocol with a deadline for request headers
  (slowloris).
"""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BodyLimit", "GuardedH11Protocol", "Refused", "MAX_BYTES", "CLIENT_TIMEOUT_S"]

#: Default largest request body, in bytes.
MAX_BYTES = 10_000_000
#: Default seconds a client may pause while sending its body, or take to send its headers.
CLIENT_TIMEOUT_S = 10.0
#: After refusing a body, read and discard up to this many more bytes, for up to this many
#: seconds, before answering (a lingering close, as nginx does): clients that send the
#: whole body before they read (Python's urllib and http.client) then get the 413 instead
#: of a broken pipe.
LINGER_BYTES = 64_000_000
LINGER_S = 5.0


class BodyLimit:
    """Pure ASGI middleware: refuse request bodies over ``max_bytes`` with 413, and cut
    off a client whose body stalls for ``body_timeout_s`` with 408.

    A declared Content-Length over the limit is refused before the app runs; otherwise
    the chunks are counted as the app reads them. Before a 413 the rest of the body is
    read and thrown away (`LINGER_BYTES`, `LINGER_S`), unless the client asked
    ``Expect: 100-continue`` and so waits for the answer; then the connection is closed.
    """

    def __init__(self, app, max_bytes: int = MAX_BYTES, body_timeout_s: float = CLIENT_TIMEOUT_S):
        self.app = app
        self.max_bytes = int(max_bytes)
        self.body_timeout_s = float(body_timeout_s)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await _linger(receive)
            await self._refuse(send, 413, self._too_large())
            return
        state = {"received": 0, "refused": None, "started": False}

        async def limited_receive():
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout_s)
            except TimeoutError:
                state["refused"] = (408, "The request body stalled; the connection is closed.")
                raise Refused from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["refused"] = (413, self._too_large())
                    raise Refused
            return message

        async def guarded_send(message):
            if state["refused"] is not None:
                return  # the app's own answer to the failed read is replaced by ours
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Refused:
            pass
        if state["refused"] is not None and not state["started"]:
            if state["refused"][0] == 413:
                await _linger(receive)
            await self._refuse(send, *state["refused"])

    def _too_large(self) -> str:
        return f"The request body is over the limit of {self.max_bytes:,} bytes."

    @staticmethod
    async def _refuse(send, status: int, detail: str) -> None:
        response = JSONResponse({"detail": detail}, status_code=status)
        response.headers["connection"] = "close"
        await response({"type": "http"}, None, send)


async def _linger(receive) -> None:
    """Read and discard what is left of a request body, within `LINGER_BYTES` and
    `LINGER_S`, so that the client has finished sending when the refusal comes."""
    loop = asyncio.get_running_loop()
    deadline, drained = loop.time() + LINGER_S, 0
    while drained <= LINGER_BYTES and (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        drained += len(message.get("body", b""))


class HeaderDeadline:
    """A deadline for request headers, mixed into uvicorn's HTTP/1.1 protocols: a
    connection that has not sent a complete request ``header_timeout_s`` after it opened
    (or after its previous response) is closed. uvicorn alone waits forever (slowloris)."""

    header_timeout_s: float = CLIENT_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _waiting_for_request(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._waiting_for_request() and not self.transport.is_closing():
            self.transport.close()


class GuardedH11Protocol(HeaderDeadline, H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol (h11) with the `HeaderDeadline`."""


try:  # uvicorn's fast protocol, on the C parser of the httptools wheel
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HeaderDeadline, HttpToolsProtocol):
        """uvicorn's httptools HTTP/1.1 protocol with the `HeaderDeadline`."""

except ImportError:  # httptools is not installed
    GuardedHttpToolsProtocol = None  # type: ignore[assignment,misc]


def guarded_protocol(header_timeout_s: float) -> type:
    """The HTTP protocol class for uvicorn: httptools when installed (a C parser, less
    CPU per request), else h11; both close a connection whose headers do not come within
    ``header_timeout_s``."""
    HeaderDeadline.header_timeout_s = header_timeout_s  # this process's connections
    return GuardedHttpToolsProtocol or GuardedH11Protocol


class Refused(Exception):
    """Raised inside the app's body read when `BodyLimit` refuses the request."""
