from __future__ import annotations

import io
import json
import logging

from application.worker.context import current_job_id
from bootstrap.logging_setup import configure_logging
from bootstrap.settings import LogFormat, LogSettings
from domain.queue.metadata import current_correlation_id


def _log_inside_a_job(stream: io.StringIO, settings: LogSettings) -> str:
    configure_logging(settings, stream)
    cid, jid = current_correlation_id.set("corr-42"), current_job_id.set("job-7")
    try:
        logging.getLogger("tests.bootstrap").warning("settled %s", "tx-1")
    finally:
        current_job_id.reset(jid)
        current_correlation_id.reset(cid)
    return stream.getvalue()


def test_text_records_show_the_correlation_id_and_job_id_of_the_running_job() -> None:
    line = _log_inside_a_job(io.StringIO(), LogSettings())
    assert "[cid=corr-42 job=job-7] settled tx-1" in line


def test_json_lines_records_carry_the_context_fields() -> None:
    line = _log_inside_a_job(io.StringIO(), LogSettings(format=LogFormat.JSON))
    record = json.loads(line.strip())
    assert record["message"] == "settled tx-1"
    assert record["correlation_id"] == "corr-42"
    assert record["job_id"] == "job-7"
    assert record["level"] == "WARNING"


def test_records_outside_a_job_show_a_dash() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(), stream)
    logging.getLogger("tests.bootstrap").warning("idle")
    assert "[cid=- job=-] idle" in stream.getvalue()


def test_configuring_twice_keeps_one_handler() -> None:
    configure_logging(LogSettings(), io.StringIO())
    configure_logging(LogSettings(), io.StringIO())
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "backbone-root"]
    assert len(ours) == 1


def test_the_broker_drivers_own_records_are_dropped_below_debug() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO"), stream)
    logging.getLogger("pika.adapters.base_connection").error("connection workflow failed")
    logging.getLogger("aiokafka").error("Unable connect to node")
    logging.getLogger("adapters.rabbitmq").error("ours")
    assert stream.getvalue().splitlines()[-1].endswith("ours") and "workflow" not in stream.getvalue()
    assert "Unable connect" not in stream.getvalue()


def test_at_debug_the_broker_drivers_records_are_shown() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="DEBUG"), stream)
    logging.getLogger("pika.connection").debug("frame sent")
    assert "frame sent" in stream.getvalue()
