"""Configuration fails loudly and names the variable and its bad value."""

from __future__ import annotations

import pytest

from services.settings import BusSettings, ConfigError, GatewaySettings, WorkerSettings


def test_defaults_need_no_environment() -> None:
    settings = GatewaySettings.from_env({})
    assert settings.port == 8081 and settings.api_keys == () and settings.gateway_id.startswith("gw-")
    assert WorkerSettings.from_env("redaction", {}).consumer.startswith("redaction-")


def test_every_process_gets_its_own_id_unless_configured() -> None:
    assert GatewaySettings.from_env({}).gateway_id != GatewaySettings.from_env({}).gateway_id
    assert GatewaySettings.from_env({"GATEWAY_ID": "edge-1"}).gateway_id == "edge-1"


def test_api_keys_are_a_comma_list() -> None:
    assert GatewaySettings.from_env({"API_KEYS": " a, b ,,c "}).api_keys == ("a", "b", "c")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_PORT": "eighty"}, "Config 'GATEWAY_PORT' has value 'eighty'. Not a valid integer."),
        ({"REQUEST_TIMEOUT_S": "soon"}, "Config 'REQUEST_TIMEOUT_S' has value 'soon'. Not a valid number."),
        ({"REDIS_CLUSTER": "maybe"}, "Config 'REDIS_CLUSTER' has value 'maybe'. Not a valid bool"),
        ({"REDIS_URL": "localhost:6379"}, "Config 'REDIS_URL' has value 'localhost:6379'."),
        ({"BUS_PARTITIONS": "0"}, "Config 'BUS_PARTITIONS' has value '0'. Must be at least 1."),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        GatewaySettings.from_env(env)
    assert message in str(info.value)


def test_unknown_redaction_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match="REDACTION_ENGINE"):
        WorkerSettings.from_env("redaction", {"REDACTION_ENGINE": "gpt"})


def test_bool_accepts_the_usual_spellings() -> None:
    assert BusSettings.from_env({"REDIS_CLUSTER": "Yes"}).redis_cluster is True
    assert BusSettings.from_env({"REDIS_CLUSTER": "0"}).redis_cluster is False


def test_one_boolean_parser_for_variables_and_protocol_flags() -> None:
    from services.settings import parse_bool

    assert [parse_bool(v) for v in ("true", "1", "YES", " on ")] == [True] * 4
    assert [parse_bool(v) for v in ("false", "0", "No", "off")] == [False] * 4
    with pytest.raises(ValueError, match="maybe"):
        parse_bool("maybe")


def test_engine_variables_are_read_only_by_the_roles_that_use_them() -> None:
    bad_asr = {"ASR_ENGINE": "nonsense", "REDACTION_NER": "rules"}
    assert WorkerSettings.from_env("redaction", bad_asr).redaction.ner == "rules"  # an ASR typo never stops it
    with pytest.raises(ConfigError, match="ASR_ENGINE"):
        WorkerSettings.from_env("asr", bad_asr)
    with pytest.raises(ConfigError, match="REDACTION_ENGINE"):
        WorkerSettings.from_env("asr", {"REDACTION_ENGINE": "gpt"})
    settings = WorkerSettings.from_env("asr", {"ASR_ENGINE": "whisper:/models/tiny", "ASR_DECODERS": "4"})
    assert (settings.asr.engine, settings.asr.model_dir, settings.asr.decoders) == ("whisper", "/models/tiny", 4)


def test_an_api_key_list_that_names_no_key_is_refused_not_taken_for_no_auth() -> None:
    with pytest.raises(ConfigError, match="API_KEYS"):
        GatewaySettings.from_env({"API_KEYS": " , "})
    assert GatewaySettings.from_env({"API_KEYS": ""}).api_keys == ()


def test_worker_metrics_listen_locally_unless_told_otherwise() -> None:
    assert WorkerSettings.from_env("redaction", {}).metrics_host == "127.0.0.1"
    assert WorkerSettings.from_env("redaction", {"METRICS_HOST": "0.0.0.0"}).metrics_host == "0.0.0.0"


def test_asr_numbers_setting() -> None:
    from services.settings import AsrSettings

    assert AsrSettings.from_env({}).numbers == "words"
    assert AsrSettings.from_env({"ASR_NUMBERS": "Digits"}).numbers == "digits"
    with pytest.raises(ConfigError, match="ASR_NUMBERS"):
        AsrSettings.from_env({"ASR_NUMBERS": "roman"})
