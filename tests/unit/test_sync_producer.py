"""``SyncProducer``: synchronous code (a Flask-style view, a script, several threads) enqueues
through one connection per process, with a timeout on every call."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from tests.harness.handle import BrokerHandle

from backbone import (
    DomainModule,
    JobContext,
    JobOptions,
    JobSpec,
    JobState,
    QueueSpec,
    SettingsError,
    SyncProducer,
)
from domain.queue.errors import UnknownJobNameError

THREADS = 8
PER_THREAD = 25


class Greeting(BaseModel):
    who: str


async def greet(job: Greeting, ctx: JobContext) -> str:
    return f"hello {job.who}"


GREETINGS = DomainModule(
    "greetings",
    queues=[QueueSpec("greetings")],
    jobs=[JobSpec("greeting.send.v1", Greeting, queue="greetings")],
    handlers=lambda ctx: {"greeting.send.v1": greet},
)


def view(producer: SyncProducer, who: str) -> str:
    """What a WSGI view does: enqueue and answer with the job id, no event loop of its own."""
    return producer.enqueue("greeting.send.v1", Greeting(who=who)).id


def _from_threads(producer: SyncProducer) -> list[str]:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def serve(thread: int) -> None:
        try:
            for n in range(PER_THREAD):
                job_id = view(producer, f"user-{thread}-{n}")
                with lock:
                    ids.append(job_id)
        except BaseException as exc:  # reported below: a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return ids


@pytest.fixture
def memory_producer() -> Iterator[SyncProducer]:
    with SyncProducer("memory://", modules=[GREETINGS]) as producer:
        yield producer


def test_several_threads_enqueue_through_one_producer_and_every_job_is_stored(
    memory_producer: SyncProducer,
) -> None:
    ids = _from_threads(memory_producer)
    assert len(set(ids)) == THREADS * PER_THREAD
    assert memory_producer.get_stats("greetings").waiting == THREADS * PER_THREAD


def test_enqueue_routes_the_job_to_the_queue_its_module_declares(memory_producer: SyncProducer) -> None:
    job = memory_producer.enqueue("greeting.send.v1", {"who": "ada"}, JobOptions(job_id="greet-ada"))
    stored = memory_producer.get_job("greetings", "greet-ada")
    assert job.queue == "greetings"
    assert stored is not None
    assert stored.state is JobState.WAITING


def test_enqueueing_a_job_no_module_declares_names_the_known_ones(memory_producer: SyncProducer) -> None:
    with pytest.raises(UnknownJobNameError) as caught:
        memory_producer.enqueue("greeting.unknown.v1", {"who": "ada"})
    assert caught.value.field == "name"
    assert "greeting.send.v1" in str(caught.value)


def test_bad_settings_fail_when_the_producer_is_made_not_at_the_first_call() -> None:
    with pytest.raises(SettingsError):
        SyncProducer("nats://127.0.0.1:4222", modules=[GREETINGS])


def test_a_broker_that_does_not_answer_raises_timeout_error_within_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        producer = SyncProducer(
            f"redis://127.0.0.1:{port}/0", modules=[GREETINGS], timeout_s=0.5,
            broker={"connect_timeout_ms": 30_000, "operation_timeout_ms": 30_000},
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            producer.enqueue("greeting.send.v1", {"who": "ada"})
        assert time.monotonic() - started < 10  # bounded by timeout_s, not by the broker's 30 s
        producer.close()


def test_a_closed_producer_refuses_calls(memory_producer: SyncProducer) -> None:
    memory_producer.close()
    with pytest.raises(RuntimeError, match="closed"):
        memory_producer.enqueue("greeting.send.v1", {"who": "ada"})


def test_threads_enqueue_on_redis_and_another_client_sees_every_job(redis_broker: BrokerHandle) -> None:
    prefix = f"sync-{secrets.token_hex(4)}"
    with SyncProducer(redis_broker.url, modules=[GREETINGS], broker={"key_prefix": prefix}) as producer:
        ids = _from_threads(producer)
    with SyncProducer(redis_broker.url, modules=[GREETINGS], broker={"key_prefix": prefix}) as other:
        assert other.get_stats("greetings").waiting == THREADS * PER_THREAD
        assert all(other.get_job("greetings", job_id) is not None for job_id in ids[:10])


def test_a_forked_child_enqueues_through_a_connection_of_its_own(redis_broker: BrokerHandle) -> None:
    prefix = f"fork-{secrets.token_hex(4)}"
    with SyncProducer(redis_broker.url, modules=[GREETINGS], broker={"key_prefix": prefix}) as producer:
        producer.enqueue("greeting.send.v1", {"who": "parent"})  # the parent's loop and connection exist
        pid = os.fork()
        if pid == 0:  # the child: a pre-forking WSGI server's worker
            code = 1
            try:
                producer.enqueue("greeting.send.v1", {"who": "child"}, timeout_s=10)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert producer.get_stats("greetings").waiting == 2
