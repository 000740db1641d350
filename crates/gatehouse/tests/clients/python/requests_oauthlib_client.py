"""requests-oauthlib's OAuth2Session with oauthlib's LegacyApplicationClient (the password
grant) against gatehouse, as crates/gatehouse/tests/e2e/libraries.rs runs it: fetch_token,
then refresh_token, both with HTTP Basic client authentication. Prints one JSON line."""

import json
import os
import sys
import traceback

from oauthlib.oauth2 import LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session


def env(name):
    return os.environ["GH_" + name]


def main():
    token_url = env("ISSUER") + "/oauth/token"
    client_id, secret = env("CLIENT_ID"), env("CLIENT_SECRET")
    session = OAuth2Session(
        client=LegacyApplicationClient(client_id=client_id),
        scope=["openid", "email", "offline_access"],
    )
    token = session.fetch_token(
        token_url=token_url, username=env("USERNAME"), password=env("PASSWORD"),
        client_id=client_id, client_secret=secret, scope=["openid", "email", "offline_access"],
    )
    refreshed = session.refresh_token(
        token_url, refresh_token=token["refresh_token"], auth=HTTPBasicAuth(client_id, secret),
    )
    me = session.get(env("ISSUER") + "/userinfo")
    print(json.dumps({
        "ok": True,
        "scope": token.get("scope"),
        "rotated": refreshed["refresh_token"] != token["refresh_token"],
        "userinfo_status": me.status_code,
        "userinfo": me.json(),
    }))


try:
    main()
except Exception as err:
    traceback.print_exc()
    print(json.dumps({"ok": False, "error": repr(err)}))
    sys.exit(1)
