//! `gatehouse serve`: opens the store, loads the signing keys, builds the services and serves
//! until SIGTERM or Ctrl-C, letting in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use gatehouse_core::account::Account;
use gatehouse_core::admin::keys::{current_default, SigningKeys};
use gatehouse_core::admin::AdminService;
use gatehouse_core::admin::{NewClient, Via};
use gatehouse_core::audit::AuditLog;
use gatehouse_core::audit::RequestContext;
use gatehouse_core::authorize::PasswordCodes;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::client_assertion::{AssertionVerifier, SecretSealer};
use gatehouse_core::client_auth::ClientAuthenticator;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::console::{
    console_client_settings, AdminTokens, ConsoleSessions, CONSOLE_CLIENT_ID,
};
use gatehouse_core::discovery::Discovery;
use gatehouse_core::grant::{Grants, TokenIssuer};
use gatehouse_core::introspection::Introspection;
use gatehouse_core::login_guard::LoginGuard;
use gatehouse_core::mfa::api::Mfa;
use gatehouse_core::mfa::SecondFactor;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::password_rules::PasswordRules;
use gatehouse_core::revocation::Revocation;
use gatehouse_core::sealing::Sealer;
use gatehouse_core::store::Store;
use gatehouse_core::token::identity::IssuerIdentity;
use gatehouse_core::token::key_cache::Keys;
use gatehouse_core::token::keys::{KeyRing, SigningAlg};
use gatehouse_core::token::resolve::AccessTokens;
use gatehouse_core::userinfo::UserInfo;
use gatehouse_core::webhook::{WebhookSender, Webhooks};
use gatehouse_http::console::Console;
use gatehouse_http::AppState;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::webhook_delivery::HttpSender;

/// Opens (creating and migrating) the configured database.
pub(crate) async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    gatehouse_store::connect(config.database.expose())
        .await
        .with_context(|| format!("opening the database {}", config.database))
}

/// A hasher with the configured parameters.
pub(crate) fn hasher(config: &Config) -> Result<Arc<PasswordHasher>> {
    if !config.hash.meets_owasp() {
        tracing::warn!(
            params = ?config.hash,
            "argon2id parameters are below OWASP's minimum (19456 KiB, t=2, p=1)"
        );
    }
    let hasher =
        PasswordHasher::with_admission(config.hash, config.hash_workers, config.hash_admission)?;
    Ok(Arc::new(hasher.with_ceiling(config.hash_ceiling)))
}

/// The login guard `serve` and the CLI share: the configured policies over `store`, recording
/// lockouts in `audit`.
pub(crate) fn guard(
    config: &Config,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    audit: Arc<AuditLog>,
) -> gatehouse_core::login_guard::LoginGuard {
    gatehouse_core::login_guard::LoginGuard::new(store.clone(), clock.clone(), audit)
        .with_lockout(config.security.lockout)
        .with_throttle(config.security.throttle.clone())
        .with_ipv6_prefix(config.security.throttle_ipv6_prefix)
}

