//! Claim mappers: a client's rules for adding claims to its tokens and responses. In the admin
//! API (the Client field `claims`) and in the client's stored settings a mapper is
//!
//! ```json
//! {"claim": "department", "from": "attribute:department", "scope": "profile",
//!  "in": ["access_token", "id_token", "userinfo"]}
//! ```
//!
//! with exactly one source: `"value": <any JSON>` (static), `"from": "attribute:NAME"` (the
//! user's attribute, omitted when they lack it) or `"from": "roles"` (the user's roles, a list).
//! `scope` (optional) releases the claim only when the grant holds that scope; `in` (default:
//! all four) names where it goes. On the command line (`--claim`) the same mapper is
//! `department=attribute:department;scope=profile;in=access_token,id_token`, `tenant=value:acme`
//! or `roles=roles` (see [`ClaimMapper::from_flag`]).
//!
//! Registered claims ([`RESERVED_CLAIMS`]: the JWT, RFC 9068, RFC 7662 and OpenID Connect
//! claims gatehouse sets itself, and the ones it could set) are refused, as are repeated claim
//! names, more than [`MAX_MAPPERS`] mappers and static values over [`MAX_STATIC_VALUE_BYTES`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::profile::is_attribute_name;
use crate::error::echo;
use crate::scope::ScopeSet;

/// The most mappers a client may have.
pub const MAX_MAPPERS: usize = 32;
/// The longest claim name, in bytes.
pub const MAX_CLAIM_NAME_LEN: usize = 64;
/// The largest static value, serialized, in bytes.
pub const MAX_STATIC_VALUE_BYTES: usize = 1024;

/// Claims no mapper may set: those of JWTs (RFC 7519 §4.1), access tokens (RFC 9068 §2.2,
/// RFC 8693 `act`/`may_act`, RFC 8705 `cnf`), id_tokens and UserInfo (OpenID Connect Core §2,
/// §5.1 as gatehouse releases them), and introspection responses (RFC 7662 §2.2).
pub const RESERVED_CLAIMS: &[&str] = &[
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
    "c_hash",
    "s_hash",
    "token_type",
    "typ",
    "active",
    "username",
    "act",
    "may_act",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
];

/// Whether `claim` is registered: no mapper may set it.
pub fn is_reserved(claim: &str) -> bool {
    RESERVED_CLAIMS.contains(&claim)
}

/// Where a mapped claim goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimTarget {
    /// JWT access tokens (an opaque token carries nothing: see `Introspection`).
    AccessToken,
    /// OpenID Connect id_tokens.
    IdToken,
    /// The UserInfo response.
    Userinfo,
    /// Introspection responses (RFC 7662), computed when the token is introspected.
    Introspection,
}

impl ClaimTarget {
    /// Every target, the default of a mapper.
    pub const ALL: [ClaimTarget; 4] = [
        ClaimTarget::AccessToken,
        ClaimTarget::IdToken,
        ClaimTarget::Userinfo,
        ClaimTarget::Introspection,
    ];

    /// The name in `in`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimTarget::AccessToken => "access_token",
            ClaimTarget::IdToken => "id_token",
            ClaimTarget::Userinfo => "userinfo",
            ClaimTarget::Introspection => "introspection",
        }
    }

    /// Parses a name of `in`.
    pub fn parse(raw: &str) -> Option<Self> {
        ClaimTarget::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// Where a mapped claim's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimSource {
    /// This value, for every user (and for client tokens).
    Value(Value),
    /// The user's attribute of this name; the claim is left out when they lack it.
    Attribute(String),
    /// The user's roles, as a list (empty when they have none).
    Roles,
}

/// One claim mapper of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapper {
    /// The claim's name.
    pub claim: String,
    /// Its value's source.
    pub source: ClaimSource,
    /// The scope that releases it; `None` releases it with any scope.
    pub scope: Option<String>,
    /// Where it goes, in the order given, without repeats.
    pub targets: Vec<ClaimTarget>,
}

