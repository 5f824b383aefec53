"""Faults at every step of every write path: the client gets a 503 JSON
error with `Retry-After` (or, for best-effort steps, its normal answer),
never a 500, and the tables never hold a half-made token.

Each path is first run clean to learn its sequence of AWS calls; then it is
run again once per (step, kind of failure), each time on fresh actors.
"""
import json

import pytest

from chalicelib.errors import Unavailable
from chalicelib.models.tokens import repository_owner as owner_of_id
from chalicelib.models.tokens import user_owner
from chalicelib.repository_ref import RepositoryRef
from tests.faults import APPLIED_KINDS, KINDS
from tests.helpers import tally
from tests.invariants import assert_tokens_consistent

UNAVAILABLE = {"error": "service temporarily unavailable, retry later"}


def repository_owner(full: str) -> str:
    """The token owner of the live repository `full` (owners are keyed by id)."""
    from chalicelib.store.directory import DirectoryStore

    return owner_of_id(DirectoryStore().repository(RepositoryRef.parse(full)).repository_id)


def request(api, method, path, token, body=None):
    headers = {"api-token": token}
    raw = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        headers["content-type"] = "application/json"
    response = api.client.http.request(method, path, headers=headers, body=raw)
    text = response.body.decode() if response.body else ""
    return response.status_code, (json.loads(text) if text else None), response.headers


class Flow:
    """One write path: `setup()` (unfaulted) returns a state; `run(state)` the request."""

    def __init__(self, api, make, admin):
        self.api, self.make, self.admin = api, make, admin
        self.n = 0

    def fresh_user(self, repo=None):
        self.n += 1
        user = self.make.user(f"user{self.n}@example.com")
        if repo:
            user.grant(repo, "admin")
        return user

    def fresh_repo(self):
        self.n += 1
        return self.make.repo(f"gh/acme/repo{self.n}")


class CreateAccountToken(Flow):
    ok = 200

    def setup(self):
        user = self.fresh_user()
        return {"owner": user_owner(user.user_id), "token": user.token()}

    def run(self, state):
        return request(self.api, "POST", "/api/v3/user/tokens", state["token"], {"name": "ci"})


class CreateProjectToken(Flow):
    ok = 201

    def setup(self):
        repo = self.fresh_repo()
        return {"owner": repository_owner(repo), "repo": repo, "token": self.fresh_user(repo).token()}

    def run(self, state):
        path = "/api/v3/organizations/{}/{}/repositories/{}/tokens".format(*state["repo"].split("/"))
        return request(self.api, "POST", path, state["token"], {"name": "ci"})


class DeleteAccountToken(Flow):
    ok = 204

    def setup(self):
        user = self.fresh_user()
        victim = self.admin.tokens.issue_account_token(self.admin.user(user.email), name="old").token
        return {"owner": user_owner(user.user_id), "token": user.token(), "id": int(victim.token_id)}

    def run(self, state):
        return request(self.api, "DELETE", f"/api/v3/user/tokens/{state['id']}", state["token"])


class DeleteProjectToken(Flow):
    ok = 204

    def setup(self):
        repo = self.fresh_repo()
        admin = self.fresh_user(repo)
        victim = self.admin.tokens.create_project_token(admin.principal(), RepositoryRef.parse(repo), name="old").token
        return {"owner": repository_owner(repo), "repo": repo, "token": admin.token(), "id": int(victim.token_id)}

    def run(self, state):
        path = "/api/v3/organizations/{}/{}/repositories/{}/tokens/{}".format(*state["repo"].split("/"), state["id"])
        return request(self.api, "DELETE", path, state["token"])


FLOWS = [CreateAccountToken, CreateProjectToken, DeleteAccountToken, DeleteProjectToken]


def owned(owner):
    """An owner's tokens, checked against its counter (one Query, one GetItem).

    The whole-table invariants are checked once per test, at its end: each
    run uses fresh owners, so a half-made state of any run is still there.
    """
    from chalicelib.models.tokens import Token
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore

    tokens = list(Token.owner_index.query(owner))
    assert TokenStore(get_settings()).count(owner) == len(tokens), f"counter of {owner} is off"
    return tokens


