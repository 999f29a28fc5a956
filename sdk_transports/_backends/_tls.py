# unasync: sdk_transports/_backends/_sync_tls.py
# unasync: async-only
"""TLS over any ``AsyncNetworkStream``: an ``ssl.SSLObject`` between two ``MemoryBIO``s,
the ciphertext carried by the inner stream's own ``send``/``receive``.

So a TLS wait is the inner stream's wait, with the timeout handed down: on trio that is
``TrioStream``'s (no cancel scope per wait), and the same code runs TLS over a TLS
stream for a proxy tunnel on any backend. The blocking twin
(sdk_transports/_backends/_sync_tls.py) is generated from this file by
scripts/unasync.py.

EOF follows anyio's ``standard_compatible=False``: ``aclose`` sends no close_notify,
and the peer's close_notify and a bare TCP close without one both read as ``b""``.
"""
# unasync: sync-only
# """TLS over any blocking ``NetworkStream`` (TLS inside TLS, for an HTTPS proxy's
# tunnel): an ``ssl.SSLObject`` between two ``MemoryBIO``s, the ciphertext carried by
# the inner stream's own ``send``/``receive``. Generated from
# sdk_transports/_backends/_tls.py.
#
# EOF: ``close`` sends no close_notify, and the peer's close_notify and a bare TCP
# close without one both read as ``b""``.
# """
# unasync: end

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, NoReturn

# unasync: async-only
from anyio import BrokenResourceError as BrokenStream
from anyio import ClosedResourceError as ClosedStream

# unasync: end
from ._base import READ_SIZE

if TYPE_CHECKING:
    from ._base import AsyncNetworkStream

# unasync: async-only
__all__ = ["WRITE_SIZE", "AsyncTLSStream", "BrokenStream", "ClosedStream", "start_tls"]
# unasync: sync-only
# __all__ = ["WRITE_SIZE", "BrokenStream", "ClosedStream", "TLSStream", "start_tls"]
# unasync: end

#: The most plaintext encrypted before its records go out: a large body is sent in
#: pieces instead of being held encrypted in memory whole.
WRITE_SIZE = 256 * 1024

# unasync: sync-only
# class BrokenStream(ConnectionError):
#     """The TLS connection is unusable (a send was lost half-way, or TLS failed)."""
#
#     def __init__(self) -> None:
#         super().__init__("the TLS connection is broken")
#
#
# class ClosedStream(OSError):
#     """The TLS stream was closed here."""
#
#     def __init__(self) -> None:
#         super().__init__("the TLS stream is closed")
# unasync: end


def _is_eof(exc: ssl.SSLError) -> bool:
    """The peer closed the TCP connection without a close_notify (a ragged EOF)."""
    return isinstance(exc, ssl.SSLEOFError) or "UNEXPECTED_EOF_WHILE_READING" in str(exc)


