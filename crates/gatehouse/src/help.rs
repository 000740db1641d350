//! The long help of each command, in the order of a manual page: what it does (the doc comment
//! in cli.rs), then EXAMPLES, ENVIRONMENT, SIGNALS and FILES where they apply.

/// `gatehouse --help`.
pub(crate) const MAIN: &str = "\
EXAMPLES:
    Try it: a throwaway server with a demo client and user, and curl commands to paste:
        gatehouse demo

    Set up and serve for real:
        gatehouse client add my-app --generate-secret --scopes 'openid email'
        printf '%s' \"$PASSWORD\" | gatehouse user add alice@example.com --password-stdin
        gatehouse serve --listen 0.0.0.0:8443 --issuer https://auth.example.com \\
            --tls-cert /etc/gatehouse/cert.pem --tls-key /etc/gatehouse/key.pem

ENVIRONMENT:
    Each option names its variable as [env: ...]; all are listed in docs/configuration.md.
    RUST_LOG             log filter when --log-level is not given (e.g. info,gatehouse=debug)

FILES:
    gatehouse.db         the default SQLite database, in the working directory

SEE ALSO:
    docs/configuration.md, docs/operations.md";

/// `gatehouse serve --help`.
pub(crate) const SERVE: &str = "\
ENDPOINTS:
    POST /oauth/token (aliases /token, /oauth2/v1/token, /auth/token)   RFC 6749 §3.2
    POST /oauth/revoke (aliases /revoke, /oauth2/v1/revoke)             RFC 7009
    POST /oauth/introspect (aliases /introspect, /oauth2/v1/introspect) RFC 7662
    GET|POST /userinfo                                   OpenID Connect Core §5.3
    GET  /.well-known/oauth-authorization-server, /.well-known/openid-configuration, jwks.json
    GET  /auth/authorize   one-time code for the password grant (Aidbox secure code flow)
    /Client, /Client/{id}, /User, /User/{id}   admin API (with --admin-token)
    /User/{id}/sessions[/{sid}], /Client/{id}/sessions   sessions (admin API)
    GET  /admin     the web console (with --console; docs/console.md)
    GET  /healthz   liveness: the process serves requests
    GET  /readyz    readiness: 503 while the database does not answer
    GET  /metrics   Prometheus text format
    GET  /openapi.json   the OpenAPI 3.1 document of all of the above

EXAMPLES:
    gatehouse serve
    gatehouse serve --listen 0.0.0.0:8080 --database postgres://gatehouse@db/gatehouse
    gatehouse serve --tls-cert cert.pem --tls-key key.pem --metrics-listen 127.0.0.1:9090
    gatehouse user add root --role gatehouse:admin --password-stdin && gatehouse serve --console
    GATEHOUSE_LOG_FORMAT=json RUST_LOG=info,gatehouse=debug gatehouse serve

SIGNALS:
    SIGTERM, SIGINT   stop accepting connections, finish in-flight requests, exit 0
    SIGHUP            reload --tls-cert and --tls-key; open connections are kept

ENVIRONMENT:
    Every option has a GATEHOUSE_* variable, shown as [env: ...]. RUST_LOG sets the log filter
    when --log-level is not given. Precedence: flag > environment > --config file > default.";

/// `gatehouse demo --help`.
pub(crate) const DEMO: &str = "\
The database is a temporary SQLite file, deleted when the demo stops (Ctrl-C).

EXAMPLES:
    gatehouse demo
    gatehouse demo --listen 127.0.0.1:9000
    gatehouse demo --tls    # HTTPS with a generated self-signed certificate; prints how to trust it

The web console is on at /admin; the demo prints its URL and an administrator.";

/// `gatehouse client --help` and `gatehouse client add --help`.
pub(crate) const CLIENT: &str = "\
EXAMPLES:
    gatehouse client add web --generate-secret --scopes 'openid email' --default-scopes openid
    gatehouse client add mobile --scopes 'openid offline_access' \\
        --grant-types password,refresh_token
    gatehouse client add bank --generate-secret --mfa required
    gatehouse client add reports-job --generate-secret --grant-types client_credentials \\
        --scopes reports.read --default-scopes reports.read
    gatehouse client add kiosk --max-sessions-per-user 3 --session-limit-policy evict_oldest
    gatehouse client update kiosk --max-sessions-per-user 1 --session-limit-policy deny
    gatehouse client update web --claim tenant=value:acme --claim roles=roles \\
        --claim 'department=attribute:department;scope=profile;in=access_token,id_token'
    gatehouse client update web --no-claims
    gatehouse client list
    gatehouse client show web
    gatehouse client remove web

ENVIRONMENT:
    GATEHOUSE_DATABASE_URL   the database to change (or --database)";

/// `gatehouse user --help` and `gatehouse user add --help`.
pub(crate) const USER: &str = "\
The password is read from standard input, never from the command line, so it does not show
in the process list or the shell history.

