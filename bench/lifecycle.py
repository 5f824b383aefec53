"""What the lifecycle's limits (issue 16) cost the authorizer: a plain
token, one with scopes and allowedCidrs (checked from the one read), one in
its rotation grace period, and a maxUses token (the one case with a second
call, the conditional use count). In-process moto, in its own process:

    python -m bench.lifecycle --rounds N

prints one JSON document.
"""
import argparse
import json

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/api/v3/user"


def measure(rounds: int) -> dict:
    from moto import mock_aws

    from bench.authorizer_bench import bare_client
    from bench.calls import count_calls, live_clients
    from bench.stats import interleaved_samples, summary

    with mock_aws():
        from chalicelib import token_format
        from chalicelib.authorizer import TokenAuthorizer
        from chalicelib.models.tokens import Token
        from chalicelib.repository_ref import RepositoryRef
        from chalicelib.settings import get_settings
        from chalicelib.store.tables import ensure_tables
        from chalicelib.wiring import Root

        ensure_tables()
        admin = Root().admin
        account, project = admin.seed("bench@example.com", "Bench", RepositoryRef("gh", "bench", "repo"))
        user = admin.user("bench@example.com")
        tokens = admin.tokens
        limited_project = admin.tokens.create_project_token(
            _principal(user), RepositoryRef("gh", "bench", "repo"), scopes=["coverage:write"],
            allowed_cidrs=[f"10.{i}.0.0/16" for i in range(19)] + ["127.0.0.0/8"])
        in_grace = tokens.issue_account_token(user)
        tokens.rotate_account_token(_principal(user), int(in_grace.token.token_id), grace_period_seconds=86400)
        counted = tokens.issue_account_token(user, max_uses=1_000_000_000)
        kinds = {
            "plain": ("api-token", account.value),
            "plain_project": ("project-token", project.value),
            "scopes_and_20_cidrs": ("project-token", limited_project.value),
            "rotated_in_grace": ("api-token", in_grace.value),
            "max_uses": ("api-token", counted.value),
        }
        authorizer = TokenAuthorizer(Root())
        events = {
            name: {"type": "REQUEST", "methodArn": ARN, "headers": {header: value},
                   "requestContext": {"identity": {"sourceIp": "127.0.0.1"}}}
            for name, (header, value) in kinds.items()
        }
        for event in events.values():  # first use: clients exist, lastUsedAt written
            assert authorizer(event)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        results = {}
        clients = live_clients()
        for name, event in events.items():
            with count_calls(clients) as calls:
                authorizer(event)
            results[name] = {"calls": dict(calls.summary())}
        client = bare_client()
        table = get_settings().tokens_table
        key = {"pk": {"S": token_format.digest(account.value)}}
        functions = {name: (lambda i, e=event: authorizer(e)) for name, event in events.items()}
        functions["get_item"] = lambda i: client.get_item(TableName=table, Key=key, ConsistentRead=True)
        for name, values in interleaved_samples(functions, rounds, warmup=5).items():
            results.setdefault(name, {}).update(summary(values))
        # The authorizer's own work for 20 blocks, the match in the last one
        # (the rest of a decision's time is the storage call's).
        from chalicelib.scopes import source_allowed

        blocks = list(Token.get(token_format.digest(limited_project.value)).allowed_cidrs)
        results["cidr_check"] = summary([
            _timed(lambda: source_allowed("127.0.0.1", blocks)) for _ in range(rounds)])
        return results


def _timed(function) -> float:
    import time

    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _principal(user):
    from chalicelib.access import Principal
    from chalicelib.token_format import Kind

    return Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(measure(args.rounds)))


if __name__ == "__main__":
    main()
