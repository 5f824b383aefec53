"""A stage at the root of a custom domain, so that every Codacy client reaches it.

API Gateway serves a stage at `https://{id}.execute-api.{region}.amazonaws.com/api/`.
The Scala coverage reporter (the one Codacy's `get.sh` installs) builds its
URL as `new URL(new URL(base), "/2.0")` (codacy-coverage-reporter,
api-scala/.../client/CodacyClient.scala): an absolute path, which drops
`/api`, so it can only reach a server at the root of a host. A regional
custom domain with an empty base path mapping serves the stage there.

Both deploy paths use this module: `custom_domain_template` adds the
domain's resources and outputs to the packaged template, and
`ensure_custom_domain` creates or corrects them with boto3.
"""
import re

DOMAIN_LOGICAL_ID = "ApiCustomDomain"
MAPPING_LOGICAL_ID = "ApiCustomDomainRootMapping"
SECURITY_POLICY = "TLS_1_2"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME = re.compile(rf"(?=.{{4,253}}$){_LABEL}(\.{_LABEL})+")
CERTIFICATE = re.compile(r"arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+")

WHY_A_DOMAIN = (
    "the Scala coverage reporter (codacy-coverage-reporter, what Codacy's get.sh installs) builds its URL as "
    'new URL(new URL(base), "/2.0"), which drops the stage path /api of the execute-api URL, so it can only '
    "reach latchkey at the root of a host. Set DOMAIN_NAME=<host> and CERTIFICATE_ARN=<ACM certificate ARN, in "
    "the stage's region> to serve the stage at the root of a custom domain (see docs/deployment.md)."
)


class DomainError(ValueError):
    """DOMAIN_NAME / CERTIFICATE_ARN are unusable; the message says why."""


def check(domain_name: str | None, certificate_arn: str | None) -> tuple[str, str] | None:
    """The (domain, certificate ARN) to serve the stage at, None for none, or
    DomainError: both or neither, a lower-case host name, an ACM ARN."""
    domain_name = (domain_name or "").strip()
    certificate_arn = (certificate_arn or "").strip()
    if not domain_name and not certificate_arn:
        return None
    if not domain_name or not certificate_arn:
        missing = "DOMAIN_NAME" if not domain_name else "CERTIFICATE_ARN"
        raise DomainError(f"{missing} is missing: a custom domain needs both DOMAIN_NAME and CERTIFICATE_ARN")
    if not HOSTNAME.fullmatch(domain_name):
        raise DomainError(f"DOMAIN_NAME: a lower-case host name such as latchkey.example.com, got {domain_name!r}")
    if not CERTIFICATE.fullmatch(certificate_arn):
        raise DomainError("CERTIFICATE_ARN: an ACM certificate ARN "
                          f"(arn:aws:acm:<region>:<account>:certificate/<id>), got {certificate_arn!r}")
    return domain_name, certificate_arn


def certificate_region(certificate_arn: str) -> str:
    match = CERTIFICATE.fullmatch(certificate_arn)
    if not match:
        raise DomainError(f"CERTIFICATE_ARN: not an ACM certificate ARN: {certificate_arn!r}")
    return match.group(1)


def base_url(domain_name: str) -> str:
    """The URL to give every client (no path: the stage is at the root)."""
    return f"https://{domain_name}"


