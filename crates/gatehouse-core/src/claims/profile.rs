//! A user's `attributes` (a JSON object: at most [`MAX_ATTRIBUTES`] keys of at most
//! [`MAX_ATTRIBUTE_KEY_LEN`] bytes of `A-Z a-z 0-9 _ . -`, any JSON values, at most
//! [`MAX_ATTRIBUTES_BYTES`] serialized) and `roles` (at most [`MAX_ROLES`] names of at most
//! [`MAX_ROLE_LEN`] bytes of printable ASCII without spaces, deduplicated, in the order given).
//! Both are stored with the user row (as JSON text), so every read of a user has them.

use serde_json::{Map, Value};

/// The most attributes a user may have.
pub const MAX_ATTRIBUTES: usize = 32;
/// The longest attribute name, in bytes.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 64;
/// The largest attributes object, serialized, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 4096;
/// The most roles a user may have.
pub const MAX_ROLES: usize = 64;
/// The longest role name, in bytes.
pub const MAX_ROLE_LEN: usize = 128;

/// A user's attributes: a bounded JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(Map<String, Value>);

impl Attributes {
    /// Validates an attributes object (`null` is none).
    pub fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(Attributes::default()),
            Value::Object(map) => Attributes::from_map(map.clone()),
            _ => Err("must be a JSON object".into()),
        }
    }

    /// Validates a map of attributes.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, String> {
        if map.len() > MAX_ATTRIBUTES {
            return Err(format!("must have at most {MAX_ATTRIBUTES} keys"));
        }
        if let Some(bad) = map.keys().find(|k| !is_attribute_name(k)) {
            return Err(format!(
                "key {} must be 1 to {MAX_ATTRIBUTE_KEY_LEN} bytes of A-Z a-z 0-9 _ . -",
                crate::error::echo(bad)
            ));
        }
        let attributes = Attributes(map);
        if attributes.to_json().len() > MAX_ATTRIBUTES_BYTES {
            return Err(format!(
                "must be at most {MAX_ATTRIBUTES_BYTES} bytes serialized"
            ));
        }
        Ok(attributes)
    }

    /// Reads back what [`Attributes::to_json`] stored (validated when it was stored).
    pub fn from_stored(text: &str) -> Result<Self, serde_json::Error> {
        Ok(Attributes(serde_json::from_str(text)?))
    }

    /// The attributes as stored: a JSON object.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// The attribute `name`, if the user has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// These attributes with the command line's `KEY=VALUE` edits applied in order: `VALUE` is
    /// parsed as JSON when it parses (`level=3`, `tags=["a","b"]`), else taken as a string
    /// (`department=sales`); `KEY=` (nothing after `=`) removes the key.
    pub fn edited<'a>(&self, edits: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut map = self.0.clone();
        for edit in edits {
            let (key, value) = edit
                .split_once('=')
                .ok_or_else(|| format!("{} is not KEY=VALUE", crate::error::echo(edit)))?;
            if value.is_empty() {
                map.remove(key);
            } else {
                let value =
                    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
                map.insert(key.to_owned(), value);
            }
        }
        Attributes::from_map(map)
    }
}

/// Whether `name` may name an attribute.
pub fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ATTRIBUTE_KEY_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A user's roles: distinct names, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<String>);

impl Roles {
    /// Validates role names, dropping repeats.
    pub fn parse<I, S>(names: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let name = name.into();
            let ok = !name.is_empty()
                && name.len() <= MAX_ROLE_LEN
                && name.bytes().all(|b| (0x21..=0x7e).contains(&b));
            if !ok {
                return Err(format!(
                    "each role must be 1 to {MAX_ROLE_LEN} bytes of printable ASCII without spaces"
                ));
            }
            if !out.contains(&name) {
                out.push(name);
            }
            if out.len() > MAX_ROLES {
                return Err(format!("must have at most {MAX_ROLES} roles"));
            }
        }
        Ok(Roles(out))
    }

    /// Validates a JSON list of role names (`null` is none).
    pub fn parse_value(value: &Value) -> Result<Self, String> {
        let bad = || "must be a list of strings".to_owned();
        match value {
            Value::Null => Ok(Roles::default()),
            Value::Array(items) => {
                let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                Roles::parse(names.ok_or_else(bad)?)
            }
            _ => Err(bad()),
        }
    }

    /// Reads back what [`Roles::to_json`] stored (validated when it was stored).
    pub fn from_stored(text: &str) -> Result<Self, serde_json::Error> {
        Ok(Roles(serde_json::from_str(text)?))
    }

    /// The roles as stored: a JSON array.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The roles as a JSON array.
    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().cloned().map(Value::String).collect())
    }

    /// The role names.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_are_bounded_in_keys_names_and_size() {
        assert!(Attributes::parse(&json!({"department": "sales", "level": 3})).is_ok());
        assert!(Attributes::parse(&json!(["a"])).is_err());
        assert!(Attributes::parse(&json!({"has space": 1})).is_err());
        assert!(Attributes::parse(&json!({"": 1})).is_err());
        let long_key = "k".repeat(MAX_ATTRIBUTE_KEY_LEN + 1);
        assert!(Attributes::parse(&json!({ long_key: 1 })).is_err());
        let many: Map<String, Value> = (0..=MAX_ATTRIBUTES)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        assert!(Attributes::from_map(many).is_err());
        let big = json!({"blob": "x".repeat(MAX_ATTRIBUTES_BYTES)});
        assert!(Attributes::parse(&big).unwrap_err().contains("4096 bytes"));
    }

    #[test]
    fn command_line_edits_set_json_or_text_and_remove_with_an_empty_value() {
        let start = Attributes::parse(&json!({"old": 1})).unwrap();
        let edited = start
            .edited(["department=sales", "level=3", "tags=[\"a\"]", "old="])
            .unwrap();
        assert_eq!(
            Value::Object(edited.as_map().clone()),
            json!({"department": "sales", "level": 3, "tags": ["a"]})
        );
        assert!(start.edited(["novalue"]).is_err());
        assert!(start.edited(["bad key=1"]).is_err());
    }

    #[test]
    fn roles_are_deduplicated_and_bounded() {
        let roles = Roles::parse(["gatehouse:admin", "editor", "editor"]).unwrap();
        assert_eq!(
            roles.iter().collect::<Vec<_>>(),
            ["gatehouse:admin", "editor"]
        );
        assert!(Roles::parse(["has space"]).is_err());
        assert!(Roles::parse([""]).is_err());
        assert!(Roles::parse(["r".repeat(MAX_ROLE_LEN + 1)]).is_err());
        assert!(Roles::parse((0..=MAX_ROLES).map(|i| format!("r{i}"))).is_err());
        assert!(Roles::parse((0..MAX_ROLES).map(|i| format!("r{i}"))).is_ok());
        assert!(Roles::parse_value(&json!([1])).is_err());
        let stored = Roles::from_stored(&roles.to_json()).unwrap();
        assert_eq!(stored, roles);
    }
}
