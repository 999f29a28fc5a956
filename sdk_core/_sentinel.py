"""``NOT_GIVEN``: tells a keyword that was left out from one passed as None."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = ["NOT_GIVEN", "NotGiven"]


class _NotGivenType(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NotGiven: TypeAlias = Literal[_NotGivenType.NOT_GIVEN]
NOT_GIVEN: Final = _NotGivenType.NOT_GIVEN
