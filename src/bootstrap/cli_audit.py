"""``backbone audit``: the audit log of admin actions (ADR 0024), read from the broker's store.

``backbone audit [--queue Q] [--since WHEN] [--actor A] [--limit N] [--json]``: oldest first.
``--since`` is a time (``2026-12-01``, ``2026-12-01T10:00:00Z``) or an age (``30m``, ``12h``,
``7d``). The recording itself is not here: every queue records its admin actions through the
audit hook (``application.hooked_queue``), whichever command or API call made them.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from application.audit import AuditEntry, AuditQuery, AuditStore
from bootstrap.container import Container
from bootstrap.render import table, to_json
from bootstrap.settings import SettingsError

AGE_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
AGE_PATTERN = re.compile(r"^(\d{1,9})([smhd])$")


def add_audit_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``sub``: the parser's subparsers action."""
    p = sub.add_parser("audit", help="the audit log of admin actions (oldest first)", parents=[common])
    p.add_argument("--queue", help="only entries of this queue")
    p.add_argument("--since", metavar="WHEN", help="a time (2026-12-01T10:00:00Z) or an age (30m, 12h, 7d)")
    # ``--actor`` (a common option: who acts, for the commands that record) filters here
    p.add_argument("--limit", type=int, default=1000, help="at most this many (the newest), default 1000")
    p.add_argument("--json", action="store_true")


def parse_since(text: str, now_ms: int) -> int:
    """``--since`` as epoch ms; ``SettingsError`` naming the flag and the accepted forms."""
    age = AGE_PATTERN.match(text.strip())
    if age is not None:
        return now_ms - int(age.group(1)) * AGE_UNITS_MS[age.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(
            "--since",
            f"must be an ISO time (2026-12-01T10:00:00Z) or an age like 30m, 12h, 7d (got {text!r})",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_dict(entry: AuditEntry) -> dict[str, object]:
    return {"time": iso(entry.time_ms), **entry.as_dict()}


async def cmd_audit(args: argparse.Namespace, container: Container) -> int:
    if not 1 <= args.limit <= 100_000:
        raise SettingsError("--limit", f"must be in 1..100000 (got {args.limit})")
    now = container.clock()()
    query = AuditQuery(
        queue=args.queue,
        actor=getattr(args, "actor", None),
        since_ms=parse_since(args.since, now) if args.since else None,
        limit=args.limit,
    )
    store: AuditStore = container.audit_store()
    entries = await store.read(query)
    if args.json:
        print(to_json([entry_dict(e) for e in entries]), flush=True)
        return 0
    rows = [
        (
            iso(e.time_ms),
            e.actor,
            e.action,
            e.queue or "-",
            e.outcome,
            "-" if e.count is None else e.count,
            ",".join(e.job_ids) or "-",
            (e.error or "")[:80],
        )
        for e in entries
    ]
    print(
        table(("time", "actor", "action", "queue", "outcome", "count", "job_ids", "error"), rows), flush=True
    )
    return 0
