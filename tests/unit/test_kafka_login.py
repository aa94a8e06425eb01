"""How the processes log in to Kafka (accounts_common.kafka.KafkaLogin, from KAFKA_*); the login itself
against a SCRAM listener is tests/infra/test_kafka_login.py."""

import pytest

from accounts_common.config import SettingError, load_from_env
from accounts_common.kafka import KafkaLogin


def login_from(monkeypatch: pytest.MonkeyPatch, **variables: str) -> KafkaLogin:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_from_env(KafkaLogin, "KAFKA", warn_unknown=False)


def test_in_the_clear_by_default(monkeypatch):
    assert login_from(monkeypatch).client_settings() == {"security_protocol": "PLAINTEXT"}


def test_a_scram_user_over_tls(monkeypatch):
    login = login_from(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="sasl_ssl",
        KAFKA_SASL_USERNAME="mailer",
        KAFKA_SASL_PASSWORD="secret",
        KAFKA_SSL_CAFILE="/etc/kafka-ca/ca.crt",
    )
    assert login.client_settings() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "mailer",
        "sasl_plain_password": "secret",
        "ssl_cafile": "/etc/kafka-ca/ca.crt",
    }


def test_an_unknown_protocol_is_refused_with_its_variable(monkeypatch):
    with pytest.raises(SettingError, match="KAFKA_SECURITY_PROTOCOL"):
        login_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="SCRAM")


def test_sasl_without_a_user_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        login_from(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT").client_settings()