def kinds_for(operation):
    kinds = list(KINDS)
    if operation.endswith("TransactWriteItems"):
        kinds.append("cancelled")
    if operation.split(".")[1].startswith(("Put", "Update", "Delete", "Transact", "BatchWrite")):
        kinds.extend(APPLIED_KINDS)
    return kinds


@pytest.mark.parametrize("flow_class", FLOWS, ids=lambda f: f.__name__)
@pytest.mark.slow  # each step x each kind of failure
def test_faults_every_step_of_token_writes_is_503_or_harmless(api, make, admin, faults, flow_class):
    flow = flow_class(api, make, admin)
    state = flow.setup()
    faults.reset()
    assert flow.run(state)[0] == flow.ok
    steps = faults.ops()
    faults.reset()
    assert steps[0] == "dynamodb.GetItem"  # the authorizer's one read
    runs = 0
    for index, operation in enumerate(steps, start=1):
        for kind in kinds_for(operation):
            state = flow.setup()
            before = {int(t.token_id) for t in owned(state["owner"])}
            faults.reset()
            faults.fail(None, nth=index, kind=kind)
            status, body, headers = flow.run(state)
            faults.reset()
            runs += 1
            where = f"{flow_class.__name__} step {index} {operation} {kind}"
            after = {int(t.token_id) for t in owned(state["owner"])}  # also checks every invariant
            best_effort = index == 2 and operation == "dynamodb.UpdateItem"  # "last used"
            if best_effort or kind == "replay":
                assert status == flow.ok, where
            elif index == 1:
                # the authorizer itself failed: API Gateway's AUTHORIZER_FAILURE
                assert (status, body, headers.get("Retry-After")) == (503, UNAVAILABLE, "1"), where
                assert headers["x-amzn-ErrorType"] == "AUTHORIZER_FAILURE", where
            else:
                assert (status, body, headers.get("Retry-After")) == (503, UNAVAILABLE, "1"), where
            creating = flow.ok in (200, 201)
            applied = kind in APPLIED_KINDS and operation.endswith("TransactWriteItems")
            if creating:
                new = after - before
                if status == flow.ok:
                    assert new == {(body.get("data") or body)["id"]}, where
                else:
                    # never returned: then it must not exist, or exist visibly (counted and listed)
                    assert len(new) == (1 if applied else 0), where
            else:
                gone = state["id"] not in after
                assert gone == (status == flow.ok or applied), where
                if status != flow.ok and not applied:
                    # the revoke can simply be sent again
                    assert flow.run(state)[0] == flow.ok, where
    tally("faults injected (test_faults.py)", runs)
    assert_tokens_consistent()
    assert runs >= len(steps) * len(KINDS)


def test_faults_lost_answer_of_a_create_is_visible_and_counted(api, make, faults):
    alice = make.user()
    token = alice.token()
    faults.fail("TransactWriteItems", kind="lost")
    status, _body, headers = request(api, "POST", "/api/v3/user/tokens", token, {"name": "ci"})
    assert (status, headers["Retry-After"]) == (503, "1")
    listed = api.get("/api/v3/user/tokens", token)[1]
    assert listed["pagination"]["total"] == 2
    assert sorted(t["name"] or "" for t in listed["data"]) == ["", "ci"]


def test_faults_retried_create_after_lost_answer_is_one_token(api, make, faults):
    """botocore resends a timed-out TransactWriteItems: without DynamoDB's
    request-token idempotency the second send finds the token already there.
    That is this very write, not a collision: the create succeeds, once."""
    from chalicelib.models.tokens import Token

    alice = make.user()
    token = alice.token()
    faults.fail("TransactWriteItems", kind="resend")
    status, body, _ = request(api, "POST", "/api/v3/user/tokens", token, {"name": "ci"})
    assert status == 200
    assert api.get("/api/v3/user", body["token"])[0] == 200
    mine = list(Token.owner_index.query(user_owner(alice.user_id)))
    assert len(mine) == 2 and len(owned(user_owner(alice.user_id))) == 2


def test_faults_authorizer_down_is_gateway_503(api, make, faults):
    token = make.user().token()
    faults.fail("GetItem", kind="5xx")
    status, body, headers = request(api, "GET", "/api/v3/user", token)
    assert (status, body) == (503, UNAVAILABLE)
    assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"


