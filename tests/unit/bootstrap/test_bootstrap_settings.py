from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap.settings import LogFormat, SettingsError, load_settings, settings_summary


def test_defaults_use_the_embedded_memory_broker_and_a_512_kib_payload_limit() -> None:
    settings = load_settings()
    assert settings.broker.url == "memory://"
    assert settings.payload_limit_bytes == 512 * 1024
    assert settings.log.format is LogFormat.TEXT


def test_nested_environment_variables_set_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBONE_BROKER__URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("BACKBONE_WORKER__LEASE_MS", "5000")
    monkeypatch.setenv("BACKBONE_LOG__FORMAT", "json")
    settings = load_settings()
    assert settings.broker.url == "redis://127.0.0.1:6379/0"
    assert settings.worker.lease_ms == 5000
    assert settings.log.format is LogFormat.JSON


def test_a_toml_file_sets_queue_overrides(tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text(
        '[broker]\nurl = "amqp://guest@localhost:5672/"\n\n'
        "[queues.notification-email]\nconcurrency = 3\nbackoff = { delay_ms = 100 }\n"
    )
    settings = load_settings(config)
    assert settings.broker.url == "amqp://guest@localhost:5672/"
    override = settings.queues["notification-email"]
    assert override.concurrency == 3
    assert override.backoff is not None and override.backoff.delay_ms == 100


def test_the_environment_wins_over_the_file_named_by_backbone_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "backbone.json"
    config.write_text(json.dumps({"payload_limit_bytes": 4096, "worker": {"prefetch": 7}}))
    monkeypatch.setenv("BACKBONE_CONFIG_FILE", str(config))
    monkeypatch.setenv("BACKBONE_PAYLOAD_LIMIT_BYTES", "8192")
    settings = load_settings()
    assert settings.payload_limit_bytes == 8192
    assert settings.worker.prefetch == 7


def test_an_out_of_range_value_names_the_field_and_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBONE_WORKER__LEASE_MS", "10")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.field == "worker.lease_ms"
    assert "greater than or equal to 100" in caught.value.rule


def test_an_unknown_broker_scheme_is_refused_without_showing_the_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(broker={"url": "mqtt://user:hunter2@host:1883"})
    assert caught.value.field == "broker.url"
    assert "memory://" in caught.value.rule
    assert "hunter2" not in str(caught.value)


def test_an_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text("[worker]\nleese_ms = 100\n")
    with pytest.raises(SettingsError, match=r"worker\.leese_ms: is not a known setting"):
        load_settings(config)


def test_a_malformed_file_is_reported_as_the_config_file_setting(tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text("[broker\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert caught.value.field == "config_file"
    assert "valid TOML" in caught.value.rule


def test_a_queue_override_with_a_bad_queue_name_is_refused() -> None:
    with pytest.raises(SettingsError, match="kebab-case"):
        load_settings(queues={"Bad_Queue": {"concurrency": 1}})


def test_secrets_never_appear_in_repr_or_the_printable_summary() -> None:
    settings = load_settings(
        broker={"url": "redis://app:s3cret@redis:6379/0", "sasl_password": "pw-123"},
        slack={"webhook_url": "https://hooks.slack.test/services/T0/B0/token-xyz"},
    )
    shown = repr(settings) + json.dumps(settings_summary(settings))
    for secret in ("s3cret", "pw-123", "token-xyz"):
        assert secret not in shown
    assert settings.slack.webhook_url is not None
    assert settings.slack.webhook_url.get_secret_value().endswith("token-xyz")


def test_the_json_depth_limit_defaults_to_64_and_is_set_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().json_depth_limit == 64
    monkeypatch.setenv("BACKBONE_JSON_DEPTH_LIMIT", "20")
    assert load_settings().json_depth_limit == 20


def test_a_json_depth_limit_near_what_decoders_handle_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBONE_JSON_DEPTH_LIMIT", "900")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.field == "json_depth_limit"
