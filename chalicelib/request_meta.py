"""Where a request came from, as the audit trail records it.

A plain value object so that services can take it without importing
Chalice: the API adapter builds it from the Chalice request, the authorizer
from its REQUEST event.
"""
from dataclasses import dataclass

MAX_USER_AGENT = 256


@dataclass(frozen=True)
class RequestMeta:
    source_ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, source_ip, user_agent) -> "RequestMeta":
        """Normalised values: strings only, the user agent bounded in length."""
        ip = source_ip if isinstance(source_ip, str) and source_ip else None
        agent = user_agent if isinstance(user_agent, str) and user_agent else None
        return cls(ip[:64] if ip else None, agent[:MAX_USER_AGENT] if agent else None)

    @classmethod
    def from_event(cls, event: dict) -> "RequestMeta":
        """From an API Gateway (proxy or REQUEST authorizer) event."""
        identity = ((event or {}).get("requestContext") or {}).get("identity") or {}
        headers = {str(k).lower(): v for k, v in ((event or {}).get("headers") or {}).items()}
        return cls.of(identity.get("sourceIp"), identity.get("userAgent") or headers.get("user-agent"))


OPERATOR = RequestMeta(source_ip=None, user_agent="latchkey-manage")