def custom_domain_template(domain_name: str, certificate_arn: str, rest_api_logical_id: str = "RestAPI") -> dict:
    """`{"Resources", "Outputs"}` to merge into the packaged (SAM) template: a
    regional custom domain with TLS 1.2, the stage mapped at its root (no
    base path), and outputs naming the DNS target."""
    return {
        "Resources": {
            DOMAIN_LOGICAL_ID: {
                "Type": "AWS::ApiGateway::DomainName",
                "Properties": {
                    "DomainName": domain_name,
                    "RegionalCertificateArn": certificate_arn,
                    "EndpointConfiguration": {"Types": ["REGIONAL"]},
                    "SecurityPolicy": SECURITY_POLICY,
                },
            },
            MAPPING_LOGICAL_ID: {
                "Type": "AWS::ApiGateway::BasePathMapping",
                # No BasePath: the stage answers at the root of the domain.
                "Properties": {
                    "DomainName": {"Ref": DOMAIN_LOGICAL_ID},
                    "RestApiId": {"Ref": rest_api_logical_id},
                    # SAM's reference to the API's stage (it orders the mapping after it).
                    "Stage": {"Ref": f"{rest_api_logical_id}.Stage"},
                },
            },
        },
        "Outputs": {
            "CustomDomainBaseUrl": {
                "Description": "The base URL to give every client (CODACY_API_BASE_URL, --codacy-api-base-url, "
                               "the npm reporter's --endpoint)",
                "Value": base_url(domain_name),
            },
            "CustomDomainTarget": {
                "Description": f"DNS: point {domain_name} here (a CNAME, or a Route 53 alias A/AAAA record "
                               "with CustomDomainHostedZoneId)",
                "Value": {"Fn::GetAtt": [DOMAIN_LOGICAL_ID, "RegionalDomainName"]},
            },
            "CustomDomainHostedZoneId": {
                "Description": "The hosted zone of CustomDomainTarget, for a Route 53 alias record",
                "Value": {"Fn::GetAtt": [DOMAIN_LOGICAL_ID, "RegionalHostedZoneId"]},
            },
        },
    }


def ensure_custom_domain(apigateway, domain_name: str, certificate_arn: str, rest_api_id: str,
                         stage_name: str, say=print) -> dict:
    """Create or correct the regional custom domain and its root mapping (deploy
    path); answer {"target", "hostedZoneId", "baseUrl"}. Idempotent."""
    try:
        domain = apigateway.get_domain_name(domainName=domain_name)
        patches = []
        if domain.get("regionalCertificateArn") != certificate_arn:
            patches.append({"op": "replace", "path": "/regionalCertificateArn", "value": certificate_arn})
        if domain.get("securityPolicy") != SECURITY_POLICY:
            patches.append({"op": "replace", "path": "/securityPolicy", "value": SECURITY_POLICY})
        if patches:
            domain = apigateway.update_domain_name(domainName=domain_name, patchOperations=patches)
            say(f"updated custom domain {domain_name}")
        else:
            say(f"custom domain {domain_name} is up to date")
    except apigateway.exceptions.NotFoundException:
        domain = apigateway.create_domain_name(
            domainName=domain_name, regionalCertificateArn=certificate_arn,
            endpointConfiguration={"types": ["REGIONAL"]}, securityPolicy=SECURITY_POLICY,
        )
        say(f"created custom domain {domain_name}")
    try:
        apigateway.create_base_path_mapping(domainName=domain_name, restApiId=rest_api_id, stage=stage_name)
        say(f"mapped {base_url(domain_name)}/ to stage {stage_name!r} of REST API {rest_api_id}")
    except apigateway.exceptions.ConflictException:  # the root is mapped already: to this stage?
        root = apigateway.get_base_path_mapping(domainName=domain_name, basePath="(none)")
        if root.get("restApiId") != rest_api_id or root.get("stage") != stage_name:
            apigateway.update_base_path_mapping(domainName=domain_name, basePath="(none)", patchOperations=[
                {"op": "replace", "path": "/restapiId", "value": rest_api_id},
                {"op": "replace", "path": "/stage", "value": stage_name},
            ])
            say(f"re-mapped {base_url(domain_name)}/ to stage {stage_name!r} of REST API {rest_api_id}")
        else:
            say(f"{base_url(domain_name)}/ already maps to stage {stage_name!r}")
    return {"target": domain.get("regionalDomainName"), "hostedZoneId": domain.get("regionalHostedZoneId"),
            "baseUrl": base_url(domain_name)}
