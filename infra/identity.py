"""Who may sign in to the console: an Amazon Cognito user pool with a
hosted sign-in domain and an app client for the authorization code flow
with PKCE, as CloudFormation, and the settings that point the API at it.

Self-contained on purpose: `console_identity(stage)` returns the resources,
the environment variables the API function needs (`OIDC_ISSUER`,
`OIDC_CLIENT_ID`, resolved by CloudFormation) and the outputs; a stage that
names its own issuer (`OIDC_ISSUER` and `OIDC_CLIENT_ID` in its settings)
gets none of it. The pool admits no self sign-up: operators create users
(the first admin included, docs/deployment.md), or federate the pool with
the company's identity provider.
"""
from chalicelib.stage_names import stage_names

API_STAGE_DEFAULT = "api"


def _callback_urls(api_stage: str, console_url: str | None) -> list:
    api = {"Fn::Sub": f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{api_stage}"}
    urls: list = [{"Fn::Join": ["", [api, "/console/callback"]]}]
    if console_url:
        urls.append(console_url.rstrip("/") + "/console/callback")
    return urls


def console_identity(stage: str, *, api_stage: str = API_STAGE_DEFAULT, console_url: str | None = None,
                     retained: bool = False) -> dict:
    """{"resources", "environment", "outputs"} for the stage's console sign-in."""
    policy = "Retain" if retained else "Delete"
    callbacks = _callback_urls(api_stage, console_url)
    signed_out = [{"Fn::Join": ["", [{"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                                                 f"/{api_stage}"}, "/console/signin"]]}]
    resources = {
        "ConsoleUserPool": {
            "Type": "AWS::Cognito::UserPool",
            "DeletionPolicy": policy,
            "UpdateReplacePolicy": policy,
            "Properties": {
                "UserPoolName": stage_names(stage).qualified("console"),
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "UsernameConfiguration": {"CaseSensitive": False},
                # Nobody signs themselves up: operators invite, or the company IdP federates.
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
                "MfaConfiguration": "OPTIONAL",
                "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                "Policies": {"PasswordPolicy": {
                    "MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True,
                    "RequireNumbers": True, "RequireSymbols": False, "TemporaryPasswordValidityDays": 3,
                }},
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                "DeletionProtection": "ACTIVE" if retained else "INACTIVE",
                "UserPoolTags": {"latchkey:stage": stage},
            },
        },
        "ConsoleUserPoolDomain": {
            "Type": "AWS::Cognito::UserPoolDomain",
            "Properties": {
                # Hosted sign-in at https://<domain>.auth.<region>.amazoncognito.com (unique per account).
                "Domain": {"Fn::Sub": stage_names(stage).qualified("${AWS::AccountId}")},
                "UserPoolId": {"Ref": "ConsoleUserPool"},
            },
        },
        "ConsoleUserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "ClientName": stage_names(stage).qualified("console"),
                "UserPoolId": {"Ref": "ConsoleUserPool"},
                # A public client: the authorization code flow with PKCE, no secret.
                "GenerateSecret": False,
                "AllowedOAuthFlowsUserPoolClient": True,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid", "email"],
                "CallbackURLs": callbacks,
                "LogoutURLs": signed_out,
                "SupportedIdentityProviders": ["COGNITO"],
                "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "EnableTokenRevocation": True,
                "IdTokenValidity": 5,
                "AccessTokenValidity": 5,
                "RefreshTokenValidity": 60,
                "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "minutes"},
            },
        },
    }
    issuer = {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${ConsoleUserPool}"}
    environment = {"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": {"Ref": "ConsoleUserPoolClient"}}
    outputs = {
        "ConsoleUserPoolId": {"Value": {"Ref": "ConsoleUserPool"}},
        "ConsoleClientId": {"Value": {"Ref": "ConsoleUserPoolClient"}},
        "ConsoleIssuer": {"Value": issuer},
        "ConsoleSignInDomain": {
            "Value": {"Fn::Sub": "https://${ConsoleUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"}},
        "ConsoleUrl": {"Value": {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                                            f"/{api_stage}/console"}},
    }
    return {"resources": resources, "environment": environment, "outputs": outputs}


def needs_user_pool(variables: dict) -> bool:
    """Whether the stage's settings leave sign-in to Cognito (no issuer of their own)."""
    return not (variables.get("OIDC_ISSUER") and variables.get("OIDC_CLIENT_ID"))