class AsyncTLSStream:
    """A TLS connection over ``inner``, itself a network stream like ``inner``.

    Errors: ``ssl.SSLError`` (an ``OSError``) when TLS fails; ``BrokenStream`` once a
    send was lost half-way (the peer could not decrypt what follows) or for an
    ``ssl.SSLSyscallError``; ``ClosedStream`` once closed here; and whatever ``inner``
    raises.
    """

    __slots__ = ("_broken", "_closed", "_eof", "_in", "_inner", "_out", "_sending", "_ssl")

    def __init__(
        self,
        inner: AsyncNetworkStream,
        ssl_object: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self._inner = inner
        self._ssl = ssl_object
        self._in = incoming
        self._out = outgoing
        self._broken = False
        self._closed = False
        self._eof = False
        self._sending = False  # a send is under way: only it writes to ``inner``

    async def _flush(self, timeout: float | None) -> None:
        """Send the records the SSL object has written. A record lost half-way used up
        its sequence number, so the stream is broken from then on."""
        try:
            await self._inner.send(self._out.read(), timeout)
        except BaseException:
            self._broken = True
            raise

    async def _fill(self, timeout: float | None) -> None:
        """Give the SSL object the next ciphertext (or the EOF), flushing first what it
        wrote unless a send is under way (that send flushes it)."""
        if self._out.pending and not self._sending:
            await self._flush(timeout)
        data = await self._inner.receive(READ_SIZE, timeout)
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    def _fail(self, exc: ssl.SSLError) -> NoReturn:
        """Raise what an ``SSLError`` from the SSL object becomes; the stream is
        unusable from then on."""
        self._broken = True
        if isinstance(exc, ssl.SSLSyscallError):
            raise BrokenStream from exc
        raise exc

    async def handshake(self, timeout: float | None) -> None:
        """The client's handshake, ``timeout`` bounding each wait (``TimeoutError``).
        Raises ``ssl.SSLError``: ``ssl.SSLCertVerificationError`` for an untrusted
        certificate or another host's, ``ssl.SSLEOFError`` when the peer closed."""
        ssl_object = self._ssl
        while True:
            try:
                ssl_object.do_handshake()
            except ssl.SSLWantReadError:
                await self._fill(timeout)
                continue
            except ssl.SSLError as exc:
                self._fail(exc)
            break
        if self._out.pending:  # TLS 1.3: the client's Finished
            await self._flush(timeout)

    async def send(self, data: bytes, timeout: float | None) -> None:
        """Encrypt ``data`` and send it, ``timeout`` bounding each wait."""
        if self._closed:
            raise ClosedStream
        if self._broken:
            raise BrokenStream
        ssl_object = self._ssl
        self._sending = True
        try:
            view = memoryview(data)
            while True:
                try:
                    ssl_object.write(view[:WRITE_SIZE])
                except ssl.SSLError as exc:
                    self._fail(exc)
                await self._flush(timeout)
                view = view[WRITE_SIZE:]
                if not view:
                    return
        finally:
            self._sending = False

    async def receive(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        """The next plaintext (up to ``max_bytes``), ``b""`` at EOF (with or without the
        peer's close_notify). ``timeout`` bounds each wait for ciphertext."""
        if self._closed:
            raise ClosedStream
        ssl_object, incoming = self._ssl, self._in
        while True:
            # With nothing buffered the read could only ask for more: wait at once.
            if incoming.pending or ssl_object.pending() or incoming.eof:
                try:
                    return ssl_object.read(max_bytes)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    self._eof = True
                    return b""
                except ssl.SSLError as exc:
                    if _is_eof(exc):
                        self._eof = True
                        return b""
                    self._fail(exc)
            elif self._eof:
                return b""
            elif self._broken:
                raise BrokenStream
            await self._fill(timeout)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncTLSStream:
        """TLS inside this TLS connection (an HTTPS proxy's tunnel)."""
        return await start_tls(self, ssl_context, server_hostname, timeout)

    async def aclose(self) -> None:
        """Close the connection under the TLS at once (no close_notify)."""
        self._closed = True
        await self._inner.aclose()

    # unasync: async-only
    def close_now(self) -> None:
        self._closed = True
        self._inner.close_now()

    # unasync: end
    def is_stale(self) -> bool:
        # Ciphertext left unread after a whole response is a close_notify or junk.
        if self._closed or self._broken or self._eof or self._in.pending:
            return True
        return self._ssl.pending() > 0 or self._inner.is_stale()

    def get_extra_info(self, name: str) -> Any:
        if name == "ssl_object":
            return self._ssl
        return self._inner.get_extra_info(name)


async def start_tls(
    inner: AsyncNetworkStream,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
    timeout: float | None,
) -> AsyncTLSStream:
    """TLS over ``inner`` (a client handshake, verifying as ``ssl_context`` says),
    ``timeout`` bounding each wait of the handshake (``TimeoutError``). Raises
    ``ssl.SSLError`` or what ``inner`` raises; on failure ``inner`` is closed."""
    try:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        ssl_object = ssl_context.wrap_bio(
            incoming, outgoing, server_side=False, server_hostname=server_hostname
        )
        stream = AsyncTLSStream(inner, ssl_object, incoming, outgoing)
        await stream.handshake(timeout)
    except BaseException:  # however it ended, no socket is left open
        await inner.aclose()
        raise
    return stream
