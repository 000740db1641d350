//! gatehouse-http: the axum layer. [`router`] serves every row of one route table, which the
//! OpenAPI document ([`openapi`]) is built from too; handlers extract ([`extract`]: a body's
//! parameters, a client's credentials, bearer tokens), call the core and convert the result
//! ([`response::NoStore`] for what must not be cached). [`error`] holds the only
//! error-to-response mapping, [`telemetry`] the metrics, request ids and request spans.

pub mod client_address;
pub mod console;
pub mod error;
mod error_responses;
pub mod extract;
pub mod openapi;
pub mod params;
pub mod request_timeout;
pub mod resource;
pub mod response;
mod routes;
pub mod telemetry;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use gatehouse_core::account::Account;
use gatehouse_core::admin::AdminService;
use gatehouse_core::authorize::PasswordCodes;
use gatehouse_core::client_auth::ClientAuthenticator;
use gatehouse_core::discovery::Discovery;
use gatehouse_core::grant::Grants;
use gatehouse_core::introspection::Introspection;
use gatehouse_core::mfa::api::Mfa;
use gatehouse_core::revocation::Revocation;
use gatehouse_core::store::Store;
use gatehouse_core::token::key_cache::Keys;
use gatehouse_core::userinfo::UserInfo;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use error::ApiError;
pub use telemetry::Metrics;

use crate::openapi::{doc, write_doc, Doc};
use crate::routes::{
    account, admin, authorize, discovery, health, introspect, mfa, ops, revoke, sessions, token,
    userinfo, webhooks,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Client authentication.
    pub clients: Arc<ClientAuthenticator>,
    /// Token requests (RFC 6749 §4.3, §6, Auth0's MFA grants).
    pub grants: Arc<Grants>,
    /// Token introspection (RFC 7662).
    pub introspection: Arc<Introspection>,
    /// Token revocation (RFC 7009).
    pub revocation: Arc<Revocation>,
    /// The UserInfo endpoint (OpenID Connect Core §5.3).
    pub userinfo: Arc<UserInfo>,
    /// Auth0's MFA API.
    pub mfa: Arc<Mfa>,
    /// The server metadata (RFC 8414).
    pub discovery: Arc<Discovery>,
    /// The signing keys in force, published as the JWKS.
    pub keys: Arc<Keys>,
    /// One-time codes of the secure code flow.
    pub codes: Arc<PasswordCodes>,
    /// Self-service password changes (`/account/password`).
    pub account: Arc<Account>,
    /// The admin API; `None` (and the API off) without an admin token.
    pub admin: Option<Arc<AdminService>>,
    /// Webhook endpoints (`/Webhook`), behind the admin token; `None` without one.
    pub webhooks: Option<Arc<gatehouse_core::webhook::Webhooks>>,
    /// The Prometheus exporter behind `/metrics`.
    pub metrics: Metrics,
    /// What administrators' access tokens (scope `gatehouse:admin`) may do in the admin API.
    pub admin_tokens: Arc<gatehouse_core::console::AdminTokens>,
    /// The web console under `/admin`; `None` (and no such pages) without `serve --console`.
    pub console: Option<Arc<console::Console>>,
}

/// One row of the route table: a path, its handlers, and its OpenAPI operation.
pub(crate) struct Route {
    pub(crate) path: &'static str,
    handler: MethodRouter<AppState>,
    pub(crate) doc: Doc,
}

fn route(path: &'static str, handler: MethodRouter<AppState>, doc: Doc) -> Route {
    Route { path, handler, doc }
}