/// Serves on the configured address. `on_ready` is told the bound address once requests are
/// accepted.
pub(crate) async fn serve(
    config: &Config,
    on_ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<()> {
    let sealer = crate::secret_key::sealer(config)?;
    // The breached-password lists first: a damaged blocklist file refuses the start before
    // the database is touched.
    let rules = config.passwords.rules()?;
    // On PostgreSQL a serving instance keeps its hot rows in memory, in step with the others
    // through change notices (gatehouse_store::hot_cache).
    let store = gatehouse_store::connect_serving(config.database.expose())
        .await
        .with_context(|| format!("opening the database {}", config.database))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = load_keys(store.clone(), clock.clone(), config.signing_alg, &sealer).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    // Read the certificate before announcing the address, so a bad file fails the start.
    let tls = match &config.tls {
        Some(files) => Some((crate::tls::load(files).await?, files.clone())),
        None => None,
    };

    let hasher = hasher(config)?;
    let sweep = crate::cleanup::spawn(
        store.clone(),
        clock.clone(),
        config.cleanup_interval,
        i64::from(config.security.event_retention_days) * 86_400,
        // With the lockout off, no row is kept for it at all.
        config
            .security
            .lockout
            .map_or(0, |policy| policy.reset_after),
        i64::try_from(config.webhooks.retention.as_secs()).unwrap_or(i64::MAX),
    );
    let sender: Arc<dyn WebhookSender> = Arc::new(HttpSender::new(&config.webhooks)?);
    let deliveries = crate::webhook_delivery::spawn(
        store.clone(),
        sender.clone(),
        sealer.clone(),
        clock.clone(),
        Arc::new(AuditLog::new(store.clone(), clock.clone())),
        &config.webhooks,
    );
    let console_client = match config.console {
        Some((_, lifetime)) => {
            Some(ensure_console_client(&store, &clock, hasher.clone(), lifetime).await?)
        }
        None => None,
    };
    let passwords = (hasher, rules);
    let state = app_state(
        config,
        store,
        clock,
        passwords,
        (sealer, sender, console_client),
        keys,
        &issuer,
    )?;
    if let Some(metrics_addr) = config.metrics_listen {
        spawn_metrics_listener(metrics_addr, gatehouse_http::metrics_router(state.clone())).await?;
    }
    let app = gatehouse_http::router(state)
        .layer(axum::Extension(
            gatehouse_http::client_address::TrustedProxies(config.security.trusted_proxies.clone()),
        ))
        .layer(axum::middleware::from_fn_with_state(
            gatehouse_http::request_timeout::RequestTimeout(config.request_timeout),
            gatehouse_http::request_timeout::enforce,
        ));

    let shutdown = shutdown_signal();
    tracing::info!(%addr, %issuer, database = %config.database, "gatehouse listening");
    println!("gatehouse listening on {scheme}://{addr}");
    if config.console.is_some() {
        // Logged, not printed: the one stdout line is the address (what scripts read).
        tracing::info!(url = %format!("{issuer}/admin"), "the web console is on");
    }
    if let Some(tx) = on_ready {
        let _ = tx.send(addr);
    }
    let reloader = tls
        .as_ref()
        .map(|(tls, files)| tokio::spawn(crate::tls::reload_on_sighup(tls.clone(), files.clone())));
    let served = crate::connections::serve(
        listener,
        app,
        tls.map(|(tls, _)| tls),
        config.connections,
        crate::connection_cap::AddressCap::new(
            config.connections.max_per_address,
            config.security.trusted_proxies.clone(),
        ),
        shutdown,
    )
    .await
    .with_context(|| format!("serving {scheme}"));
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    served?;
    sweep.abort();
    // A delivery cut off here is sent again once its lease ends (at least once).
    deliveries.abort();
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// The services every handler reaches, wired over one store, clock, audit log, login guard and
/// key ring; `passwords`: the hash pool and the rules passwords are held to.
fn app_state(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    passwords: (Arc<PasswordHasher>, Arc<PasswordRules>),
    (sealer, sender, console_client): (Arc<Sealer>, Arc<dyn WebhookSender>, Option<Client>),
    ring: KeyRing,
    issuer: &str,
) -> Result<AppState> {
    let (hasher, rules) = passwords;
    let audit = AuditLog::new(store.clone(), clock.clone())
        .with_rejected_event_window(config.security.rejected_event_window);
    let audit = Arc::new(audit);
    let guard = guard(config, &store, &clock, audit.clone());
    let keys = Arc::new(Keys::new(
        store.clone(),
        clock.clone(),
        sealer.clone(),
        ring,
    ));
    let identity = IssuerIdentity::new(issuer.to_owned(), keys.clone(), sealer.clone());
    let shared = Shared {
        store,
        clock,
        sealer,
        audit,
        guard: Arc::new(guard),
        identity: Arc::new(identity),
    };
    let (store, clock) = (&shared.store, &shared.clock);
    let access_tokens = shared.access_tokens();
    let second_factor = shared.second_factor(config);
    let account = shared.account(config, hasher.clone(), rules.clone(), &access_tokens);
    let external = Arc::new(crate::user_stores::build(&config.user_stores)?);
    let console = match (console_client, config.console) {
        (Some(client), Some(timeouts)) => {
            let secure = config.tls.is_some() || issuer.starts_with("https://");
            let admin = shared.console_admin(config, hasher.clone(), rules.clone());
            Some(shared.console(config, admin, client, timeouts, secure)?)
        }
        _ => None,
    };
    Ok(AppState {
        account,
        clients: shared.clients(config, hasher.clone()),
        codes: Arc::new(PasswordCodes::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            config.password_code_ttl,
        )),
        admin: shared.admin(config, hasher.clone(), rules.clone()),
        webhooks: config.admin_token.as_ref().map(|_| {
            Arc::new(Webhooks::new(
                shared.store.clone(),
                shared.sealer.clone(),
                shared.clock.clone(),
                shared.audit.clone(),
                Some(sender),
                config.webhooks.allow_private,
                Via::AdminApi,
            ))
        }),
        grants: shared.grants(config, hasher, second_factor.clone(), rules, external),
        introspection: Arc::new(Introspection::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            access_tokens.clone(),
        )),
        revocation: Arc::new(Revocation::new(
            store.clone(),
            clock.clone(),
            access_tokens.clone(),
            shared.audit.clone(),
        )),
        userinfo: Arc::new(UserInfo::new(
            store.clone(),
            store.clone(),
            access_tokens.clone(),
        )),
        mfa: Arc::new(Mfa::new(
            store.clone(),
            clock.clone(),
            shared.identity.clone(),
            shared.audit.clone(),
            second_factor,
            access_tokens.clone(),
        )),
        discovery: Arc::new(Discovery::new(
            store.clone(),
            clock.clone(),
            keys.clone(),
            issuer.to_owned(),
        )),
        keys,
        store: store.clone(),
        metrics: gatehouse_http::Metrics::install()?,
        admin_tokens: Arc::new(AdminTokens::new(access_tokens)),
        console,
    })
}

