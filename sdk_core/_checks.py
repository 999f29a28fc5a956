"""Checks of a client's setting values: each returns the value or raises
``InvalidRequestError`` naming the setting, before anything is sent."""

from __future__ import annotations

import re

from ._config import Limits, RetryPolicy
from ._error_base import InvalidRequestError
from ._headers import Headers

__all__ = [
    "check_auth_scheme",
    "check_base_url",
    "check_bool",
    "check_header_name",
    "check_idempotency_key",
    "check_limits",
    "check_retry_policy",
    "check_size",
]

# Visible latin-1 characters, spaces and tabs: what an idempotency key or an auth
# scheme may hold.
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]+")


def check_bool(name: str, value: object) -> bool:
    """``value``, which must be a bool. Raises ``InvalidRequestError`` naming ``name``."""
    if value is True or value is False:
        return value
    raise InvalidRequestError(f"{name} must be True or False, not {type(value).__name__}.")


def check_size(name: str, value: object, least: int = 0) -> int:
    """``value``, which must be an int (not a bool) >= ``least``. Raises
    ``InvalidRequestError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidRequestError(f"{name} must be an int >= {least}.")
    return value


def check_base_url(value: object) -> str:
    """``value``, which must be a non-empty str. Raises ``InvalidRequestError``."""
    if not isinstance(value, str) or not value:
        raise InvalidRequestError("base_url must be a non-empty str.")
    return value


def check_idempotency_key(key: object) -> str:
    """``key``, which must be a str of header text with something besides blanks.
    Raises ``InvalidRequestError``."""
    if type(key) is not str or not key.strip(" \t"):
        raise InvalidRequestError("idempotency_key must be a non-empty str.")
    if not _HEADER_TEXT.fullmatch(key):
        raise InvalidRequestError(
            "idempotency_key has a character a header cannot hold (CR, LF, NUL, another "
            "control character, or one outside latin-1)."
        )
    return key


def check_header_name(setting: str, name: object, *, optional: bool) -> None:
    """Raise ``InvalidRequestError`` naming ``setting`` unless ``name`` is a header
    name (or None, when ``optional``)."""
    if name is None and optional:
        return
    try:
        Headers([(name, "")])  # type: ignore[list-item]
    except InvalidRequestError:
        shown = "a str or None" if optional else "a str"
        raise InvalidRequestError(f"{setting} must be a header name ({shown}).") from None


def check_auth_scheme(scheme: object) -> None:
    """Raise ``InvalidRequestError`` unless ``scheme`` is None or a non-empty str of
    header text."""
    if scheme is not None and (type(scheme) is not str or not _HEADER_TEXT.fullmatch(scheme)):
        raise InvalidRequestError("auth_scheme must be a non-empty str of header text, or None.")


def check_retry_policy(value: object) -> RetryPolicy:
    """``value`` when it is a ``RetryPolicy``, the default policy for None. Raises
    ``InvalidRequestError`` for anything else."""
    if value is None:
        return RetryPolicy()
    if not isinstance(value, RetryPolicy):
        raise InvalidRequestError(
            f"retry must be a RetryPolicy or None, not {type(value).__name__}."
        )
    return value


def check_limits(limits: object) -> None:
    """Raise ``InvalidRequestError`` unless ``limits`` is a ``Limits`` or None."""
    if limits is not None and not isinstance(limits, Limits):
        raise InvalidRequestError(f"limits must be a Limits or None, not {type(limits).__name__}.")
