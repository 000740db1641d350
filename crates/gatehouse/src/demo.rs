//! `gatehouse demo`: a server on a throwaway SQLite database with demo clients (confidential,
//! public, and a machine client of the client credentials grant) and a user, and a
//! ready-to-paste curl command in the request shape of each documented product. With `--tls`
//! it serves HTTPS with a self-signed certificate made at start (next to the database) and
//! prints how to make curl, Node and Python trust it: Auth0's SDKs and openid-client refuse
//! plain http.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gatehouse_core::admin::{NewClient, NewUser};
use gatehouse_core::claims::Roles;
use gatehouse_core::client::{ClientId, ClientSettings, GrantType};
use gatehouse_core::console::ADMIN_ROLE;
use gatehouse_core::random;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::Username;
use secrecy::SecretString;

use crate::admin::{service, CLI};
use crate::config::{Config, DatabaseUrl};
use crate::server::serve;
use crate::tls::TlsFiles;

const CLIENT: &str = "demo-app";
const SECRET: &str = "demo-secret";
const PUBLIC_CLIENT: &str = "demo-public";
const SERVICE_CLIENT: &str = "demo-service";
const SERVICE_SECRET: &str = "demo-service-secret";
const SERVICE_SCOPES: &str = "contacts.read contacts.write";
const USERNAME: &str = "demo@example.com";
const PASSWORD: &str = "demo-password";
const SCOPES: &str =
    "openid profile email phone offline_access contacts.read contacts.write account";
/// A user whose password is on the built-in list of common passwords: their logins succeed and
/// are flagged (`password_change_required: breached`).
const LEAKED_USER: &str = "leaked@example.com";
const LEAKED_PASSWORD: &str = "iloveyou";
/// The demo's administrator of the web console (role gatehouse:admin; enrols TOTP at first
/// sign-in).
const ADMIN_USER: &str = "admin";
const ADMIN_PASSWORD: &str = "demo-admin-password";

