"""Key rotation: re-seal every stored payload of a queue with the newest key (ADR 0023).

``rotate_payloads(queue, encryption)`` asks the queue to rewrite the data of every job that is not
active (waiting, delayed, dead-lettered and completed): a payload sealed with an older loaded key
is opened and sealed again with the newest; one already sealed with the newest is left alone; with
``seal_plain=True``, a plain payload of a job type or queue that is now encrypted is sealed too
(jobs stored before encryption was switched on). Active jobs are left as they are (run the
rotation again once they finished). Payloads sealed with a key that is not loaded, or that do not
open, are counted and left alone: nothing is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from application.encryption.cipher import KeyNotLoadedError, PayloadDecryptionError
from application.encryption.envelope import is_sealed
from application.encryption.policy import PayloadEncryption
from application.queue_backend import QueueBackend
from application.state_machine.stored_json import StoredJsonError, decode_stored_json

ROTATE_ACTION = "keys.rotate"  # the admin hooks' name for this action (audit log)


@dataclass(slots=True)
class RotationReport:
    queue: str
    key_id: str  # the newest key: what every rotated payload is sealed with now
    rotated: int = 0  # payloads re-sealed (or sealed, with seal_plain)
    current: int = 0  # already sealed with the newest key
    not_loaded: dict[str, int] = field(default_factory=dict)  # key id -> payloads left sealed with it
    unreadable: int = 0  # sealed with a loaded key but do not open (tampered): left alone


async def rotate_payloads(
    queue: QueueBackend, encryption: PayloadEncryption, *, seal_plain: bool = False
) -> RotationReport:
    cipher = encryption.cipher
    if cipher is None:
        raise ValueError("key rotation needs the payload keys: none is loaded")
    report = RotationReport(queue.name, cipher.keys.newest.key_id)

    def rewrite(job_id: str, name: str, data_json: str) -> str | None:
        try:
            data = decode_stored_json(data_json)
        except StoredJsonError:
            return None
        if not is_sealed(data):
            if seal_plain and encryption.applies(queue.name, name):
                return cipher.seal(queue.name, name, job_id, data_json)
            return None
        if cipher.is_current(data):
            report.current += 1
            return None
        try:
            plain_json = cipher.open_json(queue.name, name, job_id, data)
        except KeyNotLoadedError as exc:
            report.not_loaded[exc.key_id] = report.not_loaded.get(exc.key_id, 0) + 1
            return None
        except PayloadDecryptionError:
            report.unreadable += 1
            return None
        return cipher.seal(queue.name, name, job_id, plain_json)

    report.rotated = await queue.rewrite_payloads(rewrite)
    return report


def describe_report(report: RotationReport) -> str:
    """One line for the CLI (never a secret: key ids and counts only)."""
    parts = [f"{report.queue}: {report.rotated} payloads sealed with key {report.key_id}"]
    parts.append(f"{report.current} already were")
    if report.not_loaded:
        left = ", ".join(f"{count} with key {kid}" for kid, count in sorted(report.not_loaded.items()))
        parts.append(f"left sealed (key not loaded): {left}")
    if report.unreadable:
        parts.append(f"{report.unreadable} do not open (tampered?) and were left alone")
    return "; ".join(parts)


def report_json(report: RotationReport) -> str:
    return json.dumps(
        {
            "queue": report.queue,
            "key_id": report.key_id,
            "rotated": report.rotated,
            "current": report.current,
            "not_loaded": report.not_loaded,
            "unreadable": report.unreadable,
        }
    )
