"""A local rehearsal of `make deploy`: the stack's template without what
moto's CloudFormation cannot deploy, and whatever depends on it."""
import json
import re

# moto's CloudFormation creates a REST API without its definition (no
# methods), so its deployment fails: a rehearsal leaves these out, and says so.
REHEARSAL_SKIPPED_TYPES = ("AWS::ApiGateway::", "AWS::WAFv2::WebACLAssociation")


def _references(value) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner.split(".")[0])
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= _references(inner[1])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _placeholder_settings(resource: dict, dropped: set[str]) -> None:
    """A function whose settings name a skipped resource (the console's
    Cognito client, whose callback URLs name the REST API) is still
    rehearsed: those settings become a placeholder, not a reason to drop it."""
    variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    for key, value in variables.items():
        if _references(value) & dropped:
            variables[key] = "not-deployed-in-rehearsal"


def rehearsal_template(template: dict) -> tuple[dict, list[str]]:
    """`template` without what moto cannot deploy and whatever depends on it."""
    template = json.loads(json.dumps(template))
    resources = template["Resources"]
    dropped = {name for name, r in resources.items() if r["Type"].startswith(REHEARSAL_SKIPPED_TYPES)}
    while True:
        for name, resource in resources.items():
            if name not in dropped:
                _placeholder_settings(resource, dropped)
        more = {name for name, r in resources.items() if name not in dropped
                and ((_references(r) | set(r.get("DependsOn") or [])) & dropped)}
        if not more:
            break
        dropped |= more
    for name in dropped:
        resources.pop(name)
    template["Outputs"] = {k: v for k, v in template.get("Outputs", {}).items() if not _references(v) & dropped}
    return template, sorted(dropped)