/// What most services are built from.
struct Shared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    audit: Arc<AuditLog>,
    guard: Arc<LoginGuard>,
    identity: Arc<IssuerIdentity>,
}

impl Shared {
    fn clients(&self, config: &Config, hasher: Arc<PasswordHasher>) -> Arc<ClientAuthenticator> {
        let sealer: Arc<dyn SecretSealer> = self.sealer.clone();
        let assertions = AssertionVerifier::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.identity.issuer(),
            config.assertions,
        );
        Arc::new(
            ClientAuthenticator::new(self.store.clone(), hasher)
                .with_sealer(self.sealer.clone())
                .with_assertions(Arc::new(assertions.with_sealer(sealer)))
                .with_guard(self.guard.clone())
                .with_audit(self.audit.clone(), self.clock.clone()),
        )
    }

    fn admin(
        &self,
        config: &Config,
        hasher: Arc<PasswordHasher>,
        rules: Arc<PasswordRules>,
    ) -> Option<Arc<AdminService>> {
        let token = config.admin_token.as_ref()?;
        let admin = AdminService::new(self.store.clone(), hasher, self.clock.clone(), token);
        Some(Arc::new(
            admin
                .with_password_change_sessions(config.password_change_sessions)
                .with_password_rules(rules)
                .with_sealer(self.sealer.clone())
                .with_guard(self.guard.clone())
                .with_audit(self.audit.clone()),
        ))
    }

    /// The console's admin service: the admin API's, recording its changes `via: console`.
    fn console_admin(
        &self,
        config: &Config,
        hasher: Arc<PasswordHasher>,
        rules: Arc<PasswordRules>,
    ) -> Arc<AdminService> {
        let admin = AdminService::for_cli(self.store.clone(), hasher, self.clock.clone())
            .via(Via::Console)
            .with_password_change_sessions(config.password_change_sessions)
            .with_password_rules(rules)
            .with_sealer(self.sealer.clone())
            .with_guard(self.guard.clone())
            .with_audit(self.audit.clone());
        Arc::new(admin)
    }

    fn console(
        &self,
        config: &Config,
        admin: Arc<AdminService>,
        client: Client,
        (idle, lifetime): (u32, u32),
        secure: bool,
    ) -> Result<Arc<Console>> {
        let sessions =
            ConsoleSessions::new(self.sealer.clone(), self.clock.clone(), idle, lifetime);
        let keys = (config.signing_alg, self.sealer.clone());
        let console = Console::new(admin, sessions, client, secure, keys)
            .context("loading the console's templates")?;
        Ok(Arc::new(console))
    }

    /// Self-service password changes: the admin service's password replacement, recorded
    /// `via: self_service`, behind the access token's own check.
    fn account(
        &self,
        config: &Config,
        hasher: Arc<PasswordHasher>,
        rules: Arc<PasswordRules>,
        access_tokens: &Arc<AccessTokens>,
    ) -> Arc<Account> {
        let admin = AdminService::for_cli(self.store.clone(), hasher.clone(), self.clock.clone())
            .via(Via::SelfService)
            .with_password_change_sessions(config.password_change_sessions)
            .with_password_rules(rules)
            .with_guard(self.guard.clone())
            .with_audit(self.audit.clone());
        Arc::new(Account::new(
            access_tokens.clone(),
            self.store.clone(),
            self.store.clone(),
            hasher,
            self.guard.clone(),
            self.audit.clone(),
            Arc::new(admin),
        ))
    }

    fn access_tokens(&self) -> Arc<AccessTokens> {
        Arc::new(AccessTokens::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.identity.clone(),
        ))
    }

    fn second_factor(&self, config: &Config) -> Arc<SecondFactor> {
        let second_factor = SecondFactor::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.sealer.clone(),
            self.guard.clone(),
            self.audit.clone(),
        );
        Arc::new(second_factor.with_mfa_token_ttl(config.mfa_token_ttl))
    }

    fn grants(
        &self,
        config: &Config,
        hasher: Arc<PasswordHasher>,
        second_factor: Arc<SecondFactor>,
        rules: Arc<PasswordRules>,
        external: Arc<gatehouse_core::external_users::ExternalUsers>,
    ) -> Arc<Grants> {
        let issuer = TokenIssuer::new(
            self.store.clone(),
            self.clock.clone(),
            self.identity.clone(),
        )
        .with_default_session_limit(config.session_limit);
        Arc::new(
            Grants::new(
                self.store.clone(),
                self.clock.clone(),
                hasher,
                self.guard.clone(),
                self.audit.clone(),
                issuer,
                second_factor,
            )
            .with_password_rules(rules)
            .with_external_users(external),
        )
    }
}

