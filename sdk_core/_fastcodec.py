"""``FastClientCodec``: ``ClientCodec``'s interface and answers, without h11 in the plain case.

Requests are encoded directly (the headers were validated by ``Headers``; the framing
checks h11 makes are repeated here). A response head is validated by llhttp and read by
``_fasthead.parse_head``; the body's framing (Content-Length, chunked, until EOF) is
sliced out of one buffer by the small state machine here.

Whatever is not the plain case is handed to h11 with the bytes received so far, so
the answer is ``ClientCodec``'s: a request to HEAD or CONNECT or one proposing an Upgrade
(the whole cycle), a 1xx, a head llhttp refuses, one with unusual framing headers or a
version other than HTTP/1.0 and 1.1 (the response; ``ClientCodec`` refuses any but 1.x),
a trailer section (the rest of the body). RFC 9112 differences from h11, on purpose:
whitespace before a chunk extension's ``;`` is accepted (RFC 9110 5.6.3 BWS). The factory
``new_codec`` picks this codec when httptools is installed and ``ClientCodec`` otherwise.
"""

from __future__ import annotations

import re
from typing import Final

import h11

from ._errors import InvalidRequestError, LocalProtocolError, RemoteProtocolError
from ._fasthead import CHUNKED, HAS_HTTPTOOLS, head_size, parse_head
from ._http11 import (
    _BROKEN_BEFORE_REQUEST,
    MAX_HEADER_BYTES,
    NEED_DATA,
    BodyChunk,
    ClientCodec,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
)
from ._models import Request
from ._request_head import RequestRefused, encode_request_head

__all__ = ["HAS_HTTPTOOLS", "FastClientCodec", "new_codec"]

# h11's blank line (a head may end in LF LF) and a chunk-size line (h11's, plus BWS
# before ";").
_BLANK_LINE: Final = re.compile(rb"\n\r?\n")
_CHUNK_LINE: Final = re.compile(rb"([0-9A-Fa-f]{1,20})(?:[ \t]*;[^\n]*)?[ \t]*\r\n")

# Receive states.
_R_IDLE: Final = 0  # no request yet: a response now breaks the protocol
_R_HEAD: Final = 1
_R_LENGTH: Final = 2  # self._left bytes of body to come
_R_CHUNK_LINE: Final = 3
_R_CHUNK_DATA: Final = 4  # self._left bytes of this chunk to come
_R_CHUNK_END: Final = 5  # the CRLF after a chunk; self._left of its 2 bytes to come
_R_LAST_CHUNK: Final = 6  # after "0\r\n": the blank line or a trailer section
_R_UNTIL_EOF: Final = 7
_R_END: Final = 8  # the body is complete: ResponseEnd is next
_R_DONE: Final = 9  # ResponseEnd was returned
_R_ERROR: Final = 10
_R_DELEGATED: Final = 11  # h11 reads the rest of this response

# Send states.
_S_IDLE: Final = 0
_S_LENGTH: Final = 1  # self._send_left bytes of body still due
_S_CHUNKED: Final = 2
_S_DONE: Final = 3
_S_ERROR: Final = 4
_S_DELEGATED: Final = 5  # the whole cycle belongs to self._delegate

_END_REUSABLE: Final = ResponseEnd(reusable=True)
_END_FINAL: Final = ResponseEnd(reusable=False)
_CRLF: Final = b"\r\n"

# A request that puts an h11 connection where ours is, to read a response it hands over.
_PRIMER: Final = Request("GET", "http://delegated.invalid/")
_PRIMER_CLOSE: Final = Request("GET", "http://delegated.invalid/", headers={"Connection": "close"})


def new_codec(*, fast: bool | None = None, max_header_bytes: int = MAX_HEADER_BYTES) -> ClientCodec:
    """A codec for one connection: ``FastClientCodec`` when httptools is installed
    (or ``fast=True``), ``ClientCodec`` otherwise (or ``fast=False``)."""
    if fast is None:
        fast = HAS_HTTPTOOLS
    if fast:
        return FastClientCodec(max_header_bytes=max_header_bytes)
    return ClientCodec(max_header_bytes=max_header_bytes)


