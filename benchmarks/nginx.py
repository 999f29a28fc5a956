"""A private nginx on 127.0.0.1: generated config, temp folders, started and always stopped.

Nothing under /etc/nginx or /var is used: the prefix, pid file, logs and temp folders
live in a fresh temp dir that is removed on stop. nginx runs in the foreground
(``daemon off``) as our child in its own session, so a Ctrl-C in the terminal reaches
only the runner, whose ``finally`` stops nginx.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from .apt import ensure_binary

__all__ = ["JSON_BODY", "KIB64_BODY", "NginxServer"]

#: The body of ``/json``: about 100 bytes of JSON.
JSON_BODY: bytes = json.dumps(
    {
        "id": "item_0123456789",
        "object": "item",
        "name": "benchmark",
        "count": 42,
        "created": 1767225600,
        "ok": True,
    },
    separators=(",", ":"),
).encode()
#: The body of ``/64k``: 64 KiB.
KIB64_BODY: bytes = bytes(i % 251 for i in range(65536))

_ERROR_503 = '{"error":{"message":"busy","type":"server_error"}}'

_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log warn;
events {{
    worker_connections 8192;
    multi_accept on;
}}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {tmp}/temp/client_body;
    proxy_temp_path {tmp}/temp/proxy;
    fastcgi_temp_path {tmp}/temp/fastcgi;
    uwsgi_temp_path {tmp}/temp/uwsgi;
    scgi_temp_path {tmp}/temp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    tcp_nodelay on;
    sendfile on;
    default_type application/octet-stream;
    # /flaky answers 503 to odd-numbered requests on a connection and 200 to even ones:
    # on a keep-alive connection every call sees 503 and then, retried, 200.
    map $connection_requests $flaky_status {{
        "~[13579]$" 503;
        default 200;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location = /json {{
            default_type application/json;
            return 200 '{json}';
        }}
        location = /64k {{
            try_files /64k.bin =404;
        }}
        location = /flaky {{
            default_type application/json;
            if ($flaky_status = 503) {{
                return 503 '{error_503}';
            }}
            return 200 '{json}';
        }}
        location = /status/200 {{
            default_type application/json;
            return 200 '{json}';
        }}
        location = /status/503 {{
            default_type application/json;
            return 503 '{error_503}';
        }}
        location = /status/404 {{
            default_type application/json;
            return 404 '{{"error":{{"message":"no such item"}}}}';
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _probe(port: int, path: str = "/json") -> bytes | None:
    """One ``GET path`` on a new connection; the raw response, or None when refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            for _ in range(1000):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return None


class NginxServer:
    """``with NginxServer() as server: server.url("/json")``; stopped on any exit."""

    def __init__(self, binary: str | None = None, *, log: object = print) -> None:
        self._binary = binary
        self._log = log
        self._tmp: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.version = ""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base_url + path

    def _write_tree(self, tmp: Path, port: int) -> Path:
        for sub in ("logs", "temp", "www"):
            (tmp / sub).mkdir(exist_ok=True)
        (tmp / "www" / "64k.bin").write_bytes(KIB64_BODY)
        # nginx's workers run as an unprivileged user when we are root: let them read.
        for path in (tmp, tmp / "www", tmp / "www" / "64k.bin"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        conf = tmp / "nginx.conf"
        conf.write_text(
            _CONFIG.format(tmp=tmp, port=port, json=JSON_BODY.decode(), error_503=_ERROR_503)
        )
        return conf

    def start(self) -> None:
        """Install nginx if needed, then start it on a free port and wait until it answers."""
        binary = self._binary or ensure_binary("nginx", "nginx", log=self._log)
        done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=30)
        self.version = (
            (done.stderr or done.stdout)
            .strip()
            .removeprefix("nginx version: ")
            .removeprefix("nginx/")
        )
        self._tmp = Path(tempfile.mkdtemp(prefix="sdk-bench-nginx-"))
        last_error = ""
        for _attempt in range(3):  # a port picked free may be taken before nginx binds it
            port = _free_port()
            conf = self._write_tree(self._tmp, port)
            args = [binary, "-p", str(self._tmp), "-e", str(self._tmp / "logs" / "error.log")]
            args += ["-c", str(conf)]
            test = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
            if test.returncode != 0:
                raise RuntimeError(f"nginx rejected its config:\n{test.stderr}")
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self.port = port
            deadline = time.monotonic() + 10.0
            for _ in range(1000):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    break
                reply = _probe(port)
                if reply and reply.startswith(b"HTTP/1.1 200") and reply.endswith(JSON_BODY):
                    return
                time.sleep(0.01)
            last_error = self._error_log()
            self._stop_process()
        raise RuntimeError(f"nginx did not start on 127.0.0.1:\n{last_error}")

    def _error_log(self) -> str:
        text = ""
        process = self._process
        if process is not None and process.stderr is not None and process.poll() is not None:
            text = process.stderr.read().decode(errors="replace")
        if self._tmp is not None and (self._tmp / "logs" / "error.log").exists():
            text += (self._tmp / "logs" / "error.log").read_text(errors="replace")[-4000:]
        return text

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGQUIT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)  # the master and its worker: its own session
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.stderr is not None:
            process.stderr.close()

    def stop(self) -> None:
        """Stop nginx (gracefully, then harder) and remove its temp dir. Idempotent."""
        try:
            self._stop_process()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    def __enter__(self) -> NginxServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