impl ClaimMapper {
    /// Reads one mapper of the API's shape. The name, the source and the targets are checked
    /// here; whether the name is registered and whether a list of mappers is acceptable are
    /// checked by [`parse_list`], so that a stored list read back never fails.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let map = value
            .as_object()
            .ok_or("each mapper must be an object of claim, value or from, scope and in")?;
        if let Some(key) = map
            .keys()
            .find(|k| !["claim", "value", "from", "scope", "in"].contains(&k.as_str()))
        {
            return Err(format!("unknown mapper field {}", echo(key)));
        }
        let claim = match map.get("claim") {
            Some(Value::String(c)) if is_claim_name(c) => c.clone(),
            _ => {
                return Err(format!(
                    "claim must be 1 to {MAX_CLAIM_NAME_LEN} bytes of printable ASCII without \
                     spaces, quotes or backslashes"
                ))
            }
        };
        let source = match (map.get("value"), map.get("from")) {
            (Some(v), None) => ClaimSource::Value(v.clone()),
            (None, Some(Value::String(from))) => parse_from(from)?,
            (Some(_), Some(_)) => {
                return Err(format!("claim {claim} gives both value and from"));
            }
            _ => {
                return Err(format!(
                    "claim {claim} needs a value or from (roles or attribute:NAME)"
                ))
            }
        };
        let scope = match map.get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_scope_token(s) => Some(s.clone()),
            Some(_) => return Err(format!("claim {claim}: scope must be one scope token")),
        };
        let targets = match map.get("in") {
            None | Some(Value::Null) => ClaimTarget::ALL.to_vec(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    let t = item.as_str().and_then(ClaimTarget::parse).ok_or_else(|| {
                        format!(
                            "claim {claim}: in must list access_token, id_token, userinfo or \
                             introspection"
                        )
                    })?;
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
                if out.is_empty() {
                    return Err(format!("claim {claim}: in must name at least one target"));
                }
                out
            }
            Some(_) => return Err(format!("claim {claim}: in must be a list")),
        };
        Ok(ClaimMapper {
            claim,
            source,
            scope,
            targets,
        })
    }

    /// Reads the command line's form of a mapper, `NAME=SOURCE[;scope=S][;in=T,T...]`:
    /// `SOURCE` is `value:V` (V parsed as JSON when it parses, else a string), `attribute:NAME`
    /// or `roles`. Returns the API's shape, which [`parse_list`] then checks.
    pub fn from_flag(spec: &str) -> Result<Value, String> {
        let mut rest = spec;
        let mut out = Map::new();
        // Options are peeled from the end, so a static value may itself hold a `;`.
        while let Some((head, last)) = rest.rsplit_once(';') {
            if let Some(scope) = last.strip_prefix("scope=") {
                out.insert("scope".into(), scope.into());
            } else if let Some(targets) = last.strip_prefix("in=") {
                let list: Vec<&str> = targets.split(',').filter(|t| !t.is_empty()).collect();
                out.insert("in".into(), json!(list));
            } else {
                break;
            }
            rest = head;
        }
        let (claim, source) = rest.split_once('=').ok_or_else(|| {
            format!(
                "{} is not NAME=value:V, NAME=attribute:A or NAME=roles",
                echo(spec)
            )
        })?;
        out.insert("claim".into(), claim.into());
        if let Some(value) = source.strip_prefix("value:") {
            let value =
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            out.insert("value".into(), value);
        } else {
            out.insert("from".into(), source.into());
        }
        Ok(Value::Object(out))
    }

    /// The mapper in the API's shape.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("claim".into(), self.claim.clone().into());
        match &self.source {
            ClaimSource::Value(v) => out.insert("value".into(), v.clone()),
            ClaimSource::Attribute(a) => out.insert("from".into(), format!("attribute:{a}").into()),
            ClaimSource::Roles => out.insert("from".into(), "roles".into()),
        };
        if let Some(scope) = &self.scope {
            out.insert("scope".into(), scope.clone().into());
        }
        let targets: Vec<&str> = self.targets.iter().map(|t| t.as_str()).collect();
        out.insert("in".into(), json!(targets));
        Value::Object(out)
    }

    /// Whether the claim goes into `target`.
    pub fn is_for(&self, target: ClaimTarget) -> bool {
        self.targets.contains(&target)
    }
}

/// Reads and checks a client's list of mappers (`null` is none): each mapper's shape, no
/// registered claim, no claim twice, at most [`MAX_MAPPERS`], static values at most
/// [`MAX_STATIC_VALUE_BYTES`] serialized.
pub fn parse_list(value: &Value) -> Result<Vec<ClaimMapper>, String> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err("must be a list of mappers".into()),
    };
    if items.len() > MAX_MAPPERS {
        return Err(format!("must have at most {MAX_MAPPERS} mappers"));
    }
    let mut out: Vec<ClaimMapper> = Vec::with_capacity(items.len());
    for item in items {
        let mapper = ClaimMapper::from_value(item)?;
        if is_reserved(&mapper.claim) {
            return Err(format!(
                "{} is a registered claim that gatehouse sets itself and cannot be mapped",
                mapper.claim
            ));
        }
        if out.iter().any(|m| m.claim == mapper.claim) {
            return Err(format!("claim {} is mapped twice", mapper.claim));
        }
        if let ClaimSource::Value(v) = &mapper.source {
            if v.to_string().len() > MAX_STATIC_VALUE_BYTES {
                return Err(format!(
                    "claim {}: a static value must be at most {MAX_STATIC_VALUE_BYTES} bytes \
                     serialized",
                    mapper.claim
                ));
            }
        }
        out.push(mapper);
    }
    Ok(out)
}

