"""Infrastructure as code for a latchkey stage, generated from the code it serves.

Tables come from the PynamoDB models, gateway answers from
`chalicelib.refusals`, IAM policies from what each Lambda function actually
calls: nothing here is a second copy that could drift from the application.
Every module returns plain dicts (CloudFormation/IAM/Swagger JSON); the
deploy script (`scripts/deploy.py`) decides where they go.
"""
