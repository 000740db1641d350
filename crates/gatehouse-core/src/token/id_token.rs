//! OpenID Connect claims (OpenID Connect Core §2, §5.1, §5.4): the id_token's claims and the
//! user's claims released by the granted scopes, shared with the UserInfo endpoint, and the
//! claims the client maps into id_tokens (see [`crate::claims`]).

use serde_json::{json, Map, Value};

use crate::claims::{client_claims, merge_mapped, ClaimTarget, UserData};
use crate::client::Client;
use crate::scope::ScopeSet;
use crate::store::TokenFamily;
use crate::user::User;

/// The user's claims released by `scope` (OpenID Connect Core §5.4), with `sub`. gatehouse never
/// verifies addresses or numbers itself, so the `*_verified` claims are `false`.
pub fn user_claims(user: &User, scope: &ScopeSet) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(user.id.clone()));
    if scope.contains("profile") {
        claims.insert(
            "preferred_username".into(),
            Value::String(user.username.as_str().to_owned()),
        );
    }
    if scope.contains("email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), Value::String(email.clone()));
            claims.insert("email_verified".into(), Value::Bool(false));
        }
    }
    if scope.contains("phone") {
        if let Some(phone) = &user.phone {
            claims.insert("phone_number".into(), Value::String(phone.clone()));
            claims.insert("phone_number_verified".into(), Value::Bool(false));
        }
    }
    claims
}

/// The times an id_token states.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenTimes {
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// When the user logged in.
    pub auth_time: i64,
}

/// The claims of an id_token (OpenID Connect Core §2): `iss`, `sub`, `aud` (the client), `exp`,
/// `iat`, `auth_time` (the login), `amr` (how the user authenticated, RFC 8176), `sid` (the
/// session, OpenID Connect Back-Channel Logout §2.1), the scope's user claims, and the claims the
/// client maps into id_tokens (which never replace any of those).
pub fn id_token_claims(
    issuer: &str,
    client: &Client,
    user: &User,
    scope: &ScopeSet,
    times: IdTokenTimes,
    session: &TokenFamily,
) -> Value {
    let mut claims = user_claims(user, scope);
    let fixed = json!({
        "iss": issuer,
        "aud": client.id.as_str(),
        "exp": times.exp,
        "iat": times.iat,
        "auth_time": times.auth_time,
        "amr": session.amr,
        "sid": session.id,
    });
    if let Value::Object(fixed) = fixed {
        claims.extend(fixed);
    }
    let mapped = client_claims(
        client,
        Some(UserData::from(user)),
        scope,
        ClaimTarget::IdToken,
    );
    merge_mapped(&mut claims, mapped);
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::Username;

    #[test]
    fn claims_follow_the_granted_scopes() {
        let user = User {
            id: "u1".into(),
            username: Username::parse("Alice").unwrap(),
            password_hash: String::new(),
            email: Some("a@example.com".into()),
            phone: Some("+1555".into()),
            scopes: None,
            created_at: 0,
            active: true,
            session_epoch: 0,
            password_changed_at: 0,
            password_change_required: None,
            attributes: Default::default(),
            roles: Default::default(),
            store: None,
        };
        let c = user_claims(&user, &ScopeSet::parse("openid email").unwrap());
        assert_eq!(c["email"], "a@example.com");
        assert_eq!(c["email_verified"], false);
        assert!(!c.contains_key("phone_number"));
        assert!(!c.contains_key("preferred_username"));
        let c = user_claims(&user, &ScopeSet::parse("openid phone profile").unwrap());
        assert_eq!(c["phone_number"], "+1555");
        assert_eq!(c["preferred_username"], "alice");
    }
}
