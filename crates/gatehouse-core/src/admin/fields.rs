//! Reading admin API bodies field by field, so that every 422 names the field at fault
//! (`auth.password.access_token_expiration: must be a positive integer`).

use serde_json::{json, Map, Value};

use crate::error::Error;

/// The fields a resource declares: its settable fields, dotted (`auth.password.token_format`),
/// and the other keys its parser reads (`resourceType`, `id`, aliases). A parser reading a key
/// it does not declare fails a debug assertion, so the declared list (which the CLI's flags are
/// checked against) cannot silently fall behind the parser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// The settable fields.
    pub(crate) fields: &'static [&'static str],
    /// Other keys read: identity and aliases.
    pub(crate) others: &'static [&'static str],
}

impl Schema {
    /// Whether `name` is declared, or is the object holding a declared field.
    fn declares(&self, name: &str) -> bool {
        self.fields.iter().chain(self.others).any(|k| {
            *k == name || (k.starts_with(name) && k.as_bytes().get(name.len()) == Some(&b'.'))
        })
    }
}

/// A JSON object being read; every key must be taken or listed as ignored, else the body is
/// refused naming the unknown field.
pub(crate) struct Fields {
    prefix: String,
    map: Map<String, Value>,
    schema: Schema,
}

/// What a body says about a field that can be removed: absent, `null`, or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<T> {
    /// Not mentioned: keep what is stored.
    Keep,
    /// `null`: remove.
    Remove,
    /// A new value.
    Set(T),
}

impl<T> Change<T> {
    /// The same change of a converted value.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Remove => Change::Remove,
            Change::Set(v) => Change::Set(f(v)),
        }
    }
}

impl Fields {
    /// Reads `value`, which must be an object, as the field `prefix` (`""` at the top) of a
    /// resource declaring `schema`.
    pub(crate) fn new(prefix: &str, value: &Value, schema: Schema) -> Result<Self, Error> {
        let name = if prefix.is_empty() { "body" } else { prefix };
        let map = value
            .as_object()
            .ok_or_else(|| Error::invalid_field(name, "must be an object"))?
            .clone();
        Ok(Fields {
            prefix: prefix.to_owned(),
            map,
            schema,
        })
    }

    /// The full name of `key`.
    pub(crate) fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.declared(key);
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// Asserts (in debug builds) that the resource declares `key`.
    fn declared(&self, key: &str) {
        debug_assert!(
            self.schema.declares(&self.name(key)),
            "{} is read but missing from the resource's declared fields",
            self.name(key)
        );
    }

    /// Absent, `null` or present.
    pub(crate) fn change(&mut self, key: &str) -> Change<Value> {
        self.declared(key);
        match self.map.remove(key) {
            None => Change::Keep,
            Some(Value::Null) => Change::Remove,
            Some(v) => Change::Set(v),
        }
    }

    /// An optional string.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid_field(&self.name(key), "must be a string")),
        }
    }

    /// An optional boolean.
    pub(crate) fn boolean(&mut self, key: &str) -> Result<Option<bool>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(Error::invalid_field(
                &self.name(key),
                "must be true or false",
            )),
        }
    }

    /// An optional lifetime: a whole number of seconds from 1 to 10 years.
    pub(crate) fn seconds(&mut self, key: &str) -> Result<Option<u32>, Error> {
        const MAX: u64 = 10 * 365 * 24 * 3600;
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX).contains(&n) => Ok(u32::try_from(n).ok()),
                _ => Err(Error::invalid_field(
                    &self.name(key),
                    format!("must be a whole number of seconds from 1 to {MAX}"),
                )),
            },
        }
    }

    /// An optional count: a whole number from 0 to `u32::MAX`.
    pub(crate) fn count(&mut self, key: &str) -> Result<Option<u32>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Ok(Some(n)),
                None => Err(Error::invalid_field(
                    &self.name(key),
                    format!("must be a whole number from 0 to {}", u32::MAX),
                )),
            },
        }
    }

    /// An optional list of strings; a space-separated string is accepted too.
    pub(crate) fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, Error> {
        let bad = |name: String| Error::invalid_field(&name, "must be a list of strings");
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(' ')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(bad(self.name(key))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad(self.name(key))),
        }
    }

    /// An optional nested object, and the reader of its fields.
    pub(crate) fn object(&mut self, key: &str) -> Result<Option<Fields>, Error> {
        let name = self.name(key);
        match self.take(key) {
            None => Ok(None),
            Some(v) => Fields::new(&name, &v, self.schema).map(Some),
        }
    }

    /// Refuses any key not taken, ignoring `ignored`.
    pub(crate) fn finish(mut self, ignored: &[&str]) -> Result<(), Error> {
        for key in ignored {
            self.map.remove(*key);
        }
        match self.map.keys().next() {
            Some(key) => Err(Error::invalid_field(&self.name(key), "unknown field")),
            None => Ok(()),
        }
    }
}

/// Sets `value` at the dotted `path` of `body`, creating objects on the way.
pub fn set_path(body: &mut Value, path: &str, value: Value) {
    let mut at = body;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            at[part] = value;
            return;
        }
        if !at[part].is_object() {
            at[part] = json!({});
        }
        at = &mut at[part];
    }
}
