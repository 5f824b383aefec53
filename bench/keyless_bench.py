"""The keyless CI exchange's cost: exact storage calls of
`POST /api/v3/oidc/token` (success, and each refusal), and its latency on
in-process moto, against an issuer on 127.0.0.1 (tests/oidc_issuer.py).
Run as its own process (the environment must be set before chalicelib is
imported):

    python -m bench.keyless_bench ROUNDS

and prints one JSON document.
"""
import dataclasses
import json
import sys
import time

from bench.calls import count_calls
from bench.stats import summary


def measure(rounds: int) -> dict:
    from moto import mock_aws

    from tests.helpers import Clock
    from tests.keyless_world import github_claims
    from tests.oidc_issuer import LocalIssuer

    with mock_aws(), LocalIssuer() as issuer:
        from chalicelib.access import Principal
        from chalicelib.repository_ref import RepositoryRef
        from chalicelib.services.keyless import ExchangeRefused
        from chalicelib.settings import CiIssuer, get_settings
        from chalicelib.store.tables import ensure_tables
        from chalicelib.token_format import Kind
        from chalicelib.wiring import Root

        ensure_tables()
        admin = Root().admin
        account, _ = admin.seed("bench@example.com", "Bench", RepositoryRef("gh", "bench", "keyless"))
        settings = dataclasses.replace(
            get_settings(), stage="dev", max_project_tokens=10_000,
            ci_oidc_issuers=(CiIssuer("github", "github", issuer.issuer, "latchkey"),))
        clock = Clock()
        principal = Principal(Kind.ACCOUNT, int(account.token.token_id),
                              user_id=int(admin.user("bench@example.com").user_id))
        keyless = Root(settings=settings, clock=clock)
        keyless.publishers.create(
            principal, RepositoryRef("gh", "bench", "keyless"),
            {"issuer": "github", "repositoryId": 2002, "repositoryOwnerId": 1001})
        exchange = keyless.exchange

        def mint(**claims):
            return issuer.mint(github_claims(**claims), now=clock.now.timestamp())

        def attempt(token):
            try:
                exchange.exchange(token)
                return "201"
            except ExchangeRefused as refused:
                return refused.code

        attempt(mint())  # warm: discovery + JWKS fetched, every client created
        cases = {}
        replayed = mint()
        for name, token in (("minted", replayed), ("replayed-token", replayed),
                            ("no-publisher", mint(repository_id="9")), ("invalid-token", mint(aud="pypi")),
                            ("malformed", "not-a-jwt")):
            with count_calls() as calls:
                outcome = attempt(token)
            cases[name] = {"outcome": outcome, "calls": dict(calls.summary())}
        timings = []
        for _ in range(rounds):
            token = mint()
            start = time.perf_counter()
            assert attempt(token) == "201"
            timings.append(time.perf_counter() - start)
        return {"cases": cases, "exchange": summary(timings), "jwks_fetches": issuer.fetches("/jwks")}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
