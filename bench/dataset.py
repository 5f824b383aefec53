"""Bulk data for the scale figures, written straight into moto's backend.

Going through the API (or even BatchWriteItem) would spend minutes on
100,000 tokens; the backend's own `put_item` takes the same DynamoDB-JSON
items in seconds. The items are serialized by the real PynamoDB models, so
they are exactly what the service writes.

Per 1,000 tokens: 100 users (each with a grant), 10 repositories, half
account and half project tokens. Sample tokens (plaintext, for the
measurements) are recorded as used just now, so that timing the authorizer
measures the decision and not the at-most-every-5-minutes write.
"""
import itertools
import random
from collections import defaultdict
from datetime import datetime, timezone

from chalicelib import token_format
from chalicelib.models.directory import Grant, Organization, Repository, User, org_key, repo_sort_key, user_key
from chalicelib.models.tokens import Token, TokenCounter, repository_owner, user_owner
from chalicelib.owner_key import OwnerKey
from chalicelib.settings import get_settings
from chalicelib.token_format import Kind

REGION = "us-east-1"
_ids = itertools.count(1)


def _tables():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    settings = get_settings()
    return backend.get_table(settings.tokens_table), backend.get_table(settings.directory_table)


class Dataset:
    """What has been loaded so far, and the plaintext of a few tokens."""

    def __init__(self, seed: int = 6):
        self.random = random.Random(seed)
        self.tokens = 0
        self.samples: list[str] = []
        self.listing_user: int | None = None
        self.listing_repo: str | None = None
        self.now = datetime.now(timezone.utc)
        self.snapshots: dict[str, list] = {}
        self.repository_ids: dict[str, int] = {}

    def _token(self, kind: Kind, owner: str, last_used=None) -> tuple[str, dict]:
        body = "".join(self.random.choice(token_format.ALPHABET) for _ in range(token_format.BODY_LENGTH))
        head = kind.prefix + body
        value = head + token_format.checksum(head)
        token = Token(
            token_format.digest(value), kind=kind.value, owner=owner, token_id=next(_ids),
            hint=token_format.hint(value), created_at=self.now, expires_at=None,
            last_used_at=last_used, disabled=False,
        )
        return value, token.serialize()

    def grow_to(self, total_tokens: int, samples: int = 200) -> None:
        """Add users, organizations, repositories, grants and tokens up to `total_tokens`."""
        tokens_table, directory_table = _tables()
        while self.tokens < total_tokens:
            provider, org = "gh", f"org{self.tokens // 1000}"
            directory_table.put_item(Organization(
                org_key(provider, org), "org", org_id=next(_ids), provider=provider, name=org,
                created_at=self.now).serialize())
            repos = [f"repo{i}" for i in range(10)]
            repo_ids = {}
            for name in repos:
                repo_ids[name] = next(_ids)
                self.repository_ids.setdefault(f"{provider}/{org}/{name}", repo_ids[name])
                directory_table.put_item(Repository(
                    org_key(provider, org), repo_sort_key(name), repository_id=repo_ids[name], provider=provider,
                    owner=org, name=name, created_at=self.now).serialize())
            users = [next(_ids) for _ in range(100)]
            for index, user_id in enumerate(users):
                directory_table.put_item(User(
                    user_key(user_id), "user", user_id=user_id, email=f"u{user_id}@example.com",
                    name=f"u{user_id}", created_at=self.now).serialize())
                target = f"{provider}/{org}/{repos[index % 10]}"
                directory_table.put_item(Grant(
                    user_key(user_id), f"grant#{target}", user_id=user_id, target=target, role="write",
                    created_at=self.now).serialize())
            for index in range(min(1000, total_tokens - self.tokens)):
                sample = len(self.samples) < samples and index % 5 == 0
                if index % 2 == 0:
                    kind, owner = Kind.ACCOUNT, user_owner(users[index % 100])
                else:
                    kind, owner = Kind.PROJECT, repository_owner(repo_ids[repos[index % 10]])
                value, item = self._token(kind, owner, self.now if sample else None)
                tokens_table.put_item(item)
                if sample and kind is Kind.ACCOUNT:
                    self.samples.append(value)
                self.tokens += 1

    def add_listing_owners(self, count: int = 100) -> tuple[str, str]:
        """A user and a repository with `count` tokens each (and their counters)."""
        tokens_table, directory_table = _tables()
        user_id = next(_ids)
        directory_table.put_item(User(
            user_key(user_id), "user", user_id=user_id, email=f"lister{user_id}@example.com",
            name="lister", created_at=self.now).serialize())
        owners = (user_owner(user_id), repository_owner(self.repository_ids["gh/org0/repo0"]))
        for owner in owners:
            kind = Kind.ACCOUNT if OwnerKey.parse(owner).is_user else Kind.PROJECT
            for _ in range(count):
                tokens_table.put_item(self._token(kind, owner)[1])
            tokens_table.put_item(TokenCounter(TokenCounter.key(owner), count=count).serialize())
        return owners

    def snapshot(self, name: str) -> None:
        """Remember the tables' contents as they are now, under `name`.

        Item objects are shared, only moto's key -> item maps are copied:
        `use(name)` then switches a table between sizes in an instant, so the
        sizes can be measured in alternating blocks, under the same machine
        load, instead of one after the other.
        """
        self.snapshots[name] = [
            (table, defaultdict(dict, {key: dict(value) if isinstance(value, dict) else value
                                       for key, value in table.items.items()}))
            for table in _tables()
        ]

    def use(self, name: str) -> None:
        for table, items in self.snapshots[name]:
            table.items = items
