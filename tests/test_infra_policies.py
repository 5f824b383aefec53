"""Issue 12: least privilege in the template, tied to the code: the API role
holds exactly the S3 actions of the calls chalicelib makes, and no role of
the stage can change or delete an audit item."""
import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra import policies

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"
# Local-only calls (ensure_bucket: make run and the tests create the bucket;
# a deployed stage gets it from CloudFormation).
LOCAL_ONLY = {"list_buckets", "create_bucket"}


class Arns:
    partition, region, account = "aws", "us-east-1", "123456789012"

    def dynamodb_table(self, name, index=None):
        return f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}" + (f"/index/{index}" if index else "")

    def s3_bucket(self, bucket, key=None):
        return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def s3_calls() -> set[str]:
    """Methods called on the S3 client anywhere in chalicelib (`s3_client().x(`
    or a name bound to `s3_client()`)."""
    calls = set()
    for path in CHALICELIB.rglob("*.py"):
        tree = ast.parse(path.read_text())
        bound = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "s3_client"
                 for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if (isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "s3_client") or (
                    isinstance(owner, ast.Name) and owner.id in bound):
                calls.add(node.func.attr)
    return calls - LOCAL_ONLY


def api_statements():
    tables = {"t-tokens": ["owner-index"], "t-directory": ["target-index"], "t-audit": []}
    return policies.api_policy(Arns(), app="latchkey", stage="prod", tables=tables, bucket="b", prefix="uploads/",
                               append_only=["t-audit"])["Statement"]


def test_policies_api_role_holds_exactly_the_s3_actions_used():
    calls = s3_calls()
    assert calls >= {"get_object", "put_object"}
    unknown = calls - set(policies.S3_CALL_ACTIONS)
    assert not unknown, f"S3 calls without a declared IAM action: {unknown} (add them to S3_CALL_ACTIONS)"
    needed = {policies.S3_CALL_ACTIONS[call] for call in calls}
    granted = {action for s in api_statements() for action in s["Action"] if action.startswith("s3:")}
    # s3:DeleteObject: deleting a repository's uploads (issue 11), kept on purpose.
    assert needed <= granted <= needed | {"s3:DeleteObject"}
    assert "s3:AbortMultipartUpload" not in granted


def test_policies_no_role_may_change_or_delete_audit_items():
    audit = "arn:aws:dynamodb:us-east-1:123456789012:table/t-audit"
    on_audit = {a for s in api_statements() if audit in s["Resource"] for a in s["Action"]}
    assert on_audit == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}
    authorizer = policies.authorizer_policy(Arns(), app="latchkey", stage="prod", tokens_table="t-tokens",
                                            audit_table="t-audit", token_key="pk", last_used_attribute="x")
    on_audit = {a for s in authorizer["Statement"] if audit in s["Resource"] for a in s["Action"]}
    assert on_audit == {"dynamodb:PutItem"}


def test_policies_authorizer_role_names_no_table_but_tokens_and_audit():
    """The authorizer decides from the token item alone (its disabled mark included): no directory."""
    authorizer = policies.authorizer_policy(Arns(), app="latchkey", stage="prod", tokens_table="t-tokens",
                                            audit_table="t-audit", token_key="pk", last_used_attribute="x")
    tables = {r for s in authorizer["Statement"] for r in s["Resource"] if ":dynamodb:" in r}
    assert tables == {Arns().dynamodb_table("t-tokens"), Arns().dynamodb_table("t-audit")}


def test_policies_audit_items_are_never_overwritten(aws, monkeypatch):
    """Every audit write carries attribute_not_exists: an item with the key of
    an existing one is refused and the trail keeps the first."""
    from chalicelib.models.audit import AuditEvent
    from chalicelib.settings import get_settings
    from chalicelib.store import audit as store

    monkeypatch.setattr(store, "new_event_id", lambda: "fixed")
    at = datetime.now(timezone.utc)
    trail = store.AuditStore(get_settings())
    first = trail.items(["user#1"], at, action="token.created", outcome="success", actor="operator")
    forged = trail.items(["user#1"], at, action="token.deleted", outcome="success", actor="user:2")
    assert trail.put(first) is True
    assert trail.put(forged) is False
    assert [e.action for e in AuditEvent.query("user#1")] == ["token.created"]


def test_policies_token_transactions_never_overwrite_audit_items(admin, monkeypatch):
    from chalicelib.errors import Conflict
    from chalicelib.models.audit import AuditEvent
    from chalicelib.store import audit as store

    user = admin.create_user("a@example.com")
    monkeypatch.setattr(store, "new_event_id", lambda: "fixed")
    frozen = datetime.now(timezone.utc)
    monkeypatch.setattr(admin.tokens.audit, "clock", lambda: frozen)
    admin.tokens.issue_account_token(user)
    with pytest.raises(Conflict):  # the second creation would overwrite the first one's event
        admin.tokens.issue_account_token(user)
    assert len(list(AuditEvent.query(f"user#{user.user_id}"))) == 1