EXAMPLES:
    printf '%s' \"$PASSWORD\" | gatehouse user add alice@example.com --password-stdin \\
        --email alice@example.com
    gatehouse user update alice@example.com --attr department=sales --attr level=3 \\
        --role gatehouse:admin --role billing
    gatehouse user update alice@example.com --attr department=   (removes department)
    gatehouse user update alice@example.com --no-roles
    gatehouse user list
    printf '%s' \"$NEW\" | gatehouse user set-password alice@example.com --password-stdin
    gatehouse user disable alice@example.com   (logins fail, sessions end)
    gatehouse user enable alice@example.com
    gatehouse user mfa list alice@example.com
    gatehouse user mfa remove alice@example.com otp_0f3c…   (lost device: enrol again)
    gatehouse user remove alice@example.com

ENVIRONMENT:
    GATEHOUSE_DATABASE_URL   the database to change (or --database)";

/// `gatehouse user list --help`.
pub(crate) const USER_LIST: &str = "\
Each user shows `store` (the external user store it came from, null when created here) and
`password_checked_by` (`local`, or the store that still checks every login). See
docs/user-stores.md.

EXAMPLES:
    gatehouse user list
    gatehouse user list --store corp    (users that came from the [[user_store]] named corp)
    gatehouse user list --store local   (users created here)

ENVIRONMENT:
    GATEHOUSE_DATABASE_URL   the database to read (or --database)";

/// `gatehouse session --help`.
pub(crate) const SESSION: &str = "\
A session is one login: the token family of its refresh tokens and access tokens. Ending one
makes its refresh token invalid_grant and its access tokens inactive at once.

EXAMPLES:
    gatehouse session list --user alice@example.com
    gatehouse session list --client web
    gatehouse session revoke 5f0c…                         (one session)
    gatehouse session revoke --user alice@example.com      (all of hers)
    gatehouse session revoke --user alice@example.com --client web

ENVIRONMENT:
    GATEHOUSE_DATABASE_URL   the database to change (or --database)";

/// `gatehouse keys --help`.
pub(crate) const KEYS: &str = "\
EXAMPLES:
    gatehouse keys list
    gatehouse keys rotate
    gatehouse keys rotate --alg ES256

ENVIRONMENT:
    GATEHOUSE_DATABASE_URL      the database holding the keys (or --database)
    GATEHOUSE_SECRET_KEY_FILE   the server key that seals them (or GATEHOUSE_SECRET_KEY)";

/// `gatehouse blocklist --help`.
pub(crate) const BLOCKLIST: &str = "\
A filter file answers whether a password is on a list of breached passwords, in about 2.3 bytes
per entry (false positives about 1 in 65,000), and is memory-mapped by --password-blocklist.

EXAMPLES:
    From one password per line:
        gatehouse blocklist build leaked.txt --output leaked.filter
    From Have I Been Pwned's download (SHA1HEX:COUNT lines):
        gatehouse blocklist build pwned-passwords-sha1.txt --output pwned.filter
    Then:
        gatehouse serve --password-blocklist pwned.filter";

/// `gatehouse events`.
pub(crate) const EVENTS: &str = "\
EXAMPLES:
    Every event of one user in the last hour:
        gatehouse events --user alice@example.com --since -3600
    The latest 20 events of any kind:
        gatehouse events --limit 20

    Each line is one JSON object: time, kind (login_success, token_issued for the client
    credentials grant, login_failure with its reason,
    client_auth_failure with its reason, refresh, refresh_reuse, lockout, unlock, admin_change,
    session_revoked with its reason, password_breached with its list, password_expired,
    password_changed, weak_password_allowed with its rule, webhook_disabled), client, user,
    source address and request id. No password, secret or token is ever recorded.";

/// `webhook --help`.
pub(crate) const WEBHOOK: &str = "\
EXAMPLES:
    Send lockouts and failed logins to a receiver (prints the whsec_ secret once):
        gatehouse webhook add https://hooks.example.com/gatehouse --events lockout,login_failure
    Check that it answers, signed as every delivery is:
        gatehouse webhook test wh_0123...
    See what was delivered, and send the failures again after an outage:
        gatehouse webhook deliveries wh_0123... --status failed
        gatehouse webhook replay wh_0123... --failed
    Re-enable an endpoint the server disabled:
        gatehouse webhook update wh_0123... --enabled true

    Deliveries follow the Standard Webhooks specification (webhook-id, webhook-timestamp,
    webhook-signature: v1,<base64 HMAC-SHA256>), so receivers verify them with its libraries.
    The body is {\"type\": KIND, \"timestamp\": ..., \"data\": {id, client_id, user, ip,
    request_id, detail}}; webhook-id is msg_ and the event id, the same on every retry and
    replay. See docs/webhooks.md.";
