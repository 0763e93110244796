"""A scripted HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose: it answers what a test's
script says, down to the byte and the second, including bodies that never end and bodies that
drip. Every request is recorded, and every byte the server managed to send is counted.

It stops when the ``with`` block ends (also when the test fails), and every endless behaviour is
still bounded in bytes and seconds so that nothing outlives a forgotten client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_PATH = "/ims/token/v3"
JOBS_PATH = "/data/core/ups/export/jobs"
CLIENT_ID = "hostile-client-id"
# Characters that change under URL and JSON encoding, so that an escaped echo is caught too.
CLIENT_SECRET = 's3cr+t/with=odd&chars"\\-7f2a'
ORG_ID = "H0STILE000000000000000A@AdobeOrg"
# Upper bounds for the endless behaviours: far past any cap the provider should enforce.
ENDLESS_BYTES = 256 * 1024 * 1024
ENDLESS_SECONDS = 60.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    """``body`` is sent with a Content-Length; ``chunks``, when given, as a chunked stream instead.
    ``content_length`` overrides the declared length (a lie, for the size cap)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Callable[[], AsyncIterator[bytes]] | None = None
    content_length: int | None = None


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def job_record(job_id: str, status: str = "PROCESSING", **fields: Any) -> dict[str, Any]:
    return {"id": job_id, "status": status, "destination": {"datasetId": "ds-1"}, **fields}


async def endless(chunk: bytes = b" " * 65536) -> AsyncIterator[bytes]:
    sent = 0
    while sent < ENDLESS_BYTES:
        yield chunk
        sent += len(chunk)


def drip(byte: bytes = b" ", every: float = 1.0) -> Callable[[], AsyncIterator[bytes]]:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(int(ENDLESS_SECONDS / every)):
            yield byte
            await asyncio.sleep(every)

    return chunks


# None: behave as IMS does (only meaningful for token requests).
Script = Callable[[Request], Answer | None]


class HostileServer:
    """``with HostileServer(script) as server:`` serves ``script``'s answers on ``server.url``.

    Where the script returns None, the server hands out a fresh valid token, as IMS would;
    ``issued_tokens`` lists every one.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.issued_tokens: list[str] = []
        self.bytes_sent = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method) and (path is None or request.path.startswith(path))
        )

    @property
    def token_requests(self) -> int:
        return self.count("POST", TOKEN_PATH)

    @property
    def platform_requests(self) -> int:
        return len(self.requests) - self.token_requests

    def connection_env_value(self, **extra: Any) -> str:
        return json.dumps(
            {
                "conn_type": "adobe_experience_platform",
                "host": self.url,
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {"org_id": ORG_ID, "ims_url": f"{self.url}{TOKEN_PATH}", **extra},
            }
        )

    def issue_token(self) -> Answer:
        token = f"hostile-token-{len(self.issued_tokens) + 1}-{threading.get_ident() % 9973}"
        self.issued_tokens.append(token)
        return json_answer({"access_token": token, "token_type": "bearer", "expires_in": 86399})

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while request := await self._read(reader):
                self.requests.append(request)
                answer = self.script(request)
                if answer is None:
                    answer = self.issue_token()
                await self._write(answer, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line.strip():
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return Request(method, parts.path, query, headers, body)

    async def _write(self, answer: Answer, writer: asyncio.StreamWriter) -> None:
        headers = dict(answer.headers)
        if answer.chunks is None:
            headers.setdefault("Content-Length", str(len(answer.body)))
        elif answer.content_length is None:
            headers["Transfer-Encoding"] = "chunked"
        if answer.content_length is not None:
            headers["Content-Length"] = str(answer.content_length)
        head = f"HTTP/1.1 {answer.status} Scripted\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        await self._send(writer, (head + "\r\n").encode("latin-1") + answer.body)
        if answer.chunks is not None:
            chunked = answer.content_length is None
            async for chunk in answer.chunks():
                await self._send(writer, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            if chunked:
                await self._send(writer, b"0\r\n\r\n")

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.bytes_sent += len(data)
