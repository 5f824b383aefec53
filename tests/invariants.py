"""Whole-table checks of the token invariants (tests only: they Scan).

A token is stored as four items written in one transaction; whatever fails,
these must hold between any two requests.
"""
from collections import Counter

from chalicelib.models.audit import AuditEvent
from chalicelib.models.tokens import Token, TokenCounter, TokenId, TokenName  # noqa: F401


def raw_items(model) -> list[dict]:
    """Every item of `model`'s table, as DynamoDB returns it."""
    connection = model._get_connection()
    items, start = [], None
    while True:
        page = connection.scan(exclusive_start_key=start, consistent_read=True)
        items.extend(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def token_items():
    tokens, ids, names, counters = {}, {}, set(), {}
    for raw in raw_items(Token):
        pk = raw["pk"]["S"]
        if pk.startswith("id#"):
            ids[pk] = raw["digest"]["S"]
        elif pk.startswith("name#"):
            names.add(pk)
        elif pk.startswith("count#"):
            counters[pk] = int(raw["count"]["N"])
        else:
            tokens[pk] = Token.from_raw_data(raw)
    return tokens, ids, names, counters


def assert_tokens_consistent() -> dict:
    """Every token has its id and name items, every counter equals its
    owner's tokens, nothing points at a missing token, and every stored
    token's creation is on the audit trail. Returns the tokens by digest."""
    tokens, ids, names, counters = token_items()
    # Retired (expired) tokens are listed but no longer counted; a
    # rotated-away token (issue 16) left its name and its place in the count
    # to its successor; it keeps its id (reuse detection, deletes).
    per_owner = Counter(t.owner for t in tokens.values() if not t.retired and t.rotated_at is None)
    for digest, token in tokens.items():
        assert ids.get(TokenId.key(int(token.token_id))) == digest, f"token {token.token_id} lacks its id item"
        if token.name:
            assert TokenName.key(token.owner, token.name) in names, f"token {token.token_id} lacks its name item"
    assert len(ids) == len(tokens), "an id item points at no token"
    assert len(names) == sum(1 for t in tokens.values() if t.name and t.rotated_at is None), (
        "a name item belongs to no token")
    for owner, count in per_owner.items():
        assert counters.get(TokenCounter.key(owner)) == count, f"counter of {owner} is not {count}"
    for key, count in counters.items():
        assert count == per_owner.get(key[len("count#"):], 0), f"{key} counts {count} tokens"
    created = {(e.pk, int(e.token_id)) for e in AuditEvent.scan() if e.action == "token.created"}
    for token in tokens.values():
        assert (token.owner, int(token.token_id)) in created, f"token {token.token_id} created off the record"
    return tokens
