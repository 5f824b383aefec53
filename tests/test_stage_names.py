"""chalicelib/stage_names.py: every stage's resource names come from one function."""
import json
from pathlib import Path

import pytest

from chalicelib.settings import from_environ
from chalicelib.stage_names import stage_names

CONFIG = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())


@pytest.mark.parametrize("stage", sorted(CONFIG["stages"]))
def test_stage_names_are_what_config_json_gives_each_stage(stage):
    assert CONFIG["stages"][stage]["environment_variables"] == stage_names(stage, CONFIG["app_name"]).stage_variables()


def test_stage_names_derive_every_name_from_app_and_stage():
    names = stage_names("staging")
    assert names.stage_variables() == {
        "LATCHKEY_STAGE": "staging",
        "LATCHKEY_RESOURCE_PREFIX": "latchkey-staging",
        "TOKENS_TABLE": "latchkey-staging-tokens",
        "DIRECTORY_TABLE": "latchkey-staging-directory",
        "UPLOADS_TABLE": "latchkey-staging-uploads",
        "UPLOADS_BUCKET": "latchkey-staging-uploads",
        "AUDIT_TABLE": "latchkey-staging-audit",
    }
    assert (names.api_function, names.qualified("token_authorizer"), names.rest_api, names.stack,
            names.data_stack) == ("latchkey-staging", "latchkey-staging-token_authorizer", "latchkey-staging",
                                  "latchkey-staging", "latchkey-staging-data")
    assert names.artifacts_bucket("123456789012", "eu-west-1") == "latchkey-staging-artifacts-123456789012-eu-west-1"


def test_stage_names_with_a_prefix_move_only_tables_and_bucket():
    names = stage_names("prod", prefix="acme-latchkey")
    assert (names.tokens_table, names.uploads_bucket) == ("acme-latchkey-tokens", "acme-latchkey-uploads")
    assert (names.api_function, names.data_stack) == ("latchkey-prod", "latchkey-prod-data")


def test_settings_fall_back_to_the_stage_names_of_their_prefix():
    settings = from_environ({"LATCHKEY_RESOURCE_PREFIX": "latchkey-qa"})
    names = stage_names(prefix="latchkey-qa")
    assert (settings.tokens_table, settings.directory_table, settings.uploads_table, settings.uploads_bucket,
            settings.audit_table, settings.resource_prefix) == (
        names.tokens_table, names.directory_table, names.uploads_table, names.uploads_bucket, names.audit_table,
        "latchkey-qa")
    assert from_environ({}).tokens_table == stage_names("dev").tokens_table == "latchkey-dev-tokens"