/// Serves `/metrics` (and only that) over plain HTTP on a second address, e.g. one that only
/// the monitoring network reaches. The main listener keeps serving it too.
async fn spawn_metrics_listener(addr: SocketAddr, app: axum::Router) -> Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for metrics on {addr}"))?;
    let bound = listener
        .local_addr()
        .context("reading the metrics address")?;
    tracing::info!(addr = %bound, "metrics listening");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// The stored keys, after adding a default key of `alg` when the current default key is of
/// another algorithm (or there is none), and a key of each algorithm a client names that has no
/// current key: the new default key signs from now on, and the old ones stay published until
/// every token they signed has expired.
///
/// Race-free across instances: a new key is stored as the successor of the newest one, which
/// the database lets only one instance do (`SigningKeys::add_after`, which `keys rotate` and the
/// admin service use too); the loser re-reads and signs with the winner's key. Every instance
/// thus ends up with the same ring, with one current key per algorithm.
pub(crate) async fn load_keys(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    alg: SigningAlg,
    sealer: &Sealer,
) -> Result<KeyRing> {
    let clients = store.list_clients().await.context("reading clients")?;
    let keys = SigningKeys::new(store, clock.clone());
    ensure_default_key(&keys, alg, sealer).await?;
    let mut client_algs: Vec<SigningAlg> = Vec::new();
    for alg in clients.iter().flat_map(|c| c.settings.signing_algs()) {
        if !client_algs.contains(&alg) {
            client_algs.push(alg);
        }
    }
    for client_alg in client_algs {
        let added = keys.ensure(client_alg, sealer).await;
        if let Some(key) = added.context("storing a signing key for clients")? {
            tracing::info!(kid = %key.kid, alg = client_alg.as_str(), "created a signing key for clients");
        }
    }
    let stored = keys.stored().await.context("reading signing keys")?;
    KeyRing::in_force(&stored, sealer, clock.now()).context(
        "opening the signing keys: is this the server key they were sealed with? \
         (--secret-key-file / GATEHOUSE_SECRET_KEY)",
    )
}

