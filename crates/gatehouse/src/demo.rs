//! `gatehouse demo`: a server on a throwaway SQLite database with demo clients (confidential,
//! public, and a machine client of the client credentials grant) and a user, and a
//! ready-to-paste curl command in the request shape of each documented product.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use gatehouse_core::admin::{NewClient, NewUser};
use gatehouse_core::client::{ClientId, ClientSettings, GrantType};
use gatehouse_core::random;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::Username;
use secrecy::SecretString;

use crate::admin::{service, CLI};
use crate::config::{Config, DatabaseUrl};
use crate::server::serve;

const CLIENT: &str = "demo-app";
const SECRET: &str = "demo-secret";
const PUBLIC_CLIENT: &str = "demo-public";
const SERVICE_CLIENT: &str = "demo-service";
const SERVICE_SECRET: &str = "demo-service-secret";
const SERVICE_SCOPES: &str = "contacts.read contacts.write";
const USERNAME: &str = "demo@example.com";
const PASSWORD: &str = "demo-password";
const SCOPES: &str = "openid profile email phone offline_access contacts.read contacts.write";

/// Seeds a throwaway database and serves it until Ctrl-C; the database is deleted on exit.
pub(crate) async fn run(mut config: Config) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("gatehouse-demo-{}", random::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    config.database = DatabaseUrl::new(format!("sqlite://{}", dir.join("demo.db").display()));
    let result = seed_and_serve(&config).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
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
                println!("{}", instructions(addr));
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
    };
    admin.add_user(&CLI, user).await?;
    Ok(())
}

fn instructions(addr: SocketAddr) -> String {
    let base = format!("http://{addr}");
    format!(
        r#"
gatehouse demo: a throwaway database (deleted on exit) with
  confidential client  {CLIENT} / {SECRET}
  public client        {PUBLIC_CLIENT}
  service client       {SERVICE_CLIENT} / {SERVICE_SECRET} (client_credentials: {SERVICE_SCOPES})
  user                 {USERNAME} / {PASSWORD}
  scopes               {SCOPES}

Try each product's request shape (Ctrl-C stops the demo):

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
"#
    )
}