class FastClientCodec(ClientCodec):
    """``ClientCodec``'s drop-in replacement: the same methods, events, errors and
    ``reusable`` answers (see ``ClientCodec``), with llhttp validating response heads.

    It subclasses ``ClientCodec`` only to be accepted wherever one is (``ResponseReader``);
    it shares none of its state. Raises ``RuntimeError`` when httptools is missing, and
    from ``start_next_cycle`` when the exchange did not end kept alive (where h11 raises
    its ``LocalProtocolError``).
    """

    __slots__ = (
        "_buf",
        "_delegate",
        "_delegate_owns_cycle",
        "_head_raw",
        "_keep_alive",
        "_left",
        "_pos",
        "_recv",
        "_scan",
        "_send",
        "_send_left",
        "_skip_head",
    )

    def __init__(self, *, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        if not HAS_HTTPTOOLS:
            raise RuntimeError("FastClientCodec needs httptools: pip install 'sdk-core[fast]'.")
        # ClientCodec.__init__ is not called: no h11 connection unless a cycle needs one.
        self._max_header_bytes = max_header_bytes
        self._doubtful = False
        self._eof = False
        self._method = b"GET"
        self._buf: bytes | bytearray = b""  # received and not yet consumed from _pos on
        self._pos = 0
        self._scan = 0  # where the search for the blank line ending a head resumes
        self._recv = _R_IDLE
        self._send = _S_IDLE
        self._left = 0
        self._send_left = 0
        self._keep_alive = True  # neither side asked to close after this exchange
        self._head_raw = b""
        self._delegate: ClientCodec | None = None
        self._delegate_owns_cycle = False
        self._skip_head = False

    @property
    def reusable(self) -> bool:
        """True while nothing has left this connection's state in doubt."""
        delegate = self._delegate
        return not self._doubtful and (delegate is None or delegate.reusable)

    # -- sending -------------------------------------------------------------------

    def encode_request(self, request: Request, *, body: bytes | None = None) -> bytes:
        """The request head, followed by ``body`` when given (bytes content)."""
        if self._send == _S_DELEGATED:
            assert self._delegate is not None
            return self._delegate.encode_request(request, body=body)
        if self._recv == _R_ERROR and self._send == _S_IDLE:
            self._doubtful = True
            raise RemoteProtocolError(_BROKEN_BEFORE_REQUEST, request_sent=False)
        if request.method in ("HEAD", "CONNECT") or "upgrade" in request.headers._lower:
            return self._delegate_cycle(request, body)
        context = "The request cannot be sent"
        self._method = request.method.encode("ascii")
        try:
            head = encode_request_head(request, streamed=body is None)
        except RequestRefused as exc:
            raise self._refuse(context, str(exc)) from None
        if self._send != _S_IDLE:  # h11 validates the request first, then its state
            raise self._refuse(context, "a request is in progress", broken=True)
        # The head is accepted: from here on a response may arrive.
        self._keep_alive = head.keep_alive
        self._send = _S_CHUNKED if head.chunked else _S_LENGTH
        self._send_left = head.length
        self._recv = _R_HEAD  # it was idle: an error before any request is refused above
        out = head.data
        if body is not None:
            if body:
                out += self._send_data(body, context)
            out += self._send_end(context)
        return out

    def encode_chunk(self, data: bytes | bytearray | memoryview) -> bytes:
        """One piece of a streamed body. Raises ``WriteError`` for a piece that is not
        bytes, a bytearray or a memoryview (``body_item_bytes``); the connection is then
        not reusable."""
        if type(data) is not bytes:
            data = self._piece_bytes(data)
        if not data:
            return b""
        if self._send == _S_DELEGATED:
            assert self._delegate is not None
            return self._delegate.encode_chunk(data)
        return self._send_data(data, "The request body cannot be sent")

    def encode_end(self) -> bytes:
        """The end of a streamed body."""
        if self._send == _S_DELEGATED:
            assert self._delegate is not None
            return self._delegate.encode_end()
        return self._send_end("The request body cannot be ended")

    def _send_data(self, data: bytes, context: str) -> bytes:
        if self._send == _S_CHUNKED:
            return b"%x\r\n%s\r\n" % (len(data), data)
        if self._send == _S_LENGTH:
            self._send_left -= len(data)
            if self._send_left < 0:
                raise self._refuse(
                    context, "Too much data for declared Content-Length", broken=True
                )
            return data
        raise self._refuse(context, "no request body is being sent", True)

    def _send_end(self, context: str) -> bytes:
        if self._send == _S_CHUNKED:
            self._send = _S_DONE
            return b"0\r\n\r\n"
        if self._send == _S_LENGTH:
            if self._send_left:
                raise self._refuse(
                    context, "Too little data for declared Content-Length", broken=True
                )
            self._send = _S_DONE
            return b""
        raise self._refuse(context, "no request body is being sent", True)

    def _refuse(self, context: str, reason: str, broken: bool = False) -> InvalidRequestError:
        """The error for a request h11 would refuse; ``broken``: h11's send side is then in
        ERROR (as after an event sent in the wrong state or a body that breaks its
        framing); otherwise, as when h11 rejects the request itself, it is unchanged."""
        self._doubtful = True
        if broken:
            self._send = _S_ERROR
        return InvalidRequestError(f"{context}: {reason}.")

    def _delegate_cycle(self, request: Request, body: bytes | None) -> bytes:
        """HEAD, CONNECT and Upgrade change how the response is framed: h11 does it all."""
        if self._send != _S_IDLE:
            raise self._refuse(
                "The request cannot be sent", "a request is in progress", broken=True
            )
        delegate = ClientCodec(max_header_bytes=self._max_header_bytes)
        self._delegate = delegate
        self._delegate_owns_cycle = True
        self._send = _S_DELEGATED
        self._recv = _R_DELEGATED
        self._method = request.method.encode("ascii")
        self._hand_over(b"")
        return delegate.encode_request(request, body=body)

    # -- receiving -------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; b"" means the peer closed it (EOF)."""
        if self._recv == _R_DELEGATED:
            assert self._delegate is not None
            self._eof = self._eof or not data
            try:
                self._delegate.feed(data)
            except (RemoteProtocolError, LocalProtocolError):
                self._doubtful = True
                raise
            return
        if not data:
            self._eof = True
            return
        if self._eof:  # a driver bug, not the peer's
            self._doubtful = True
            raise LocalProtocolError("Data fed after EOF: received close, then received more data?")
        if self._recv == _R_ERROR:
            return  # nothing more will be read from this connection
        buf, pos = self._buf, self._pos
        if pos >= len(buf):  # the usual case: everything before was read
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = self._scan = 0
            return
        # Keep only what is unread (a partial head or chunk-size line), then append.
        if isinstance(buf, bytes):
            buf = self._buf = bytearray(memoryview(buf)[pos:])
        elif pos:
            del buf[:pos]
        buf += data
        self._pos = 0
        self._scan = max(self._scan - pos, 0)

    def next_event(self) -> ResponseEvent:
        """The next response event, or ``NEED_DATA``."""
        state = self._recv
        if state in (_R_HEAD, _R_IDLE):
            return self._read_head()
        if state == _R_LENGTH:
            return self._read_length()
        if state == _R_END:
            return self._end()
        if _R_CHUNK_LINE <= state <= _R_LAST_CHUNK:
            return self._read_chunked()
        if state == _R_UNTIL_EOF:
            return self._read_until_eof()
        if state == _R_DONE:
            return self._after_end()
        if state == _R_DELEGATED:
            return self._from_delegate()
        raise RemoteProtocolError(
            "The server sent an invalid HTTP response earlier on this connection.",
            request_sent=True,
        )

    def _fail(self, message: str) -> RemoteProtocolError:
        self._recv = _R_ERROR
        self._doubtful = True
        self._buf = b""
        self._pos = 0
        return RemoteProtocolError(message, request_sent=True)

    def _read_head(self) -> ResponseEvent:
        buf, pos = self._buf, self._pos
        if pos == len(buf):
            if self._eof:
                raise self._fail(
                    "The server closed the connection without sending a complete response head."
                )
            return NEED_DATA
        if buf[pos] < 0x21:  # h11: a status line never starts with a control or a space
            raise self._fail("The server sent an invalid HTTP response: no status line.")
        scan = max(self._scan, pos)
        # The usual end, CRLF CRLF, by a plain search (from one byte earlier: the scan
        # resumes 2 bytes before the end of what was searched). h11 also ends a head at
        # a bare LF and a blank line: when one comes first, the block up to CRLF CRLF
        # holds a bare LF, which llhttp refuses, and h11 reads the response.
        end = buf.find(b"\r\n\r\n", max(scan - 1, pos))
        if end >= 0:
            end += 4
        else:
            match = _BLANK_LINE.search(buf, scan)
            end = -1 if match is None else match.end()
        if end < 0:
            self._scan = max(len(buf) - 2, pos)
            if len(buf) - pos > self._max_header_bytes:
                raise self._fail(
                    "The server sent an invalid HTTP response: Receive buffer too long "
                    f"(a header block over {self._max_header_bytes} bytes)."
                )
            if self._eof:
                raise self._fail(
                    "The server closed the connection without sending a complete response head."
                )
            return NEED_DATA
        if self._recv == _R_IDLE:
            raise self._fail("The server sent a response before any request was sent.")
        block = buf[pos:end]
        parsed = parse_head(block)
        if parsed is None:  # not the plain case: h11 reads this response
            return self._delegate_response(b"", skip_head=False)
        head, length, keep_alive = parsed
        # ClientCodec._check_size counts 4 bytes a field for the colon and CRLF (3 in the
        # block) and at most 1 more than the block for the status line; a field takes at
        # least 4 bytes of the block: only a block near the bound needs the exact count.
        limit = self._max_header_bytes
        if len(block) + len(block) // 4 + 1 > limit and head_size(block, head) > limit:
            raise self._fail(f"The response header block is larger than {limit} bytes.")
        if not keep_alive:
            self._keep_alive = False
        if length > 0:
            self._left = length
            self._recv = _R_LENGTH
        elif length == 0:
            self._recv = _R_END
        elif length == CHUNKED:
            self._recv = _R_CHUNK_LINE
            self._head_raw = bytes(block)
        else:
            self._recv = _R_UNTIL_EOF
        self._pos = self._scan = end
        return head

    def _take(self, most: int) -> bytes:
        """Up to ``most`` buffered bytes (there is at least one)."""
        buf, pos = self._buf, self._pos
        end = pos + most
        if end >= len(buf):
            self._pos = len(buf)
            if pos == 0 and type(buf) is bytes:
                return buf
            return bytes(buf[pos:])
        self._pos = end
        return bytes(buf[pos:end])

    def _read_length(self) -> ResponseEvent:
        if self._pos == len(self._buf):
            if self._eof:
                raise self._fail(
                    "The server closed the connection before the end of the response body "
                    f"({self._left} bytes missing)."
                )
            return NEED_DATA
        data = self._take(self._left)
        self._left -= len(data)
        if not self._left:
            self._recv = _R_END
        return BodyChunk(data)

    def _read_until_eof(self) -> ResponseEvent:
        if self._pos < len(self._buf):
            return BodyChunk(self._take(len(self._buf)))
        if self._eof:
            return self._end()
        return NEED_DATA

    def _read_chunked(self) -> ResponseEvent:
        while True:
            buf, pos, state = self._buf, self._pos, self._recv
            if state == _R_CHUNK_DATA:
                if pos == len(buf):
                    break
                data = self._take(self._left)
                self._left -= len(data)
                if not self._left:
                    self._recv = _R_CHUNK_END
                    self._left = 2
                return BodyChunk(data)
            if state == _R_CHUNK_LINE:
                end = buf.find(_CRLF, max(self._scan, pos))
                if end < 0:
                    self._scan = max(len(buf) - 1, pos)
                    if len(buf) - pos > self._max_header_bytes:
                        raise self._fail(
                            "The server sent an invalid HTTP response: Receive buffer too long "
                            "(a chunk-size line without an end)."
                        )
                    break
                line = _CHUNK_LINE.fullmatch(buf, pos, end + 2)
                if line is None:
                    raise self._fail(
                        "The server sent an invalid HTTP response: illegal chunk header "
                        f"{bytes(buf[pos : end + 2])!r}."
                    )
                self._left = int(line.group(1), 16)
                self._pos = self._scan = end + 2
                self._recv = _R_CHUNK_DATA if self._left else _R_LAST_CHUNK
            elif state == _R_CHUNK_END:
                due = _CRLF[2 - self._left :]
                got = buf[pos : pos + len(due)]
                if not got:
                    break
                if not due.startswith(got):
                    raise self._fail(
                        "The server sent an invalid HTTP response: malformed chunk footer "
                        f"{bytes(got)!r}."
                    )
                self._pos += len(got)
                self._left -= len(got)
                if self._left:
                    break
                self._recv = _R_CHUNK_LINE
                self._scan = self._pos
            else:  # _R_LAST_CHUNK: a blank line ends the body (h11 takes LF alone too)
                if buf[pos : pos + 2] == _CRLF or buf[pos : pos + 1] == b"\n":
                    self._pos = pos + (2 if buf[pos] == 0x0D else 1)
                    return self._end()
                if len(buf) - pos < 2 and buf[pos:] in (b"", b"\r"):
                    break
                # A trailer section: h11 validates it (nobody here reads trailers).
                return self._delegate_response(self._head_raw + b"0\r\n", skip_head=True)
        if self._eof:
            raise self._fail(
                "The server closed the connection before the end of the chunked response body."
            )
        return NEED_DATA

    def _end(self) -> ResponseEnd:
        self._recv = _R_DONE
        if (
            self._keep_alive
            and self._send == _S_DONE
            and not self._doubtful
            and not self._eof
            and self._pos == len(self._buf)  # RFC 9112 6.3: extra bytes are no response
        ):
            return _END_REUSABLE
        return _END_FINAL

    def _after_end(self) -> ResponseEvent:
        """What h11 says after the end of a response, until the next cycle starts."""
        if self._pos < len(self._buf):
            if self._keep_alive:
                return NEED_DATA  # h11 pauses: the bytes wait for start_next_cycle
            raise self._fail("The server sent data after a response that ends the connection.")
        if self._eof:
            raise self._fail("The server closed the connection without sending a response.")
        return NEED_DATA

    # -- handing over to h11 ---------------------------------------------------------

    def _hand_over(self, prefix: bytes) -> None:
        """Give the delegate ``prefix``, then every unread byte and the EOF, if seen."""
        delegate = self._delegate
        assert delegate is not None
        data = prefix + bytes(self._buf[self._pos :])
        self._buf = b""
        self._pos = self._scan = 0
        if data:
            delegate.feed(data)
        if self._eof:
            delegate.feed(b"")

    def _delegate_response(self, prefix: bytes, *, skip_head: bool) -> ResponseEvent:
        """Let h11 read this response from where it starts (``prefix`` replays the part
        already read, as h11 would have seen it)."""
        delegate = ClientCodec(max_header_bytes=self._max_header_bytes)
        delegate.encode_request(_PRIMER if self._keep_alive else _PRIMER_CLOSE, body=b"")
        self._delegate = delegate
        self._delegate_owns_cycle = False
        self._skip_head = skip_head
        self._recv = _R_DELEGATED
        self._hand_over(prefix)
        return self._from_delegate()

    def _from_delegate(self) -> ResponseEvent:
        delegate = self._delegate
        assert delegate is not None
        try:
            event = delegate.next_event()
            if self._skip_head and type(event) is ResponseHead:
                self._skip_head = False  # already returned by the fast path
                event = delegate.next_event()
        except RemoteProtocolError:
            self._doubtful = True
            raise
        if (
            type(event) is ResponseEnd
            and not self._delegate_owns_cycle
            and not (event.reusable and self._send == _S_DONE and not self._doubtful)
        ):
            # The delegate sent a stand-in request: whether ours was sent whole is ours.
            return _END_FINAL
        return event

    # -- the next exchange -----------------------------------------------------------

    def start_next_cycle(self) -> None:
        """Make the connection ready for another request (only after a reusable end)."""
        delegate = self._delegate
        if delegate is not None:
            if self._send not in (_S_DONE, _S_DELEGATED):
                raise RuntimeError("start_next_cycle: the request was not sent whole.")
            try:
                delegate.start_next_cycle()
            except h11.LocalProtocolError as exc:
                raise RuntimeError(f"start_next_cycle: {exc}") from None
            self._doubtful = self._doubtful or not delegate.reusable
            self._buf, self._eof = delegate._conn.trailing_data
            self._pos = self._scan = 0
            self._delegate = None
        elif not (self._recv == _R_DONE and self._send == _S_DONE and self._keep_alive):
            raise RuntimeError("start_next_cycle: the exchange did not end kept alive.")
        self._scan = self._pos
        self._recv = _R_IDLE
        self._send = _S_IDLE
        self._keep_alive = True
        self._head_raw = b""
