"""Payloads cross the C API as bytes; the Python side writes them as compact JSON."""
from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """A value as JSON bytes; bytes pass through unchanged (already a payload)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return _encoder.encode(value).encode()


def loads(raw: bytes) -> Any:
    """A payload decoded: JSON when it is JSON, None when empty, the bytes otherwise."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw
