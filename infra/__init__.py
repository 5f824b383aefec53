"""Infrastructure as code for a latchkey stage, generated from the code it serves.

Tables come from the PynamoDB models, gateway answers from
`chalicelib.refusals`, IAM policies from what each Lambda function actually
calls: nothing here is a second copy that could drift from the application.
The template modules return plain dicts (CloudFormation/IAM/Swagger JSON);
`stage.py`, `package.py` and the deploy paths (`deploy.py`, `deploy_stack.py`,
`deploy_chalice.py`, `rehearsal.py`) decide where they go, behind the thin
command line of `scripts/deploy.py`.
"""