def test_faults_touch_failure_never_fails_the_request(api, make, faults):
    token = make.user().token()
    faults.fail("UpdateItem", kind="timeout")
    assert api.get("/api/v3/user", token)[0] == 200


# -- the operators' fan-out paths ----------------------------------------------

def admin_steps(faults, action):
    faults.reset()
    action()
    steps = faults.ops()
    faults.reset()
    return steps


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow  # each step of the fan-out
def test_faults_disable_user_fan_out_resumes(api, make, admin, faults, kind):
    """A failed fan-out raises Unavailable (the CLI says so); running it again
    finishes it. In between, the user's leftover tokens reach nothing."""
    probe = make.user("probe@example.com")
    for _ in range(3):
        probe.token()
    steps = admin_steps(faults, lambda: admin.disable_user("probe@example.com"))
    for index in range(1, len(steps) + 1):
        email = f"u{index}-{kind}@example.com"
        user = make.user(email)
        tokens = [user.token() for _ in range(3)]
        faults.fail(None, nth=index, kind=kind)
        try:
            admin.disable_user(email)
            failed = False
        except Unavailable:
            failed = True
        faults.reset()
        tally("faults injected (test_faults.py)")
        audit_put = steps[index - 1] == "dynamodb.PutItem"
        assert failed != audit_put, (index, steps[index - 1])  # the trail of a fan-out is best effort
        if index > steps.index("dynamodb.UpdateItem") + 1:  # the user is disabled by then
            for value in tokens:
                assert api.get("/api/v3/user", value) == (404, {"error": "not found"})
        admin.disable_user(email)
        assert all(t.disabled for t in owned(user_owner(user.user_id)))
    assert_tokens_consistent()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow  # each step of the fan-out
def test_faults_delete_repository_fan_out_resumes(api, make, admin, faults, kind):
    make.repo("gh/acme/probe")
    for _ in range(2):
        make.project_token("gh/acme/probe")
    steps = admin_steps(faults, lambda: admin.delete_repository(RepositoryRef("gh", "acme", "probe")))
    for index in range(1, len(steps) + 1):
        name = f"r{index}{kind}"
        full = make.repo(f"gh/acme/{name}")
        values = [make.project_token(full) for _ in range(2)]
        owner = repository_owner(full)
        faults.fail(None, nth=index, kind=kind)
        with pytest.raises(Unavailable):
            admin.delete_repository(RepositoryRef("gh", "acme", name))
        faults.reset()
        tally("faults injected (test_faults.py)")
        assert_tokens_consistent()
        # Resume: the rerun finishes, even though the repository may already be gone.
        try:
            admin.delete_repository(RepositoryRef("gh", "acme", name))
        except Exception as error:  # NotFound only if nothing was left
            assert type(error).__name__ == "NotFound" and not owned(owner)
        assert owned(owner) == []
        # A same-named repository starts clean: the old tokens stay dead.
        make.repo(full)
        for value in values:
            assert api.get(f"/api/v3/organizations/gh/acme/repositories/{name}", value)[0] == 404
    assert_tokens_consistent()


def test_faults_retried_delete_after_lost_answer_is_204_once(api, make, faults):
    """botocore resends a DELETE's timed-out TransactWriteItems whose first
    send committed (issue 12): the resend finds the token gone. That is this
    very delete (its own audit event is on record): 204, counted once."""
    from chalicelib.models.audit import AuditEvent

    alice = make.user()
    token = alice.token()
    created = api.post("/api/v3/user/tokens", token, body={"name": "ci"})[1]
    faults.fail("TransactWriteItems", kind="resend")
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token) == (204, None)
    assert faults.injected == 1
    assert api.get("/api/v3/user", created["token"]) == (404, {"error": "not found"})
    listed = api.get("/api/v3/user/tokens", token)[1]
    assert listed["pagination"]["total"] == 1 == len(listed["data"])
    deletions = [e for e in AuditEvent.scan() if e.action == "token.deleted" and int(e.token_id) == created["id"]]
    assert len(deletions) == 1
    assert_tokens_consistent()
    # a new DELETE of a token already gone is still 404
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token) == (404, {"error": "not found"})
