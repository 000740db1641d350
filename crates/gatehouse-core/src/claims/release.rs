//! What a client's mappers release into one token or response: the claims whose scope was
//! granted and whose target it is, from the user's current attributes and roles (none for a
//! client token: only static values), at most [`MAX_MAPPED_CLAIMS_BYTES`] of them serialized.
//! A claim that would pass the bound is dropped, not the login: the caller records the names
//! dropped. A registered claim is never released even if one was stored (defence in depth).

use serde_json::{Map, Value};

use super::mapper::{is_reserved, ClaimMapper, ClaimSource, ClaimTarget};
use super::profile::{Attributes, Roles};
use crate::client::Client;
use crate::scope::ScopeSet;
use crate::user::User;

/// The most mapped claims one token or response carries, serialized, in bytes.
pub const MAX_MAPPED_CLAIMS_BYTES: usize = 8 * 1024;

/// What a user's mapped claims are made from.
#[derive(Debug, Clone, Copy)]
pub struct UserData<'a> {
    /// The user's attributes.
    pub attributes: &'a Attributes,
    /// The user's roles.
    pub roles: &'a Roles,
}

impl<'a> From<&'a User> for UserData<'a> {
    fn from(user: &'a User) -> Self {
        UserData {
            attributes: &user.attributes,
            roles: &user.roles,
        }
    }
}

/// The claims released, and those left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// The claims, in the mappers' order.
    pub claims: Map<String, Value>,
    /// The claims left out: over the size bound, or registered.
    pub dropped: Vec<String>,
}

/// The claims `mappers` release into `target` for a grant of `scope` to `user` (`None`: a
/// client token, which has no user, so only static values).
pub fn mapped_claims(
    mappers: &[ClaimMapper],
    user: Option<UserData<'_>>,
    scope: &ScopeSet,
    target: ClaimTarget,
) -> Released {
    let mut out = Released::default();
    // Each member costs its name, its value and about four bytes of quotes, colon and comma.
    let mut size = 2;
    for mapper in mappers.iter().filter(|m| m.is_for(target)) {
        if mapper.scope.as_deref().is_some_and(|s| !scope.contains(s)) {
            continue;
        }
        let value = match (&mapper.source, user) {
            (ClaimSource::Value(v), _) => v.clone(),
            (ClaimSource::Attribute(name), Some(u)) => match u.attributes.get(name) {
                Some(v) => v.clone(),
                None => continue,
            },
            (ClaimSource::Roles, Some(u)) => u.roles.to_value(),
            (_, None) => continue,
        };
        let cost = mapper.claim.len() + value.to_string().len() + 4;
        if is_reserved(&mapper.claim) || size + cost > MAX_MAPPED_CLAIMS_BYTES {
            out.dropped.push(mapper.claim.clone());
            continue;
        }
        size += cost;
        out.claims.insert(mapper.claim.clone(), value);
    }
    out
}

/// The claims `client` maps into `target` for a grant of `scope` (to `user`; `None` for a
/// client token). Claims left out are logged and counted
/// ([`crate::telemetry::MAPPED_CLAIMS_DROPPED`]); the token is issued without them.
pub fn client_claims(
    client: &Client,
    user: Option<UserData<'_>>,
    scope: &ScopeSet,
    target: ClaimTarget,
) -> Map<String, Value> {
    if client.settings.claims.is_empty() {
        return Map::new();
    }
    let released = mapped_claims(&client.settings.claims, user, scope, target);
    if !released.dropped.is_empty() {
        tracing::warn!(
            client_id = %client.id,
            target = target.as_str(),
            dropped = ?released.dropped,
            "mapped claims left out: over {MAX_MAPPED_CLAIMS_BYTES} bytes, or registered"
        );
        crate::telemetry::mapped_claims_dropped(target.as_str(), released.dropped.len());
    }
    released.claims
}

/// Adds `mapped` to `claims`, never replacing a claim already there (the token's own).
pub fn merge_mapped(claims: &mut Map<String, Value>, mapped: Map<String, Value>) {
    for (name, value) in mapped {
        claims.entry(name).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::mapper::parse_list;
    use serde_json::json;

    fn mappers() -> Vec<ClaimMapper> {
        parse_list(&json!([
            {"claim": "department", "from": "attribute:department", "scope": "profile",
             "in": ["access_token", "id_token", "userinfo"]},
            {"claim": "tenant", "value": "acme"},
            {"claim": "roles", "from": "roles", "in": ["access_token", "introspection"]},
            {"claim": "missing", "from": "attribute:nope"},
        ]))
        .unwrap()
    }

    fn data() -> (Attributes, Roles) {
        (
            Attributes::parse(&json!({"department": "sales"})).unwrap(),
            Roles::parse(["admin", "viewer"]).unwrap(),
        )
    }

    #[test]
    fn scope_and_target_decide_what_is_released() {
        let (attributes, roles) = data();
        let user = Some(UserData {
            attributes: &attributes,
            roles: &roles,
        });
        let profile = ScopeSet::parse("openid profile").unwrap();
        let at = mapped_claims(&mappers(), user, &profile, ClaimTarget::AccessToken);
        assert_eq!(
            Value::Object(at.claims),
            json!({"department": "sales", "tenant": "acme", "roles": ["admin", "viewer"]})
        );
        let openid = ScopeSet::parse("openid").unwrap();
        let id = mapped_claims(&mappers(), user, &openid, ClaimTarget::IdToken);
        assert_eq!(Value::Object(id.claims), json!({"tenant": "acme"}));
        let client = mapped_claims(&mappers(), None, &profile, ClaimTarget::AccessToken);
        assert_eq!(Value::Object(client.claims), json!({"tenant": "acme"}));
    }

    #[test]
    fn claims_over_the_bound_and_registered_ones_are_dropped_not_failed() {
        let big: Vec<Value> = (0..12)
            .map(|i| json!({"claim": format!("c{i}"), "value": "x".repeat(1000)}))
            .collect();
        let mut list = parse_list(&json!(big)).unwrap();
        list.push(ClaimMapper {
            claim: "sub".into(),
            source: ClaimSource::Value(json!("evil")),
            scope: None,
            targets: ClaimTarget::ALL.to_vec(),
        });
        let out = mapped_claims(&list, None, &ScopeSet::default(), ClaimTarget::AccessToken);
        assert_eq!(out.claims.len(), 8);
        assert!(Value::Object(out.claims.clone()).to_string().len() <= MAX_MAPPED_CLAIMS_BYTES);
        assert_eq!(out.dropped.len(), 5);
        assert!(out.dropped.contains(&"sub".to_owned()));
        let mut token = Map::new();
        token.insert("tenant".into(), json!("mine"));
        let mut mapped = Map::new();
        mapped.insert("tenant".into(), json!("theirs"));
        merge_mapped(&mut token, mapped);
        assert_eq!(token["tenant"], "mine");
    }
}
