"""The redo intent's bytes: a chunk's items as DynamoDB-typed JSON, zlib-compressed, cut into slices.

The exactly-once protocol (:mod:`movierec.dal.offsets`) stores these bytes and writes them back after a
crash; it never looks inside. Items are pynamodb models, serialized by the models themselves, so what is
redone is exactly what would have been written. Binary attributes (history bodies, quarantined lines)
travel as ``{"$b64": ...}``.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Mapping

from pynamodb.models import Model

#: Items to write, by section (a table's logical name), in write order.
Items = dict[str, list[Model]]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot encode {type(value).__name__} in an intent")


def _json_hook(obj: dict[str, Any]) -> Any:
    return base64.b64decode(obj["$b64"]) if obj.keys() == {"$b64"} else obj


def encode(items: Items) -> bytes:
    """The items as DynamoDB-typed JSON, zlib-compressed (what the intent stores)."""
    doc = {section: [i.serialize() for i in batch] for section, batch in items.items() if batch}
    return zlib.compress(json.dumps(doc, default=_json_default, separators=(",", ":")).encode(), 6)


def decode(blob: bytes, models: Mapping[str, type[Model]]) -> Items:
    """The items of an encoded intent, as instances of ``models`` (by section), ready to be written."""
    doc = json.loads(zlib.decompress(blob), object_hook=_json_hook)
    return {section: [models[section].from_raw_data(raw) for raw in raws] for section, raws in doc.items()}


def slices(blob: bytes, max_bytes: int) -> list[bytes]:
    """``blob`` cut into pieces of at most ``max_bytes`` (one piece, maybe empty, when it fits)."""
    return [blob[i : i + max_bytes] for i in range(0, len(blob), max_bytes)] or [blob]