/// Whether `name` may name a mapped claim: printable ASCII without spaces, `"` or `\` (so a
/// namespaced claim such as `https://example.com/roles` is fine, and every error may name it).
fn is_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLAIM_NAME_LEN
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

fn is_scope_token(raw: &str) -> bool {
    !raw.is_empty() && !raw.contains(' ') && ScopeSet::parse(raw).is_ok()
}

fn parse_from(from: &str) -> Result<ClaimSource, String> {
    if from == "roles" {
        return Ok(ClaimSource::Roles);
    }
    match from.strip_prefix("attribute:") {
        Some(name) if is_attribute_name(name) => Ok(ClaimSource::Attribute(name.to_owned())),
        _ => Err(format!(
            "from {} must be roles or attribute:NAME",
            echo(from)
        )),
    }
}

impl Serialize for ClaimMapper {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ClaimMapper {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        ClaimMapper::from_value(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_and_shows_in_the_api_shape() {
        let list = json!([
            {"claim": "department", "from": "attribute:department", "scope": "profile",
             "in": ["access_token", "id_token", "userinfo"]},
            {"claim": "tenant", "value": "acme"},
            {"claim": "roles", "from": "roles"},
        ]);
        let mappers = parse_list(&list).unwrap();
        assert_eq!(
            mappers[0].source,
            ClaimSource::Attribute("department".into())
        );
        assert_eq!(mappers[1].targets, ClaimTarget::ALL);
        assert_eq!(mappers[2].source, ClaimSource::Roles);
        let shown: Vec<Value> = mappers.iter().map(ClaimMapper::to_value).collect();
        assert_eq!(shown[0], list[0]);
        assert_eq!(
            shown[1],
            json!({"claim": "tenant", "value": "acme",
                "in": ["access_token", "id_token", "userinfo", "introspection"]})
        );
        let again: Vec<ClaimMapper> = serde_json::from_value(json!(shown)).unwrap();
        assert_eq!(again, mappers);
    }

    #[test]
    fn registered_repeated_oversized_and_malformed_mappers_are_refused() {
        for claim in RESERVED_CLAIMS {
            let err = parse_list(&json!([{"claim": claim, "value": 1}])).unwrap_err();
            assert!(err.contains("registered claim"), "{err}");
        }
        for (list, says) in [
            (
                json!([{"claim": "a", "value": 1}, {"claim": "a", "from": "roles"}]),
                "twice",
            ),
            (
                json!([{"claim": "a", "value": "x".repeat(1100)}]),
                "1024 bytes",
            ),
            (json!([{"claim": "", "value": 1}]), "claim must be"),
            (json!([{"claim": "a b", "value": 1}]), "claim must be"),
            (json!([{"claim": "a", "value": 1, "from": "roles"}]), "both"),
            (json!([{"claim": "a"}]), "needs a value or from"),
            (
                json!([{"claim": "a", "from": "groups"}]),
                "must be roles or attribute",
            ),
            (
                json!([{"claim": "a", "value": 1, "in": ["cookie"]}]),
                "in must list",
            ),
            (
                json!([{"claim": "a", "value": 1, "in": []}]),
                "at least one",
            ),
            (
                json!([{"claim": "a", "value": 1, "scope": "a b"}]),
                "one scope token",
            ),
            (
                json!([{"claim": "a", "value": 1, "colour": 1}]),
                "unknown mapper field",
            ),
            (json!({"claim": "a"}), "list of mappers"),
        ] {
            let err = parse_list(&list).unwrap_err();
            assert!(err.contains(says), "{list}: {err}");
            assert!(crate::error::is_description_text(&err), "{err}");
        }
        let many: Vec<Value> = (0..=MAX_MAPPERS)
            .map(|i| json!({"claim": format!("c{i}"), "value": i}))
            .collect();
        assert!(parse_list(&json!(many)).unwrap_err().contains("at most 32"));
    }

    #[test]
    fn command_line_mappers_read_as_the_api_shape() {
        assert_eq!(
            ClaimMapper::from_flag(
                "department=attribute:department;scope=profile;in=access_token,id_token"
            )
            .unwrap(),
            json!({"claim": "department", "from": "attribute:department", "scope": "profile",
                "in": ["access_token", "id_token"]})
        );
        assert_eq!(
            ClaimMapper::from_flag("tenant=value:acme").unwrap(),
            json!({"claim": "tenant", "value": "acme"})
        );
        assert_eq!(
            ClaimMapper::from_flag("level=value:3").unwrap(),
            json!({"claim": "level", "value": 3})
        );
        assert_eq!(
            ClaimMapper::from_flag("motto=value:a;b").unwrap(),
            json!({"claim": "motto", "value": "a;b"})
        );
        assert_eq!(
            ClaimMapper::from_flag("roles=roles").unwrap(),
            json!({"claim": "roles", "from": "roles"})
        );
        assert!(ClaimMapper::from_flag("roles").is_err());
    }
}
