"""``backbone keys``: payload keys and their rotation (ADR 0023, docs/security.md).

- ``keys rotate QUEUE [--seal-plain] [--json]``: re-seal the stored payloads of QUEUE (waiting,
  delayed, dead-lettered, completed) with the newest loaded key; ``--seal-plain`` also seals plain
  payloads of an encrypted queue or job type (jobs stored before encryption was switched on).
- ``keys list``: the loaded key ids (the newest seals) and what is encrypted; never a secret.
- ``keys generate [--id KID]``: a new random key as one ``KID:base64`` line for the settings.

The rotation goes through the queue handle, so the admin hooks see it (the audit log records it
as ``keys.rotate``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from typing import Any

from bootstrap.container import Container
from bootstrap.settings import SettingsError


def add_parser(
    sub: Any, common: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]
) -> None:
    p = sub.add_parser("keys", help="payload keys: rotate, list, generate", parents=[common])
    keys = p.add_subparsers(dest="keys_command", required=True, parser_class=parser_class)
    r = keys.add_parser(
        "rotate", parents=[common], help="re-seal a queue's stored payloads with the newest key"
    )
    r.add_argument("queue")
    r.add_argument("--seal-plain", action="store_true", help="also seal plain payloads that should be sealed")
    r.add_argument("--json", action="store_true")
    listed = keys.add_parser("list", parents=[common], help="the loaded key ids and what is encrypted")
    listed.add_argument("--json", action="store_true")
    g = keys.add_parser("generate", parents=[common], help="print a new random key as KID:base64")
    g.add_argument("--id", dest="key_id", help="its key id (default: today's date, e.g. 2026-12-03)")


async def cmd_keys(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.commands import EXIT_FAILED, EXIT_OK, out

    if args.keys_command == "generate":
        from application.encryption.keys import PayloadKey, encode_secret

        key = PayloadKey(args.key_id or datetime.date.today().isoformat(), os.urandom(32))
        out(f"{key.key_id}:{encode_secret(key.secret)}")
        return EXIT_OK
    handles = container.queues()
    encryption = handles.encryption
    if encryption is None or encryption.cipher is None:
        raise SettingsError("encryption.keys", "must be set (or encryption.keys_file) for backbone keys")
    if args.keys_command == "list":
        ids = encryption.cipher.keys.ids()
        listing = {
            "keys": ids,
            "newest": encryption.cipher.keys.newest.key_id,
            "queues": sorted(encryption.queues),
            "job_names": sorted(encryption.job_names),
        }
        if args.json:
            out(json.dumps(listing))
        else:
            out(f"keys (oldest first): {', '.join(ids)}; newest, which seals: {listing['newest']}")
            out(f"encrypted queues: {', '.join(listing['queues']) or 'none'}")
            out(f"encrypted job names: {', '.join(listing['job_names']) or 'none'}")
        return EXIT_OK
    from application.encryption.rotation import describe_report, report_json, rotate_payloads

    report = await rotate_payloads(handles.handle(args.queue), encryption, seal_plain=args.seal_plain)
    out(report_json(report) if args.json else describe_report(report))
    return EXIT_FAILED if report.not_loaded or report.unreadable else EXIT_OK
