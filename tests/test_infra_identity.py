"""infra/identity.py: the console's Cognito resources, on their own."""
import json

from infra.identity import console_identity, needs_user_pool


def test_a_stage_with_its_own_issuer_gets_no_user_pool():
    assert needs_user_pool({})
    assert needs_user_pool({"OIDC_ISSUER": "https://login.example.com"})  # no client id: still Cognito
    assert not needs_user_pool({"OIDC_ISSUER": "https://login.example.com", "OIDC_CLIENT_ID": "latchkey"})


def test_the_client_is_public_pkce_code_flow_with_the_console_callbacks():
    identity = console_identity("dev", api_stage="api", console_url="https://tokens.example.com/")
    client = identity["resources"]["ConsoleUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert client["CallbackURLs"][1] == "https://tokens.example.com/console/callback"
    assert "/api" in json.dumps(client["CallbackURLs"][0]) and "console/callback" in json.dumps(client["CallbackURLs"])
    pool = identity["resources"]["ConsoleUserPool"]
    assert pool["DeletionPolicy"] == "Delete" and pool["Properties"]["DeletionProtection"] == "INACTIVE"
    assert console_identity("prod", retained=True)["resources"]["ConsoleUserPool"]["DeletionPolicy"] == "Retain"
    assert set(identity["environment"]) == {"OIDC_ISSUER", "OIDC_CLIENT_ID"}
    assert "ConsoleUrl" in identity["outputs"] and "ConsoleSignInDomain" in identity["outputs"]