/// The route table: the router and the OpenAPI document are both built from it, so nothing
/// is served undocumented.
///
/// To add an endpoint: write its handler in `routes/NAME.rs` with
/// `#[utoipa::path(METHOD, path = "/x", responses(...))]` documenting every status it can
/// answer (shared error answers are in `error_responses.rs`), add any body types to
/// `components(schemas(..))` in `openapi.rs`, then add one row here:
/// `route("/x", get(NAME::handler), doc::<NAME::__path_handler>)`. An alias is another row with
/// the same handler and doc (operation ids are derived from the method and path), and so is
/// another method on a path: axum merges the rows of one path.
#[rustfmt::skip]
fn routes() -> Vec<Route> {
    vec![
        // RFC 6749 §3.2, at the paths of each product gatehouse stands in for: Connect,
        // @jmondi/oauth2-server, Oracle Identity Cloud and Aidbox.
        route("/oauth/token", post(token::token), doc::<token::__path_token>),
        route("/token", post(token::token), doc::<token::__path_token>),
        route("/oauth2/v1/token", post(token::token), doc::<token::__path_token>),
        route("/auth/token", post(token::token), doc::<token::__path_token>),
        // RFC 7009 and RFC 7662, at the same families of paths.
        route("/oauth/revoke", post(revoke::revoke), doc::<revoke::__path_revoke>),
        route("/revoke", post(revoke::revoke), doc::<revoke::__path_revoke>),
        route("/oauth2/v1/revoke", post(revoke::revoke), doc::<revoke::__path_revoke>),
        route("/oauth/introspect", post(introspect::introspect), doc::<introspect::__path_introspect>),
        route("/introspect", post(introspect::introspect), doc::<introspect::__path_introspect>),
        route("/oauth2/v1/introspect", post(introspect::introspect), doc::<introspect::__path_introspect>),
        // OpenID Connect Core §5.3, with the token in the header or (POST) the body.
        route("/userinfo", get(userinfo::userinfo_get), doc::<userinfo::__path_userinfo_get>),
        route("/userinfo", post(userinfo::userinfo_post), doc::<userinfo::__path_userinfo_post>),
        // RFC 8414, OpenID Connect Discovery 1.0, RFC 7517.
        route("/.well-known/oauth-authorization-server", get(discovery::configuration), doc::<discovery::__path_configuration>),
        route("/.well-known/openid-configuration", get(discovery::configuration), doc::<discovery::__path_configuration>),
        route("/.well-known/jwks.json", get(discovery::jwks), doc::<discovery::__path_jwks>),
        // Auth0's MFA API around a password login that answered mfa_required.
        route("/mfa/authenticators", get(mfa::authenticators), doc::<mfa::__path_authenticators>),
        route("/mfa/authenticators/{id}", delete(mfa::delete_authenticator), doc::<mfa::__path_delete_authenticator>),
        route("/mfa/associate", post(mfa::associate), doc::<mfa::__path_associate>),
        route("/mfa/challenge", post(mfa::challenge), doc::<mfa::__path_challenge>),
        // Aidbox's secure code flow for the password grant.
        route("/auth/authorize", get(authorize::authorize), doc::<authorize::__path_authorize>),
        // The admin API: Aidbox-compatible Client and User resources.
        route("/Client", get(admin::list_clients), doc::<admin::__path_list_clients>),
        route("/Client", post(admin::post_client), write_doc::<admin::__path_post_client>),
        route("/Client/{id}", put(admin::put_client), write_doc::<admin::__path_put_client>),
        route("/Client/{id}", get(admin::get_client), doc::<admin::__path_get_client>),
        route("/Client/{id}", delete(admin::delete_client), doc::<admin::__path_delete_client>),
        route("/User", get(admin::list_users), doc::<admin::__path_list_users>),
        route("/User/{id}", put(admin::put_user), write_doc::<admin::__path_put_user>),
        route("/User/{id}", get(admin::get_user), doc::<admin::__path_get_user>),
        route("/User/{id}", delete(admin::delete_user), doc::<admin::__path_delete_user>),
        route("/User/{id}/unlock", post(admin::unlock_user), doc::<admin::__path_unlock_user>),
        route("/User/{id}/authenticators", get(admin::list_authenticators), doc::<admin::__path_list_authenticators>),
        route("/User/{id}/authenticators/{authenticator_id}", delete(admin::delete_authenticator), doc::<admin::__path_delete_authenticator>),
        // Sessions (token families): listed and ended.
        route("/User/{id}/sessions", get(sessions::list_user_sessions), doc::<sessions::__path_list_user_sessions>),
        route("/User/{id}/sessions", delete(sessions::delete_user_sessions), doc::<sessions::__path_delete_user_sessions>),
        route("/User/{id}/sessions/{sid}", delete(sessions::delete_user_session), doc::<sessions::__path_delete_user_session>),
        route("/Client/{id}/sessions", get(sessions::list_client_sessions), doc::<sessions::__path_list_client_sessions>),
        // Audit events (brute force, logins, refresh reuse, admin changes).
        route("/Event", get(admin::list_events), doc::<admin::__path_list_events>),
        // Webhook endpoints, their delivery log, replay and a test send.
        route("/Webhook", get(webhooks::list), doc::<webhooks::__path_list>),
        route("/Webhook", post(webhooks::create), write_doc::<webhooks::__path_create>),
        route("/Webhook/{id}", get(webhooks::get), doc::<webhooks::__path_get>),
        route("/Webhook/{id}", put(webhooks::update), write_doc::<webhooks::__path_update>),
        route("/Webhook/{id}", delete(webhooks::remove), doc::<webhooks::__path_remove>),
        route("/Webhook/{id}/deliveries", get(webhooks::deliveries), doc::<webhooks::__path_deliveries>),
        route("/Webhook/{id}/replay", post(webhooks::replay), doc::<webhooks::__path_replay>),
        route("/Webhook/{id}/test", post(webhooks::test), doc::<webhooks::__path_test>),

        route("/account/password", post(account::change_password), doc::<account::__path_change_password>),
        // Operations.
        route("/healthz", get(health::healthz), doc::<health::__path_healthz>),
        route("/readyz", get(health::readyz), doc::<health::__path_readyz>),
        route("/metrics", get(ops::metrics), doc::<ops::__path_metrics>),
        route("/openapi.json", get(openapi::serve), doc::<openapi::__path_serve>),
    ]
}

