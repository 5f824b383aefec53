import pytest

from chalicelib.settings import SettingsError, from_environ


def test_from_environ_defaults():
    settings = from_environ({})
    assert settings.tokens_table == "latchkey-dev-tokens"
    assert settings.max_account_tokens == settings.max_project_tokens == 100
    assert settings.authorizer_ttl_seconds == 0
    assert settings.last_used_interval_seconds == 300


def test_from_environ_reads_overrides():
    settings = from_environ({"TOKENS_TABLE": "t", "MAX_PROJECT_TOKENS": "7", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert (settings.tokens_table, settings.max_project_tokens, settings.region) == ("t", 7, "eu-west-1")


@pytest.mark.parametrize(
    "name, value",
    [("MAX_ACCOUNT_TOKENS", "many"), ("MAX_ACCOUNT_TOKENS", "0"), ("AUTHORIZER_TTL_SECONDS", "-1"),
     ("AWS_READ_TIMEOUT_SECONDS", "0"), ("AWS_MAX_ATTEMPTS", "x")],
)
def test_from_environ_rejects_bad_values_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        from_environ({name: value})


def test_from_environ_sweeper_settings():
    assert (from_environ({}).stale_token_days, from_environ({}).notify_from) == (0, None)
    settings = from_environ({"STALE_TOKEN_DAYS": "365", "NOTIFY_FROM": "latchkey@example.com"})
    assert (settings.stale_token_days, settings.notify_from) == (365, "latchkey@example.com")
    with pytest.raises(SettingsError, match="STALE_TOKEN_DAYS"):
        from_environ({"STALE_TOKEN_DAYS": "-1"})