/// Seeds a throwaway database and serves it until Ctrl-C; the database (and the certificate of
/// `tls`) is deleted on exit.
pub(crate) async fn run(mut config: Config, tls: bool) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("gatehouse-demo-{}", random::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    config.database = DatabaseUrl::new(format!("sqlite://{}", dir.join("demo.db").display()));
    // The demo always serves the web console, with the default session timeouts.
    config.console = Some((900, 28_800));
    let result = async {
        if tls {
            config.tls = Some(self_signed(&dir, config.listen)?);
        }
        seed_and_serve(&config).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes a new self-signed certificate for localhost, 127.0.0.1, ::1 and the listen address
/// into `dir` (the key readable by its owner only).
fn self_signed(dir: &Path, listen: SocketAddr) -> Result<TlsFiles> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    let ip = listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let made = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    let files = TlsFiles {
        cert: dir.join("demo-cert.pem"),
        key: dir.join("demo-key.pem"),
    };
    write_private(&files.key, &made.key_pair.serialize_pem())?;
    std::fs::write(&files.cert, made.cert.pem())
        .with_context(|| format!("writing {}", files.cert.display()))?;
    Ok(files)
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

async fn seed_and_serve(config: &Config) -> Result<()> {
    seed(config).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = serve(config, Some(tx));
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => return res,
        addr = rx => {
            if let Ok(addr) = addr {
                let cert = config.tls.as_ref().map(|files| files.cert.clone());
                println!("{}", instructions(addr, cert));
            }
        }
    }
    server.await
}

async fn seed(config: &Config) -> Result<()> {
    let admin = service(config, None).await?;
    let scopes: Vec<String> = ScopeSet::parse(SCOPES)?.iter().map(str::to_owned).collect();
    let settings = ClientSettings {
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        scopes,
        default_scopes: vec!["openid".into()],
        ..ClientSettings::default()
    };
    let clients = [
        (CLIENT, Some(SecretString::from(SECRET))),
        (PUBLIC_CLIENT, None),
    ];
    for (id, secret) in clients {
        let id = ClientId::parse(id)?;
        let settings = settings.clone();
        let new = NewClient {
            id,
            secret,
            settings,
        };
        admin.add_client(&CLI, new).await?;
    }
    // A machine-to-machine caller: the client credentials grant only (RFC 6749 §4.4).
    let service = NewClient {
        id: ClientId::parse(SERVICE_CLIENT)?,
        secret: Some(SecretString::from(SERVICE_SECRET)),
        settings: ClientSettings {
            grant_types: vec![GrantType::ClientCredentials],
            scopes: SERVICE_SCOPES.split(' ').map(str::to_owned).collect(),
            default_scopes: vec!["contacts.read".into()],
            ..ClientSettings::default()
        },
    };
    admin.add_client(&CLI, service).await?;
    let user = NewUser {
        username: Username::parse(USERNAME)?,
        password: SecretString::from(PASSWORD),
        email: Some(USERNAME.into()),
        phone: Some("+15555550100".into()),
        scopes: None,
        active: true,
        attributes: Default::default(),
        roles: Default::default(),
        // The demo's password is short; the demo shows the policy refusing such a one.
        allow_weak_password: true,
    };
    admin.add_user(&CLI, user).await?;
    let leaked = NewUser {
        username: Username::parse(LEAKED_USER)?,
        password: SecretString::from(LEAKED_PASSWORD),
        email: Some(LEAKED_USER.into()),
        phone: None,
        scopes: None,
        active: true,
        attributes: Default::default(),
        roles: Default::default(),
        allow_weak_password: true,
    };
    admin.add_user(&CLI, leaked).await?;
    let console_admin = NewUser {
        username: Username::parse(ADMIN_USER)?,
        password: SecretString::from(ADMIN_PASSWORD),
        email: None,
        phone: None,
        scopes: None,
        active: true,
        attributes: Default::default(),
        roles: Roles::parse([ADMIN_ROLE]).map_err(anyhow::Error::msg)?,
        allow_weak_password: true,
    };
    admin.add_user(&CLI, console_admin).await?;
    Ok(())
}

fn instructions(addr: SocketAddr, cert: Option<PathBuf>) -> String {
    let scheme = if cert.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{addr}");
    // curl trusts the demo's certificate through CURL_CA_BUNDLE, so the commands below stay
    // the same with and without --tls.
    let trust = cert.map_or_else(String::new, |cert| trust(&cert.display().to_string()));
    format!(
        r#"
gatehouse demo: a throwaway database (deleted on exit) with
  confidential client  {CLIENT} / {SECRET}
  public client        {PUBLIC_CLIENT}
  service client       {SERVICE_CLIENT} / {SERVICE_SECRET} (client_credentials: {SERVICE_SCOPES})
  user                 {USERNAME} / {PASSWORD}
  user                 {LEAKED_USER} / {LEAKED_PASSWORD} (a common password)
  scopes               {SCOPES}

Web console: {base}/admin
  sign in as           {ADMIN_USER} / {ADMIN_PASSWORD} (role {ADMIN_ROLE}; scan the QR code
                       with an authenticator app at first sign-in)

{trust}Try each product's request shape (Ctrl-C stops the demo):

# Connect: HTTP Basic, scope required
curl -s -u '{CLIENT}:{SECRET}' {base}/oauth/token \
  -d grant_type=password -d 'username={USERNAME}' -d 'password={PASSWORD}' \
  --data-urlencode 'scope=openid phone email'

# @jmondi/oauth2-server: client credentials in the body
curl -s {base}/token -H 'Content-Type: application/x-www-form-urlencoded' \
  -d 'grant_type=password&client_id={CLIENT}&client_secret={SECRET}&username=demo%40example.com&password={PASSWORD}&scope=contacts.read%20contacts.write'

# Oracle Identity Cloud: Basic header, form with charset
curl -i -H "Authorization: Basic $(printf '%s' '{CLIENT}:{SECRET}' | base64)" \
  -H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' \
  --request POST {base}/oauth2/v1/token \
  -d 'grant_type=password&username=demo%40example.com&password={PASSWORD}&scope=openid%20offline_access'

# Aidbox: JSON body, public client
curl -s -X POST {base}/auth/token -H 'Content-Type: application/json' \
  -d '{{"client_id":"{PUBLIC_CLIENT}","grant_type":"password","username":"{USERNAME}","password":"{PASSWORD}"}}'

# Machine to machine: the client credentials grant (no user, no refresh token)
curl -s -u '{SERVICE_CLIENT}:{SERVICE_SECRET}' {base}/oauth/token \
  -d grant_type=client_credentials --data-urlencode 'scope=contacts.read contacts.write'

# Password policy (NIST SP 800-63B-4): a weak new password is refused, naming the rule
TOKEN=$(curl -s -u '{CLIENT}:{SECRET}' {base}/oauth/token -d grant_type=password \
  -d 'username={USERNAME}' -d 'password={PASSWORD}' --data-urlencode 'scope=openid account' \
  | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
curl -s {base}/account/password -H "Authorization: Bearer $TOKEN" \
  -d 'current_password={PASSWORD}' -d 'new_password=letmein123'
# {{"error":"invalid_password","error_description":"...","rule":"min_length"}}

# A breached (here: common) password is flagged at login: the login succeeds and says so
curl -s -u '{CLIENT}:{SECRET}' {base}/oauth/token -d grant_type=password \
  -d 'username={LEAKED_USER}' -d 'password={LEAKED_PASSWORD}'
# {{..."password_change_required":"breached"}}
"#
    )
}

/// How to trust the demo's self-signed certificate, for each kind of client.
fn trust(cert: &str) -> String {
    format!(
        r#"HTTPS with a self-signed certificate made for this demo (deleted on exit):
  {cert}
Trust it in the shell of your client; the commands below then work unchanged:
  # curl (or give each command --cacert '{cert}')
  export CURL_CA_BUNDLE='{cert}'
  # Node: openid-client, jose, Auth0's SDKs
  export NODE_EXTRA_CA_CERTS='{cert}'
  # Python: ssl and httpx (SSL_CERT_FILE), requests, Authlib, requests-oauthlib (REQUESTS_CA_BUNDLE)
  export SSL_CERT_FILE='{cert}' REQUESTS_CA_BUNDLE='{cert}'

"#
    )
}
