"""What a project token may do, and the limits a token can carry.

Pure functions (the authorizer imports this module: nothing heavy here).

- Scopes: a project token may be limited to a subset of `SCOPES`; without
  `scopes` it has all of them, which is what Codacy's clients expect. Each
  route a project token can reach declares the scope it needs.
- `allowedCidrs`: the IPv4/IPv6 blocks a token may be used from, checked
  against the source address API Gateway reports (never a header).
- `maxUses`: how many authorized requests a token serves.
"""
from chalicelib.errors import BadRequest

COVERAGE_WRITE = "coverage:write"
ANALYSIS_WRITE = "analysis:write"
REPOSITORY_READ = "repository:read"
SCOPES = (COVERAGE_WRITE, ANALYSIS_WRITE, REPOSITORY_READ)

MAX_CIDRS = 20
MAX_USES = 1_000_000_000


def validate_scopes(value) -> str | None:
    """The stored form of a `scopes` field (space separated, in SCOPES
    order), or None for "all of them"."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise BadRequest(f"scopes: a non-empty list of {', '.join(SCOPES)}", field="scopes")
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise BadRequest(f"scopes: unknown scope {unknown[0]!r}; known: {', '.join(SCOPES)}", field="scopes")
    chosen = [scope for scope in SCOPES if scope in value]
    return None if len(chosen) == len(SCOPES) else " ".join(chosen)


def validate_cidrs(value) -> list[str] | None:
    """`allowedCidrs`: at most MAX_CIDRS IPv4/IPv6 blocks, normalised
    (`10.0.0.7/8` is refused: host bits set)."""
    if value is None:
        return None
    import ipaddress

    if not isinstance(value, list) or not value or len(value) > MAX_CIDRS:
        raise BadRequest(f"allowedCidrs: a list of 1 to {MAX_CIDRS} CIDR blocks", field="allowedCidrs")
    blocks = []
    for entry in value:
        try:
            if not isinstance(entry, str) or len(entry) > 64:
                raise ValueError
            blocks.append(str(ipaddress.ip_network(entry.strip(), strict=True)))
        except ValueError:
            raise BadRequest(f"allowedCidrs: {str(entry)[:64]!r} is not a CIDR block (e.g. 203.0.113.0/24, "
                             "2001:db8::/32)", field="allowedCidrs") from None
    return list(dict.fromkeys(blocks))


def validate_max_uses(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_USES:
        raise BadRequest(f"maxUses: an integer from 1 to {MAX_USES}", field="maxUses")
    return value


def source_allowed(source_ip: str | None, cidrs: list[str]) -> bool:
    """Whether `source_ip` (as API Gateway reports it) is in one of `cidrs`.
    No address, or an unparsable one, is outside every block."""
    import ipaddress

    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for block in cidrs:
        try:
            network = ipaddress.ip_network(block)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False
