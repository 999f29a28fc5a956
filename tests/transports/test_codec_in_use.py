"""The codec the transports read responses with is the one the environment says:
llhttp's when httptools is installed, h11's when it is hidden
(``SDK_TESTS_WITHOUT_HTTPTOOLS=1``, the ``make pytest-h11`` run), so both runs test what
they claim to."""

from __future__ import annotations

import os

from sdk_core.lowlevel import HAS_HTTPTOOLS, ClientCodec, FastClientCodec, new_codec


def test_the_codec_matches_the_environment() -> None:
    codec = new_codec()
    if os.environ.get("SDK_TESTS_WITHOUT_HTTPTOOLS") == "1":
        assert HAS_HTTPTOOLS is False
        assert type(codec) is ClientCodec
    else:
        assert HAS_HTTPTOOLS is True  # the dev install has the fast extra
        assert isinstance(codec, FastClientCodec)
