"""``LazySSLContext``: checked when given, made once on first use, from any thread."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from sdk_core import ConnectError, Request, Timeout
from sdk_transports import SocketTransport
from sdk_transports._tls import LazySSLContext


def test_bad_arguments_fail_when_given(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="verify"):
        LazySSLContext(verify=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cert"):
        LazySSLContext(cert=("a", "b", "c", "d"))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pem"):
        LazySSLContext(verify=str(tmp_path / "nowhere.pem"))
    with pytest.raises(FileNotFoundError, match=r"key\.pem"):
        SocketTransport(cert=(str(tmp_path), str(tmp_path / "key.pem")))


def test_made_once_and_shared_between_threads() -> None:
    lazy = LazySSLContext()
    contexts: list[ssl.SSLContext] = []
    threads = [threading.Thread(target=lambda: contexts.append(lazy.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(contexts) == 8
    assert all(context is contexts[0] for context in contexts)
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED


def test_a_given_context_is_used_as_is() -> None:
    context = ssl.create_default_context()
    assert LazySSLContext(verify=context).get() is context
    unverified = LazySSLContext(verify=False).get()
    assert unverified.verify_mode == ssl.CERT_NONE


def test_an_unreadable_ca_file_is_a_connect_error_on_first_use(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    transport = SocketTransport(verify=str(bad))  # exists: accepted until it is read
    # A listener that never answers: the context is made before the first handshake.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ConnectError, match=r"TLS with .* failed"):
            transport.handle_request(Request("GET", url), Timeout(1.0))
    transport.close()
