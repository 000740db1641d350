//! Custom token claims (issue 21) over real HTTP: users' `attributes` and `roles` set through the
//! CLI, the admin API and `user import`; clients' claim mappers (a static value, a user
//! attribute, the user's roles) in JWT access tokens, id_tokens, /userinfo and introspection (of
//! JWT, opaque and refresh tokens), gated by scope and aimed by `in`; refresh and introspection
//! following the user's current data; client credentials tokens with static claims only;
//! registered claims refused (API and CLI) and never overridden; the size bounds.

use serde_json::{json, Value};

use crate::admin::{admin_server, get, put_json};
use crate::jwt_parts;
use crate::server::{reply, TestServer};

const APP: (&str, &str) = ("app", "app-secret");
const OPAQUE: (&str, &str) = ("opaque-app", "opaque-secret");
const SVC: (&str, &str) = ("svc", "svc-secret");
const ANN: (&str, &str) = ("ann", "ann-long-password-1");
const SCOPES: &str = "openid profile email offline_access";

/// The mappers of `app`, one of each kind, aimed at different places.
const APP_CLAIMS: [&str; 4] = [
    "department=attribute:department;scope=profile;in=access_token,id_token,userinfo",
    "tenant=value:acme",
    "roles=roles;in=access_token,id_token,introspection",
    "level=attribute:level;in=userinfo,introspection",
];