/// Adds a default key of `alg` unless the current default key is of `alg`.
async fn ensure_default_key(keys: &SigningKeys, alg: SigningAlg, sealer: &Sealer) -> Result<()> {
    // Each round either finds a default key of `alg`, or adds one, or loses to an instance that
    // added a key; only instances configured with different algorithms keep taking turns.
    for _ in 0..KEY_ROUNDS {
        let stored = keys.stored().await.context("reading signing keys")?;
        if current_default(&stored).is_some_and(|k| k.alg == alg.as_str()) {
            return Ok(());
        }
        let added = keys.add_after(alg, true, stored.last(), sealer).await;
        match added.context("storing a new signing key")? {
            Some(key) => {
                tracing::info!(kid = %key.kid, alg = alg.as_str(), "created a signing key")
            }
            None => tracing::info!("another instance created the signing key at the same time"),
        }
    }
    anyhow::bail!(
        "the default signing key keeps changing algorithm: do all instances on this database \
         use the same signing_alg?"
    )
}

/// Attempts at agreeing on a signing key before giving up.
const KEY_ROUNDS: usize = 4;

/// Completes on SIGTERM or Ctrl-C. The handlers are installed here, before the server
/// announces its address, not when the future is first polled: a signal sent as soon as the
/// server answers must stop it gracefully, never kill it with the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut terminate = install(tokio::signal::unix::SignalKind::terminate(), "SIGTERM");
    #[cfg(unix)]
    let mut interrupt = install(tokio::signal::unix::SignalKind::interrupt(), "Ctrl-C");
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                () = received(terminate.as_mut()) => {},
                () = received(interrupt.as_mut()) => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// The handler of `kind`, installed now; `None` (logged) if it cannot be.
#[cfg(unix)]
fn install(
    kind: tokio::signal::unix::SignalKind,
    name: &str,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(|err| tracing::error!(%err, "cannot listen for {name}"))
        .ok()
}

/// Completes when `signal` arrives; never, if its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Registers the console's built-in public client, or brings its settings back to what the
/// console needs (password grant, scope gatehouse:admin, MFA required, opaque tokens living the
/// session lifetime); a concurrent start that registered it first is fine.
async fn ensure_console_client(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    lifetime: u32,
) -> Result<Client> {
    let admin = AdminService::for_cli(store.clone(), hasher, clock.clone()).via(Via::Console);
    let ctx = RequestContext::default();
    let wanted = console_client_settings(lifetime);
    for _ in 0..2 {
        match admin.find_client(CONSOLE_CLIENT_ID).await {
            Ok(client) if client.settings == wanted && client.is_public() => return Ok(client),
            Ok(_) => {
                return admin
                    .update_client(&ctx, CONSOLE_CLIENT_ID, |s| *s = wanted.clone())
                    .await
                    .context("updating the console client");
            }
            Err(gatehouse_core::Error::NotFound(_)) => {
                let new = NewClient {
                    id: ClientId::parse(CONSOLE_CLIENT_ID).context("the console client id")?,
                    secret: None,
                    settings: wanted.clone(),
                };
                match admin.add_client(&ctx, new).await {
                    Ok(client) => return Ok(client),
                    Err(gatehouse_core::Error::Conflict(_)) => continue,
                    Err(e) => return Err(e).context("registering the console client"),
                }
            }
            Err(e) => return Err(e).context("reading the console client"),
        }
    }
    anyhow::bail!("the console client could not be registered")
}
