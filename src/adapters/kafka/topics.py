"""The topics of one queue and the settings they are created with.

``<prefix>.<queue>.log``        1 partition, cleanup.policy=delete, retention = settings.log_retention_ms
``<prefix>.<queue>.snapshots``  1 partition, cleanup.policy=compact (keys ``head``, ``snap/<offset>/<n>``)
``<prefix>.<queue>.leader``     1 partition, cleanup.policy=delete, retention 1 h: members' heartbeats
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import NewTopic

from adapters.kafka.settings import KafkaSettings

LEADER_RETENTION_MS = 60 * 60 * 1000
LOG_TOPIC_SUFFIX = ".log"


@dataclass(frozen=True, slots=True)
class QueueTopics:
    log: str
    snapshots: str
    leader: str

    @staticmethod
    def of(prefix: str, queue: str) -> QueueTopics:
        base = f"{prefix}.{queue}"
        return QueueTopics(
            log=f"{base}{LOG_TOPIC_SUFFIX}",
            snapshots=f"{base}.snapshots",
            leader=f"{base}.leader",
        )

    def definitions(self, settings: KafkaSettings) -> list[NewTopic]:
        common: dict[str, str] = {}
        if settings.min_insync_replicas is not None:
            common["min.insync.replicas"] = str(settings.min_insync_replicas)
        rf = settings.replication_factor
        return [
            NewTopic(
                self.log,
                1,
                rf,
                topic_configs={
                    **common,
                    "cleanup.policy": "delete",
                    "retention.ms": str(settings.log_retention_ms),
                },
            ),
            NewTopic(self.snapshots, 1, rf, topic_configs={**common, "cleanup.policy": "compact"}),
            NewTopic(
                self.leader,
                1,
                rf,
                topic_configs={
                    **common,
                    "cleanup.policy": "delete",
                    "retention.ms": str(LEADER_RETENTION_MS),
                },
            ),
        ]