/// Every route of gatehouse, aliases included, with request metrics, request ids and a
/// tracing span per request.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for route in routes() {
        router = router.route(route.path, route.handler);
    }
    router
        .merge(console::router())
        // route_layer: runs after routing, so the route's pattern is known (MatchedPath).
        .route_layer(axum::middleware::from_fn(run_to_completion))
        .route_layer(axum::middleware::from_fn(telemetry::track))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(health::panic_response))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(
                    telemetry::sanitize_request_id,
                ))
                .layer(SetRequestIdLayer::new(
                    telemetry::REQUEST_ID,
                    telemetry::RandomRequestId,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(telemetry::request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                        // Every answer is logged once above, with its status. A 5xx is not an
                        // error of its own: a shed request's 503 is the server working as
                        // designed, and internal errors are logged where they happen.
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(telemetry::REQUEST_ID)),
        )
        .with_state(state)
}

/// Runs a route's handler on a task of its own and waits for it. When the client goes away (or
/// the request times out), hyper drops the request's future; without this, a handler would stop
/// at whatever `.await` it was in: between two statements of a database transaction, in the
/// middle of a PostgreSQL `COMMIT`, holding a hash-queue place whose hash still runs. A
/// PostgreSQL benchmark run whose clients disconnected mid-request left a connection inside a
/// transaction holding a row lock, and later requests waited on it until the request timeout
/// (`bench/disconnects.sh`). The task finishes the request's work whatever happens to the
/// caller, once its body has arrived: a request abandoned while its body is still arriving has
/// started nothing (handlers read the body before any other work) and is aborted, so that a
/// client dribbling its body is cut off by the request timeout as before. A panic in the handler
/// is re-raised here, so `CatchPanicLayer` answers it as before.
async fn run_to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct AbortUnlessReceived(tokio::task::AbortHandle, Arc<AtomicBool>);
    impl Drop for AbortUnlessReceived {
        fn drop(&mut self) {
            if !self.1.load(Ordering::Acquire) {
                self.0.abort();
            }
        }
    }

    let received = Arc::new(AtomicBool::new(http_body::Body::is_end_stream(
        request.body(),
    )));
    let request = request.map(|body| request_timeout::watched(body, received.clone()));
    let task = tokio::spawn(next.run(request));
    let _guard = AbortUnlessReceived(task.abort_handle(), received);
    match task.await {
        Ok(response) => response,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // Aborted (only when the caller went away first) or the runtime is shutting down.
        Err(_) => {
            crate::error::ApiError(gatehouse_core::error::Error::overloaded()).into_response()
        }
    }
}

/// Only `/metrics`, for a listener of its own (`--metrics-listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}),
        ),
    )
}
