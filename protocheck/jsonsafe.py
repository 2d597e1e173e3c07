"""JSON read from files others wrote (summaries, sidecars, protocols, DICOMweb answers) with every failure
turned into one ValueError that says what is wrong: syntax (with line and column), nesting deeper than the
reader allows, integers of thousands of digits, or a file over the size limit."""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH_TEXT = "nested deeper than the JSON reader allows (about 1,000 levels)"


def loads(text: str | bytes, max_bytes: int | None = None, **kwargs: Any) -> Any:
    """``json.loads`` bounded: ValueError (a JSONDecodeError for syntax, with its position) on any problem;
    ``kwargs`` go to ``json.loads`` (e.g. ``parse_constant`` to refuse NaN)."""
    if max_bytes is not None and len(text) > max_bytes:
        raise ValueError(f"larger than the limit of {max_bytes // (1024 * 1024)} MiB")
    try:
        return json.loads(text, **kwargs)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError(MAX_DEPTH_TEXT) from None
    except (ValueError, TypeError) as exc:   # e.g. an integer of more than 4,300 digits, or a refused NaN
        raise ValueError(f"a value cannot be read: {str(exc)[:160]}") from None
