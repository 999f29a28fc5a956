"""The fault table: every server-side fault the suites inflict, in one place.

A ``Fault`` is what a ``FaultServer`` does on the connections it takes (one request
each) and the exact ``sdk_core`` exception a transport must raise for it, with the
timeout that makes a timeout fault fire. The transport conformance suite runs each of
them on every transport; the client suites (the failure catalogue, the error messages)
take the same entries by name, so one fault is written once and means the same thing
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdk_core import (
    APIConnectionError,
    DeadlineExceeded,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Timeout,
)

from ._fault_steps import (
    Step,
    close,
    read_request,
    reset,
    respond,
    respond_chunked,
    send,
    stall,
)

__all__ = ["FAULTS", "Fault", "huge_head"]

#: For the parts of a fault that should never time out (a hang fails, not blocks).
DEFAULT_TIMEOUT = Timeout(5.0)
#: How long a stalling server waits: far past every short timeout below, and cut short
#: when the server stops.
STALL = 1.0
NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n"
#: A head that promises ten bytes, and the first three of them.
SHORT_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
#: A gzip magic number and then garbage.
CORRUPT_GZIP = b"\x1f\x8b\x08\x00garbage-not-gzip"


def huge_head(kib: int) -> bytes:
    """A response head of about ``kib`` KiB of headers."""
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(kib))
    return b"HTTP/1.1 200 OK\r\n" + pad + b"Content-Length: 0\r\n\r\n"


@dataclass(frozen=True)
class Fault:
    """One fault: a script for each connection it takes (one request per connection),
    the exact exception class every transport raises, whether that exception says the
    request was sent (None: not checked), and the timeout to send the request with."""

    scripts: tuple[tuple[Step, ...], ...]
    expected: type[APIConnectionError]
    request_sent: bool | None = True
    timeout: Timeout = DEFAULT_TIMEOUT

    @property
    def script(self) -> tuple[Step, ...]:
        """The script of the first connection (most faults take one)."""
        return self.scripts[0]


FAULTS: dict[str, Fault] = {
    "closed_before_response": Fault(((read_request(), close()),), RemoteProtocolError),
    "eof_in_content_length_body": Fault(
        ((read_request(), send(SHORT_BODY), close()),), RemoteProtocolError
    ),
    "eof_in_chunked_body": Fault(
        (
            (
                read_request(),
                respond_chunked([b"abcde"], terminate=False),
                send(b"5\r\nab"),  # EOF inside the second chunk
                close(),
            ),
        ),
        RemoteProtocolError,
    ),
    "reset_mid_body": Fault(
        (
            (
                read_request(),
                send(SHORT_BODY),
                stall(0.05),  # the client is now waiting for the rest of the body
                reset(),
            ),
        ),
        ReadError,
    ),
    "read_timeout_mid_body": Fault(
        (
            (
                read_request(),
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10),
                stall(STALL),
            ),
        ),
        ReadTimeout,
        timeout=Timeout(5.0, read=0.2),
    ),
    # 80 KiB can arrive whole; 200 KiB is past any reasonable incomplete-head bound.
    "header_block_over_64k": Fault(
        ((read_request(), send(huge_head(80)), close()), (read_request(), send(huge_head(200)))),
        RemoteProtocolError,
    ),
    "not_http": Fault(((read_request(), send(NOT_HTTP), close()),), RemoteProtocolError),
    "corrupt_gzip": Fault(
        (
            (
                read_request(),
                respond(body=CORRUPT_GZIP, headers=[("Content-Encoding", "gzip")]),
            ),
        ),
        RemoteProtocolError,
    ),
    # One byte every 0.05 s never trips the 0.5 s read timeout: only the call's 0.3 s
    # deadline ends it (the whole body would take 1.5 s). A client-level fault: a
    # transport alone is not given the total.
    "trickle_past_deadline": Fault(
        (
            (
                read_request(),
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"),
                *[step for _ in range(30) for step in (stall(0.05), send(b"x"))],
            ),
        ),
        DeadlineExceeded,
        request_sent=None,
        timeout=Timeout(5.0, read=0.5, total=0.3),
    ),
}
