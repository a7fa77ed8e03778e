"""Key layout (one hash tag, so one cluster slot per queue) and settings validation."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from adapters.redis.connection import RedisConnection
from adapters.redis.keys import QueueKeys
from adapters.redis.queue import _chunks
from adapters.redis.scripts import SCRIPT_NAMES, load_scripts
from adapters.redis.settings import RedisSettings
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.state_machine.machine import STALLED_REASON
from application.state_machine.records import MALFORMED_JOB_NAME, MAX_STACKTRACES
from domain.queue.errors import InvalidOptionError


def test_every_key_of_a_queue_shares_its_hash_tag_and_slot() -> None:
    keys = QueueKeys("bb", "transaction-processing")
    every_key = [*keys.script_keys(), keys.job("x{y}z"), keys.idempotency("tenant:{t}:abc")]
    assert all(key.startswith("{bb:transaction-processing}:") for key in every_key)
    assert len({key_slot(key.encode()) for key in every_key}) == 1


def test_queues_with_different_names_never_share_keys() -> None:
    first, second = QueueKeys("bb", "a"), QueueKeys("bb", "a-b")
    assert not set(first.script_keys()) & set(second.script_keys())
    assert first.job("b:job:1") != second.job("1")


def test_every_script_is_the_shared_library_plus_its_body_with_a_stable_sha() -> None:
    scripts = load_scripts()
    assert set(scripts) == set(SCRIPT_NAMES)
    assert all(script.source.startswith("-- Shared preamble") for script in scripts.values())
    assert len({script.sha for script in scripts.values()}) == len(SCRIPT_NAMES)
    assert load_scripts()["claim"].sha == scripts["claim"].sha


def test_the_scripts_use_the_state_machines_wording_and_limits() -> None:
    library = load_scripts()["claim"].source
    assert f'local STALLED_REASON = "{STALLED_REASON}"' in library
    assert f'local MALFORMED_NAME = "{MALFORMED_JOB_NAME}"' in library
    assert f"local MAX_STACK = {MAX_STACKTRACES}" in library


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://user:pw@cache.example:6380/2"])
def test_redis_and_rediss_urls_are_accepted(url: str) -> None:
    settings = RedisSettings(url=url)
    assert settings.uses_tls == url.startswith("rediss")


def test_other_schemes_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidOptionError, match="url"):
        RedisSettings(url="amqp://guest:guest@localhost/")


@pytest.mark.parametrize("prefix", ["", "a{b", "a:b", "a b"])
def test_a_prefix_that_would_break_the_hash_tag_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidOptionError, match="key_prefix"):
        RedisSettings(url="redis://localhost/0", key_prefix=prefix)


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(InvalidOptionError, match="operation_timeout_ms"):
        RedisSettings(url="redis://localhost/0", operation_timeout_ms=0)


def test_at_least_one_pipeline_must_be_allowed_in_flight() -> None:
    with pytest.raises(InvalidOptionError, match="pipelines_in_flight"):
        RedisSettings(url="redis://localhost/0", pipelines_in_flight=0)


def test_bulk_adds_are_cut_into_chunks_by_count_and_by_payload_size() -> None:
    factory = JobFactory("chunk-q", JobTypes(strict=False))
    small = [factory.draft("chunk.test.v1", "x" * 8, None, None, 0) for _ in range(7)]
    big = [factory.draft("chunk.test.v1", "x" * 98, None, None, 0) for _ in range(3)]
    assert [len(part) for part in _chunks(small, 3, 1000)] == [3, 3, 1]
    assert [len(part) for part in _chunks(big, 10, 150)] == [1, 1, 1]  # each over half the budget
    assert _chunks([], 3, 1000) == []


@pytest.mark.parametrize(("verify", "cert_reqs"), [(True, "required"), (False, "none")])
async def test_tls_verify_decides_whether_the_server_certificate_is_checked(
    verify: bool, cert_reqs: str
) -> None:
    connection = RedisConnection(RedisSettings(url="rediss://localhost:6380/0", tls_verify=verify))
    try:
        kwargs = connection.commands.connection_pool.connection_kwargs
        assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == (cert_reqs, verify)
    finally:
        await connection.close()
