"""The chalice CLI, with latchkey's gateway responses in every API definition.

`chalice deploy` publishes the REST API from a Swagger document it generates
and, on every deploy, overwrites whatever the API had: gateway responses
put afterwards (API Gateway's 403 for an unknown token instead of our 404
`{"error":"not found"}`) would be missing between the two steps, and for good
if the later step failed. Chalice cannot be told to add them
(aws/chalice#1268), so this runs its CLI with the generator extended: the
definition it publishes already carries them, and API Gateway applies it in
one PutRestApi.

    python scripts/chalice_cli.py deploy --stage dev
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def install() -> None:
    from chalice.deploy import swagger

    from infra.gateway import swagger_gateway_responses

    generate = swagger.SwaggerGenerator.generate_swagger
    if getattr(generate, "latchkey", False):
        return

    def generate_with_responses(self, app, rest_api=None):
        document = generate(self, app, rest_api)
        document["x-amazon-apigateway-gateway-responses"] = swagger_gateway_responses()
        return document

    generate_with_responses.latchkey = True  # type: ignore[attr-defined]
    swagger.SwaggerGenerator.generate_swagger = generate_with_responses  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    from chalice.cli import main

    sys.exit(main())
