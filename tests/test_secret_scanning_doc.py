"""docs/secret-scanning.md publishes a pattern per token kind and an offline
checksum check: both are run here, as published, against generated tokens
and near-misses."""
import re
from pathlib import Path

import pytest

from chalicelib import token_format
from chalicelib.token_format import ALPHABET, Kind

DOC = (Path(__file__).resolve().parent.parent / "docs" / "secret-scanning.md").read_text()


def pattern(kind: str) -> re.Pattern:
    return re.compile(re.search(rf"<!-- pattern:{kind} -->`([^`]+)`", DOC).group(1))


def checker():
    source = re.search(r"<!-- checksum -->\n```python\n(.*?)```", DOC, re.S).group(1)
    namespace: dict = {}
    exec(compile(source, "docs/secret-scanning.md", "exec"), namespace)  # noqa: S102 - the published snippet
    return namespace["is_latchkey_token"]


KINDS = {"account": Kind.ACCOUNT, "project": Kind.PROJECT}


def near_misses(token: str) -> list[str]:
    other = "lkp_" if token.startswith("lka_") else "lka_"
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    return [token[:-1], token + "x", "x" + token, token.replace("_", "-", 1), other[:3] + "x" + token[4:],
            token[:10] + "!" + token[11:], token[:10] + "é" + token[11:], flipped, token.upper()[:4] + token[4:]]


@pytest.mark.parametrize("kind", KINDS)
def test_patterns_find_generated_tokens_in_text(kind):
    for _ in range(200):
        token = token_format.generate(KINDS[kind])
        text = f'export CODACY_TOKEN="{token}"\nother line'
        assert pattern(kind).findall(text) == [token]
        assert checker()(token)
        other = "project" if kind == "account" else "account"
        assert not pattern(other).findall(text)


@pytest.mark.parametrize("kind", KINDS)
def test_near_misses_fail_the_pattern_or_the_checksum(kind):
    for _ in range(50):
        token = token_format.generate(KINDS[kind])
        for miss in near_misses(token):
            assert not (pattern(kind).fullmatch(miss) and checker()(miss)), miss
            assert token_format.parse(miss) is None or miss == token, miss


def test_the_published_check_agrees_with_the_service_on_random_strings():
    import random

    rng = random.Random(15)
    check = checker()
    for _ in range(2000):
        candidate = rng.choice(["lka_", "lkp_"]) + "".join(rng.choice(ALPHABET) for _ in range(33))
        assert check(candidate) == (token_format.parse(candidate) is not None)
