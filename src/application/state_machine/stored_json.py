"""The decode rule for JSON the queue stores: one deterministic answer, in every process.

A job's data and return value are stored as JSON text and decoded whenever a ``Job`` is built
(add outcome, claim, ``get_job``, dead-letter listing). The state machine checks that text once,
where it enters the state, so that later decoding cannot fail. The answer must not depend on the
process: ``json.loads`` alone raises ``RecursionError`` at a depth that depends on how deep the
caller's stack already is, so nesting is checked first against a fixed limit, and text holding an
unpaired UTF-16 surrogate (``"\\ud800"``, which no UTF-8 encoder accepts later) is refused too.
"""

from __future__ import annotations

import itertools
import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any

# Far above what ``add`` accepts (its own, lower limit) and far below where Python's JSON decoder
# and encoder hit the recursion limit from any stack the queue decodes in.
MAX_JSON_DEPTH = 512

_STRING_LITERAL = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_WHITESPACE = " \t\n\r"  # what json.loads allows around a value
# (value, end index) of the JSON value at an index: the C scanner behind json.loads, without its
# Python-level wrapper (about a microsecond per call on the hot path).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


class StoredJsonError(ValueError):
    """Stored JSON text that does not decode under the rule; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def text_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays/objects deeper than ``limit`` (brackets in strings ignored).

    Cheap for ordinary text: fewer brackets than ``limit`` cannot nest deeper than it.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_A_BRACKET.sub("", _STRING_LITERAL.sub("", text))
    if not brackets:
        return False
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > limit


def value_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests deeper than ``limit`` (iterative: any depth is safe)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded value holds a string (or key) that is not encodable as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_stored_json(text: str, what: str = "data") -> Any:
    """Decode stored JSON ``text`` (as ``json.loads`` would) or raise ``StoredJsonError``, never
    anything else. On the hot path (every add and completion): the C scanner is called directly."""
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and text_depth_exceeds(text):
        raise StoredJsonError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:  # leading whitespace, or no value at all: json.loads gives the verdict
            value, end = json.loads(text), len(text)
        if end != len(text) and text[end:].strip(_WHITESPACE):
            raise ValueError(f"extra data at char {end}")
    except Exception as exc:  # any failure of the decoder is the same verdict: not decodable
        raise StoredJsonError(f"{what} is not JSON ({type(exc).__name__}: {exc})"[:300]) from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(value):
        raise StoredJsonError(f"{what} holds an unpaired UTF-16 surrogate")
    return value


def stored_bytes(text: str) -> bytes:
    """The bytes of stored text as kept for a dead letter (lone surrogates kept, not lost)."""
    return text.encode("utf-8", "surrogatepass")
