"""The enabled modules together: one owner per queue, job and service, and a context that builds
handlers and services from what the composition root provides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from adapters.memory import MemoryBroker
from application.clock import ManualClock
from bootstrap.modules import ModuleCatalog, ModuleError, ModuleRuntime, load_module
from bootstrap.queues import QueueHandles
from bootstrap.topology import Topology
from domain.queue.context import Handler, JobContext
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec


async def _echo(payload: Any, ctx: JobContext) -> Any:
    return payload


class Archive:
    def __init__(self, clock_ms: int) -> None:
        self.clock_ms = clock_ms


class Exports:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive


def _reports(**changes: Any) -> DomainModule:
    values: dict[str, Any] = {
        "queues": [QueueSpec("reports-export")],
        "jobs": [JobSpec("reports.export.v1", None, queue="reports-export")],
    }
    values.update(changes)
    return DomainModule("reports", **values)


def _runtime(*modules: DomainModule, dependencies: Mapping[str, Any] | None = None) -> ModuleRuntime:
    catalog = ModuleCatalog(modules)
    handles = QueueHandles(MemoryBroker(), catalog.job_types(), Topology.of_modules(modules), 1 << 20)
    provided = {key: (lambda value=value: value) for key, value in (dependencies or {}).items()}
    return ModuleRuntime(catalog, handles, provided, ManualClock(1000))


def test_two_modules_declaring_the_same_queue_are_refused_naming_both() -> None:
    other = DomainModule("archive", queues=[QueueSpec("reports-export")])
    with pytest.raises(
        ModuleError, match=r"modules 'reports' and 'archive' both declare the queue 'reports-export'"
    ):
        ModuleCatalog([_reports(), other])


def test_two_modules_offering_the_same_service_are_refused() -> None:
    first = DomainModule("a", services={Archive: lambda ctx: Archive(1)})
    second = DomainModule("b", services={Archive: lambda ctx: Archive(2)})
    with pytest.raises(ModuleError, match="modules 'a' and 'b' both offer the service Archive"):
        ModuleCatalog([first, second])


def test_a_service_is_built_once_from_another_modules_service_and_the_clock() -> None:
    archive = DomainModule("archive", services={Archive: lambda ctx: Archive(ctx.clock())})
    exports = DomainModule("exports", services={Exports: lambda ctx: Exports(ctx.service(Archive))})
    runtime = _runtime(exports, archive)
    built = runtime.service(Exports)
    assert built.archive.clock_ms == 1000
    assert runtime.service(Exports) is built
    assert runtime.service(Archive) is built.archive


def test_asking_for_a_service_no_enabled_module_offers_names_the_offered_ones() -> None:
    runtime = _runtime(DomainModule("archive", services={Archive: lambda ctx: Archive(1)}))
    with pytest.raises(ModuleError, match=r"no enabled module offers the service Exports \(offered: Archive"):
        runtime.service(Exports)


def test_handlers_come_from_the_dependencies_the_composition_root_provides() -> None:
    seen: list[str] = []

    def handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
        seen.append(ctx.dependency("archive_bucket", str))
        return {"reports.export.v1": _echo}

    runtime = _runtime(_reports(handlers=handlers), dependencies={"archive_bucket": "s3://reports"})
    assert list(runtime.handlers()) == ["reports.export.v1"]
    assert seen == ["s3://reports"]


def test_a_missing_dependency_is_refused_naming_the_provided_keys() -> None:
    runtime = _runtime(dependencies={"ledger": object()})
    with pytest.raises(ModuleError, match=r"provides no dependency 'archive_bucket' \(provided: ledger\)"):
        runtime.dependency("archive_bucket", str)


def test_a_dependency_of_the_wrong_type_is_refused() -> None:
    runtime = _runtime(dependencies={"archive_bucket": 42})
    with pytest.raises(ModuleError, match="dependency 'archive_bucket' is a int, not the str"):
        runtime.dependency("archive_bucket", str)


def test_a_handler_for_a_job_the_module_does_not_declare_is_refused() -> None:
    module = _reports(handlers=lambda ctx: {"reports.archive.v1": _echo})
    with pytest.raises(
        ModuleError, match=r"has a handler for 'reports.archive.v1', which is not one of its jobs"
    ):
        _runtime(module).handlers()


def test_an_entry_without_an_attribute_loads_its_module_attribute() -> None:
    assert load_module("domain.slack.module").name == "slack"
    assert load_module("domain.slack.module:MODULE") is load_module("domain.slack.module")
