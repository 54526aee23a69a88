"""Value helpers shared by the core (validation, presenters) and the engine (the merge)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
