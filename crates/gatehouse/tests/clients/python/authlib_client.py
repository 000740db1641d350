"""Authlib's requests OAuth2Session against gatehouse, as crates/gatehouse/tests/e2e/libraries.rs
runs it: the password grant with the client authentication named by argv[1]
(client_secret_basic, client_secret_jwt or private_key_jwt, the last two with Authlib's default
assertion claims), then refresh, introspect and revoke. Prints one JSON line."""

import base64
import json
import os
import sys
import traceback
from urllib.parse import parse_qs

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT


def env(name):
    return os.environ["GH_" + name]


def assertion_lifetimes(sent):
    """exp - iat of the client_assertion of each recorded request body."""
    out = []
    for body in sent:
        assertion = parse_qs(body).get("client_assertion")
        if assertion:
            payload = assertion[0].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            out.append(claims["exp"] - claims["iat"])
    return out


def main():
    method = sys.argv[1]
    issuer = env("ISSUER")
    token_url = issuer + "/oauth/token"
    if method == "client_secret_basic":
        session = OAuth2Session(env("CLIENT_ID"), env("CLIENT_SECRET"))
    elif method == "client_secret_jwt":
        session = OAuth2Session(
            env("CLIENT_ID"), env("CLIENT_SECRET"),
            token_endpoint_auth_method=ClientSecretJWT(token_url),
        )
    elif method == "private_key_jwt":
        with open(env("KEY_FILE")) as f:
            key = f.read()
        session = OAuth2Session(
            env("CLIENT_ID"), key, token_endpoint_auth_method=PrivateKeyJWT(token_url),
        )
    else:
        raise SystemExit("unknown method " + method)
    sent = []
    session.hooks["response"].append(
        lambda r, *a, **k: sent.append(r.request.body if isinstance(r.request.body, str)
                                       else (r.request.body or b"").decode())
    )
    out = {"ok": True}
    token = session.fetch_token(
        token_url, username=env("USERNAME"), password=env("PASSWORD"),
        scope="openid offline_access",
    )
    out["login"] = {k: token.get(k) for k in ("token_type", "scope", "expires_in")}
    out["assertion_lifetimes"] = assertion_lifetimes(sent)
    if method != "client_secret_basic":
        print(json.dumps(out))
        return
    refreshed = session.refresh_token(token_url, refresh_token=token["refresh_token"])
    out["rotated"] = refreshed["refresh_token"] != token["refresh_token"]
    r = session.introspect_token(issuer + "/oauth/introspect", token=refreshed["access_token"])
    out["introspection"] = {"status": r.status_code, "body": r.json()}
    r = session.revoke_token(
        issuer + "/oauth/revoke", token=refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    out["revoke_status"] = r.status_code
    r = session.introspect_token(issuer + "/oauth/introspect", token=refreshed["refresh_token"])
    out["after_revocation"] = r.json()
    print(json.dumps(out))


try:
    main()
except Exception as err:  # the test reads the failure from this line
    traceback.print_exc()
    print(json.dumps({"ok": False, "error": repr(err)}))
    sys.exit(1)