/// A server with the admin API, client `app` (JWT, refresh tokens, [`APP_CLAIMS`]) and user ann
/// (department sales, level 3, roles gatehouse:admin and editor), set through the API.
async fn server() -> TestServer {
    let s = admin_server();
    let mut args = vec!["--scopes", SCOPES];
    for claim in APP_CLAIMS {
        args.extend(["--claim", claim]);
    }
    s.add_refreshing_client(APP.0, APP.1, &args);
    let (status, body) = put_json(
        &s,
        "/User/ann",
        &json!({"password": ANN.1, "attributes": {"department": "sales", "level": 3},
            "roles": ["gatehouse:admin", "editor", "editor"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["attributes"],
        json!({"department": "sales", "level": 3})
    );
    assert_eq!(body["roles"], json!(["gatehouse:admin", "editor"]));
    s
}

/// The claims of a token response's JWT `field` (`access_token`, `id_token`).
fn claims_of(tokens: &Value, field: &str) -> Value {
    jwt_parts(tokens[field].as_str().unwrap()).1
}

async fn userinfo(s: &TestServer, access_token: &str) -> Value {
    reply(s.userinfo(access_token).await).await.ok()
}

/// Each mapper kind reaches each place its `in` names, and no other: the JWT access token, the
/// id_token, /userinfo, and the introspection of the access token and of the refresh token.
/// The registered claims stay the server's own.
#[tokio::test]
async fn every_mapper_kind_reaches_the_places_it_names() {
    let s = server().await;
    let tokens = s
        .login(APP, ANN.0, ANN.1, Some("openid profile offline_access"))
        .await;
    let sub = claims_of(&tokens, "id_token")["sub"].clone();

    let at = claims_of(&tokens, "access_token");
    assert_eq!(at["department"], "sales", "{at}");
    assert_eq!(at["tenant"], "acme", "{at}");
    assert_eq!(at["roles"], json!(["gatehouse:admin", "editor"]), "{at}");
    assert!(at.get("level").is_none(), "{at}");
    assert_eq!((&at["sub"], &at["client_id"]), (&sub, &json!("app")));

    let id = claims_of(&tokens, "id_token");
    assert_eq!(id["department"], "sales", "{id}");
    assert_eq!(id["tenant"], "acme", "{id}");
    assert_eq!(id["roles"], json!(["gatehouse:admin", "editor"]), "{id}");
    assert!(id.get("level").is_none(), "{id}");
    assert_eq!(id["preferred_username"], "ann", "{id}");

    let info = userinfo(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        info,
        json!({"sub": sub, "preferred_username": "ann", "department": "sales",
            "tenant": "acme", "level": 3})
    );

    let at_info = s
        .introspect(APP, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(at_info["active"], true, "{at_info}");
    assert_eq!(at_info["tenant"], "acme", "{at_info}");
    assert_eq!(at_info["roles"], json!(["gatehouse:admin", "editor"]));
    assert_eq!(at_info["level"], 3, "{at_info}");
    assert!(at_info.get("department").is_none(), "{at_info}");
    assert_eq!(
        (&at_info["sub"], &at_info["username"]),
        (&sub, &json!("ann"))
    );

    let rt_info = s
        .introspect(APP, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(rt_info["token_type"], "refresh_token", "{rt_info}");
    assert_eq!(rt_info["tenant"], "acme", "{rt_info}");
    assert_eq!(rt_info["roles"], json!(["gatehouse:admin", "editor"]));
}

/// A mapper with a `scope` releases its claim only when the grant holds that scope; the others
/// are released with any scope.
#[tokio::test]
async fn a_scoped_mapper_releases_its_claim_only_with_its_scope() {
    let s = server().await;
    let tokens = s.login(APP, ANN.0, ANN.1, Some("openid")).await;
    for place in [
        claims_of(&tokens, "access_token"),
        claims_of(&tokens, "id_token"),
        userinfo(&s, tokens["access_token"].as_str().unwrap()).await,
    ] {
        assert!(place.get("department").is_none(), "{place}");
        assert_eq!(place["tenant"], "acme", "{place}");
    }
}

/// An opaque access token carries nothing: introspection (and /userinfo) compute its claims
/// from the user as they are now, so a role removed is gone at once.
#[tokio::test]
async fn opaque_tokens_are_introspected_with_the_users_current_claims() {
    let s = server().await;
    s.add_refreshing_client(
        OPAQUE.0,
        OPAQUE.1,
        &[
            "--scopes",
            SCOPES,
            "--token-format",
            "opaque",
            "--claim",
            "tenant=value:{\"id\":7,\"name\":\"acme\"}",
            "--claim",
            "roles=roles",
        ],
    );
    let tokens = s.login(OPAQUE, ANN.0, ANN.1, Some("openid")).await;
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(token.matches('.').count(), 0, "an opaque token: {token}");
    let info = s.introspect(OPAQUE, token).await;
    assert_eq!(info["tenant"], json!({"id": 7, "name": "acme"}), "{info}");
    assert_eq!(
        info["roles"],
        json!(["gatehouse:admin", "editor"]),
        "{info}"
    );
    assert_eq!(
        userinfo(&s, token).await["roles"],
        json!(["gatehouse:admin", "editor"])
    );

    s.cli_ok(
        &["user", "update", "ann", "--role", "gatehouse:viewer"],
        None,
    );
    let info = s.introspect(OPAQUE, token).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["roles"], json!(["gatehouse:viewer"]), "{info}");
    // Another client's mappers never show: introspection answers with the caller's own.
    assert!(info.get("level").is_none(), "{info}");
}

/// RFC 6749 §6: a refresh issues tokens whose claims are made from the user's data as it is at
/// the refresh, so a role or attribute change shows up at the next refresh.
#[tokio::test]
async fn a_refresh_picks_up_changed_roles_and_attributes() {
    let s = server().await;
    let first = s
        .login(APP, ANN.0, ANN.1, Some("openid profile offline_access"))
        .await;
    s.cli_ok(
        &[
            "user",
            "update",
            "ann",
            "--role",
            "gatehouse:viewer",
            "--attr",
            "department=",
        ],
        None,
    );
    let refreshed = s
        .refresh_ok(APP, first["refresh_token"].as_str().unwrap(), None)
        .await;
    for field in ["access_token", "id_token"] {
        let claims = claims_of(&refreshed, field);
        assert_eq!(claims["roles"], json!(["gatehouse:viewer"]), "{claims}");
        assert!(claims.get("department").is_none(), "{claims}");
        assert_eq!(claims["tenant"], "acme", "{claims}");
    }
    // The token issued before the change says what was true then.
    let before = claims_of(&first, "access_token");
    assert_eq!(before["roles"], json!(["gatehouse:admin", "editor"]));
}

/// RFC 6749 §4.4: a client token has no user, so only static values are mapped, into the token
/// and into its introspection.
#[tokio::test]
async fn client_credentials_tokens_carry_only_static_claims() {
    let s = server().await;
    s.add_client(
        SVC.0,
        &[
            "--secret",
            SVC.1,
            "--grant-types",
            "client_credentials",
            "--scopes",
            "reports.read",
            "--claim",
            "tenant=value:acme",
            "--claim",
            "roles=roles",
            "--claim",
            "department=attribute:department",
        ],
    );
    let form = [("grant_type", "client_credentials")];
    let resp = s.post_form("/oauth/token", Some(SVC), &form).await;
    let tokens = reply(resp).await.token_response();
    let at = claims_of(&tokens, "access_token");
    assert_eq!(at["tenant"], "acme", "{at}");
    assert!(
        at.get("roles").is_none() && at.get("department").is_none(),
        "{at}"
    );
    assert_eq!(at["sub"], "svc", "{at}");
    let info = s
        .introspect(SVC, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["tenant"], "acme", "{info}");
    assert!(info.get("roles").is_none(), "{info}");
}

/// The registered claims (those the server sets in its tokens and responses) cannot be mapped:
/// the admin API refuses them with an `invalid_request` naming the field, and so do `client add`
/// and `client update`; so are repeated names, too many mappers and oversized static values.
#[tokio::test]
async fn registered_repeated_and_oversized_mappers_are_refused() {
    let s = server().await;
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "client_id",
        "scope",
        "cnf",
        "sid",
        "amr",
        "acr",
        "auth_time",
        "azp",
        "nonce",
        "at_hash",
        "token_type",
        "typ",
        "active",
        "username",
        "act",
        "may_act",
        "email",
        "preferred_username",
    ] {
        let body = json!({"claims": [{"claim": claim, "value": "x"}]});
        let (status, err) = put_json(&s, "/Client/bad", &body).await;
        assert_eq!(status, 422, "{claim}: {err}");
        assert_eq!(err["error"], "invalid_request", "{err}");
        let description = err["error_description"].as_str().unwrap();
        assert_eq!(
            description,
            format!(
                "claims: {claim} is a registered claim that gatehouse sets itself and cannot be mapped"
            )
        );
    }
    let too_many: Vec<Value> = (0..33)
        .map(|i| json!({"claim": format!("c{i}"), "value": i}))
        .collect();
    for (claims, says) in [
        (
            json!([{"claim": "a", "value": 1}, {"claim": "a", "from": "roles"}]),
            "mapped twice",
        ),
        (json!(too_many), "at most 32 mappers"),
        (
            json!([{"claim": "blob", "value": "x".repeat(1100)}]),
            "at most 1024 bytes",
        ),
        (
            json!([{"claim": "a", "from": "password"}]),
            "roles or attribute:NAME",
        ),
    ] {
        let (status, err) = put_json(&s, "/Client/bad", &json!({ "claims": claims })).await;
        assert_eq!(status, 422, "{err}");
        let description = err["error_description"].as_str().unwrap();
        assert!(
            description.starts_with("claims: ") && description.contains(says),
            "{err}"
        );
    }
    let (status, _) = get(&s, "/Client/bad").await;
    assert_eq!(status, 404, "nothing was stored");

    let big = format!("blob=value:{}", "x".repeat(1100));
    for (args, says) in [
        (
            vec!["client", "add", "bad", "--claim", "iss=value:x"],
            "registered claim",
        ),
        (
            vec!["client", "add", "bad", "--claim", "sub=roles"],
            "registered claim",
        ),
        (vec!["client", "add", "bad", "--claim", &big], "1024 bytes"),
        (
            vec!["client", "add", "bad", "--claim", "nonsense"],
            "is not NAME=",
        ),
        (
            vec!["client", "update", "app", "--claim", "jti=value:1"],
            "registered claim",
        ),
        (
            vec![
                "client",
                "update",
                "app",
                "--claim",
                "a=roles",
                "--claim",
                "a=value:1",
            ],
            "mapped twice",
        ),
    ] {
        let out = s.cli_refused(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // The refused update changed nothing.
    let (_, app) = get(&s, "/Client/app").await;
    assert_eq!(app["claims"].as_array().unwrap().len(), 4, "{app}");
}

/// Defence in depth: a registered claim that reached the stored settings anyway (here written
/// straight into the database) is never put into a token, and never replaces the server's.
#[tokio::test]
async fn a_stored_registered_claim_never_overrides_the_servers() {
    let db = crate::database::TestDatabase::fresh();
    let s = TestServer::builder()
        .database(&db)
        .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
        .spawn();
    s.add_refreshing_client(
        APP.0,
        APP.1,
        &["--scopes", SCOPES, "--claim", "tenant=value:acme"],
    );
    s.add_user(ANN.0, ANN.1, &[]);
    db.execute(
        "UPDATE clients SET settings = REPLACE(settings, '\"claim\":\"tenant\"', '\"claim\":\"sub\"')",
    )
    .await;
    let (_, app) = get(&s, "/Client/app").await;
    assert_eq!(
        app["claims"][0]["claim"], "sub",
        "the forged mapper is stored: {app}"
    );
    let tokens = s.login(APP, ANN.0, ANN.1, Some("openid")).await;
    let at = claims_of(&tokens, "access_token");
    let id = claims_of(&tokens, "id_token");
    assert_eq!(at["sub"], id["sub"]);
    assert_ne!(at["sub"], "acme");
    let info = s
        .introspect(APP, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["sub"], at["sub"], "{info}");
    let me = userinfo(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(me["sub"], at["sub"], "{me}");
}

/// A user's data within its bounds can still make more mapped claims than a token may carry
/// (8 KiB): the claims that do not fit are left out and counted, and the login succeeds.
#[tokio::test]
async fn mapped_claims_over_the_token_bound_are_dropped_not_failed() {
    let s = server().await;
    let roles: Vec<String> = (0..64)
        .map(|i| format!("{i:03}{}", "r".repeat(125)))
        .collect();
    let (status, body) = put_json(&s, "/User/ann", &json!({ "roles": roles })).await;
    assert_eq!(status, 200, "{body}");
    let tokens = s.login(APP, ANN.0, ANN.1, Some("openid profile")).await;
    let at = claims_of(&tokens, "access_token");
    assert!(at.get("roles").is_none(), "over the bound: {at}");
    assert_eq!(at["tenant"], "acme", "{at}");
    assert_eq!(at["department"], "sales", "{at}");
    let metrics = s.metrics_text().await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("gatehouse_mapped_claims_dropped_total{target=\"access_token\"}")
        ),
        "{metrics}"
    );
}

/// The bounds of a user's data: attributes at most 32 keys of a restricted alphabet and 4 KiB
/// serialized, roles at most 64 of printable ASCII without spaces; refused by the admin API (an
/// `invalid_request` naming the field) and by the CLI alike.
#[tokio::test]
async fn oversized_attributes_and_roles_are_refused() {
    let s = server().await;
    let many_keys: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!(i))).collect();
    let many_roles: Vec<String> = (0..65).map(|i| format!("r{i}")).collect();
    for (body, field, says) in [
        (
            json!({"attributes": {"blob": "x".repeat(4100)}}),
            "attributes",
            "4096 bytes",
        ),
        (
            json!({"attributes": many_keys}),
            "attributes",
            "at most 32 keys",
        ),
        (
            json!({"attributes": {"bad key": 1}}),
            "attributes",
            "A-Z a-z 0-9",
        ),
        (json!({"attributes": "sales"}), "attributes", "JSON object"),
        (json!({"roles": many_roles}), "roles", "at most 64 roles"),
        (json!({"roles": ["has space"]}), "roles", "printable ASCII"),
        (json!({"roles": [1]}), "roles", "list of strings"),
    ] {
        let (status, err) = put_json(&s, "/User/ann", &body).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"], "invalid_request", "{err}");
        let description = err["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("{field}: ")) && description.contains(says),
            "{err}"
        );
    }
    let big = format!("blob={}", "x".repeat(4100));
    for (args, says) in [
        (vec!["user", "update", "ann", "--attr", &big], "4096 bytes"),
        (
            vec!["user", "update", "ann", "--attr", "no-equals-sign"],
            "KEY=VALUE",
        ),
        (
            vec!["user", "update", "ann", "--role", "has space"],
            "printable ASCII",
        ),
    ] {
        let out = s.cli_refused(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let out = s.cli_refused(
        &["user", "add", "bob", "--password-stdin", "--role", "a b"],
        Some("bob-long-password-1\n"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role"));
    let (_, ann) = get(&s, "/User/ann").await;
    assert_eq!(
        ann["attributes"],
        json!({"department": "sales", "level": 3})
    );
    assert_eq!(ann["roles"], json!(["gatehouse:admin", "editor"]));
}

/// Attributes and roles through the CLI (`--attr KEY=VALUE` with JSON or text values, `KEY=`
/// removing one, `--no-attributes`; `--role` replacing the list, `--no-roles`), the admin API
/// and `user import`, each seen by the others and by the tokens.
#[tokio::test]
async fn attributes_and_roles_are_set_by_the_cli_the_api_and_import() {
    let s = server().await;
    let cy = s.add_user(
        "cy",
        "cy-long-password-1",
        &[
            "--attr",
            "department=sales",
            "--attribute",
            "level=3",
            "--attr",
            "tags=[\"a\",\"b\"]",
            "--role",
            "a",
            "--role",
            "a",
            "--role",
            "b",
        ],
    );
    assert_eq!(
        cy["attributes"],
        json!({"department": "sales", "level": 3, "tags": ["a", "b"]})
    );
    assert_eq!(cy["roles"], json!(["a", "b"]));
    let updated = s.cli_ok(
        &[
            "user",
            "update",
            "cy",
            "--attr",
            "department=",
            "--attr",
            "team=blue",
            "--role",
            "c",
        ],
        None,
    );
    assert_eq!(
        updated["attributes"],
        json!({"level": 3, "tags": ["a", "b"], "team": "blue"})
    );
    assert_eq!(updated["roles"], json!(["c"]));
    let (_, api) = get(&s, "/User/cy").await;
    assert_eq!(
        (&api["attributes"], &api["roles"]),
        (&updated["attributes"], &updated["roles"])
    );
    let cleared = s.cli_ok(
        &["user", "update", "cy", "--no-attributes", "--no-roles"],
        None,
    );
    assert_eq!(
        (&cleared["attributes"], &cleared["roles"]),
        (&json!({}), &json!([]))
    );
    // null removes them in the API too; a PUT that leaves them out keeps them.
    put_json(
        &s,
        "/User/cy",
        &json!({"attributes": {"a": 1}, "roles": ["x"]}),
    )
    .await;
    let (_, kept) = put_json(&s, "/User/cy", &json!({"email": "cy@example.com"})).await;
    assert_eq!(
        (&kept["attributes"], &kept["roles"]),
        (&json!({"a": 1}), &json!(["x"]))
    );
    let (_, removed) = put_json(&s, "/User/cy", &json!({"attributes": null, "roles": null})).await;
    assert_eq!(
        (&removed["attributes"], &removed["roles"]),
        (&json!({}), &json!([]))
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    let lines = [
        json!({"username": "dee", "password": "dee-long-password-1",
            "attributes": {"department": "ops"}, "roles": ["gatehouse:viewer"]}),
        json!({"username": "eve", "password": "eve-long-password-1", "roles": "admin"}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    let out = s.cli(&["user", "import", file.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: roles: must be a list of strings"),
        "{stderr}"
    );
    let (_, dee) = get(&s, "/User/dee").await;
    assert_eq!(dee["attributes"], json!({"department": "ops"}), "{dee}");
    assert_eq!(dee["roles"], json!(["gatehouse:viewer"]), "{dee}");
    let tokens = s
        .login(APP, "dee", "dee-long-password-1", Some("openid profile"))
        .await;
    let at = claims_of(&tokens, "access_token");
    assert_eq!(
        (&at["department"], &at["roles"]),
        (&json!("ops"), &json!(["gatehouse:viewer"]))
    );
}

/// The Client resource shows the mappers in the API's shape (with `in` spelled out), the CLI's
/// `--claim` and the API's `claims` describe the same mappers, and `--no-claims` (or `null`)
/// removes them.
#[tokio::test]
async fn mappers_read_back_alike_from_the_cli_and_the_api() {
    let s = server().await;
    let (_, app) = get(&s, "/Client/app").await;
    assert_eq!(
        app["claims"],
        json!([
            {"claim": "department", "from": "attribute:department", "scope": "profile",
             "in": ["access_token", "id_token", "userinfo"]},
            {"claim": "tenant", "value": "acme",
             "in": ["access_token", "id_token", "userinfo", "introspection"]},
            {"claim": "roles", "from": "roles", "in": ["access_token", "id_token", "introspection"]},
            {"claim": "level", "from": "attribute:level", "in": ["userinfo", "introspection"]},
        ])
    );
    let (status, put) = put_json(&s, "/Client/api-app", &json!({"claims": app["claims"]})).await;
    assert_eq!(status, 201, "{put}");
    assert_eq!(put["claims"], app["claims"]);
    let shown = s.cli_ok(
        &["client", "update", "app", "--claim", "tenant=value:globex"],
        None,
    );
    assert_eq!(
        shown["settings"]["claims"],
        json!([{"claim": "tenant", "value": "globex",
            "in": ["access_token", "id_token", "userinfo", "introspection"]}])
    );
    let cleared = s.cli_ok(&["client", "update", "app", "--no-claims"], None);
    assert!(cleared["settings"].get("claims").is_none(), "{cleared}");
    let (_, app) = get(&s, "/Client/app").await;
    assert_eq!(app["claims"], json!([]));
    let tokens = s.login(APP, ANN.0, ANN.1, Some("openid profile")).await;
    let at = claims_of(&tokens, "access_token");
    assert!(
        at.get("tenant").is_none() && at.get("roles").is_none(),
        "{at}"
    );
}
