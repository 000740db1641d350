//! Request parameters from `application/x-www-form-urlencoded` or `application/json` bodies,
//! parsed strictly: every parameter at most once (RFC 6749 section 3.2), valid UTF-8 and percent
//! encoding, no NUL bytes; an empty value counts as absent (RFC 6749 §3.1).

use std::collections::HashMap;
use std::fmt;

use gatehouse_core::error::echo;
use gatehouse_core::Error;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Parsed request parameters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Removes and returns `name`'s value, if present and non-empty.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&mut self, name: &str) -> Result<String, Error> {
        self.take(name)
            .ok_or_else(|| Error::invalid_request(format!("the {name} parameter is required")))
    }

    fn insert(&mut self, name: String, value: String) -> Result<(), Error> {
        if name.contains('\0') || value.contains('\0') {
            return Err(Error::invalid_request(
                "parameters must not contain NUL bytes",
            ));
        }
        if self.0.contains_key(&name) {
            return Err(Error::invalid_request(format!(
                "the {} parameter is repeated (RFC 6749 section 3.2)",
                echo(&name)
            )));
        }
        self.0.insert(name, value);
        Ok(())
    }

    /// Parses an `application/x-www-form-urlencoded` body. Whitespace that is not encoded is not
    /// form content, so it is dropped around each `&`-separated pair: requests written across
    /// lines, as in Aidbox's and @jmondi's documentation, parse as they were meant.
    pub fn from_form(body: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(body)
            .map_err(|_| Error::invalid_request("the request body is not valid UTF-8"))?;
        let mut params = Params::default();
        for pair in text.split('&') {
            let pair = pair.trim_matches(|c: char| c.is_ascii_whitespace());
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(form_decode(name)?, form_decode(value)?)?;
        }
        Ok(params)
    }

    /// Parses a JSON object body whose values are strings (numbers and booleans are taken as
    /// their text, `null` as absent).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let params = JsonParams::deserialize(&mut de).map_err(|e| {
            let msg = e.to_string();
            if let Some(rest) = msg.strip_prefix(PARAM_ERROR) {
                Error::invalid_request(rest.split(" at line").next().unwrap_or(rest).to_owned())
            } else {
                Error::invalid_request("the request body is not a JSON object of parameters")
            }
        })?;
        de.end().map_err(|_| {
            Error::invalid_request("the request body has data after the JSON object")
        })?;
        Ok(params.0)
    }
}

/// Strict `application/x-www-form-urlencoded` decoding: `+` is a space and every `%` starts two
/// hex digits; the result must be UTF-8.
pub fn form_decode(raw: &str) -> Result<String, Error> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::invalid_request("malformed percent-encoding in the request")
                    })?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid_request("percent-encoded bytes are not valid UTF-8"))
}

const PARAM_ERROR: &str = "gatehouse-param: ";

struct JsonParams(Params);

impl<'de> Deserialize<'de> for JsonParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonParamsVisitor)
    }
}

struct JsonParamsVisitor;

impl<'de> Visitor<'de> for JsonParamsVisitor {
    type Value = JsonParams;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonParams, A::Error> {
        use serde::de::Error as _;
        let mut params = Params::default();
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(A::Error::custom(format!(
                        "{PARAM_ERROR}the {} parameter must be a string",
                        echo(&name)
                    )))
                }
            };
            params.insert(name, text).map_err(|e| {
                A::Error::custom(format!("{PARAM_ERROR}{}", e.description().unwrap_or("")))
            })?;
        }
        Ok(JsonParams(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_plus_and_percent() {
        let p = Params::from_form(b"username=user%40mail.com&password=a+b%2Bc").unwrap();
        assert_eq!(p.get("username"), Some("user@mail.com"));
        assert_eq!(p.get("password"), Some("a b+c"));
    }

    #[test]
    fn raw_whitespace_around_pairs_is_ignored() {
        let p = Params::from_form(b"grant_type=password\n     &client_id=x\n&scope=a%20b").unwrap();
        assert_eq!(p.get("grant_type"), Some("password"));
        assert_eq!(p.get("scope"), Some("a b"));
    }

    /// RFC 6749 §3.2: parameters must not be included more than once.
    #[test]
    fn repeated_parameters_are_refused_in_both_encodings() {
        assert!(Params::from_form(b"a=1&a=2").is_err());
        let err = Params::from_json(br#"{"a":"1","a":"2"}"#).unwrap_err();
        assert!(err.description().unwrap().contains("repeated"));
    }

    #[test]
    fn malformed_input_is_invalid_request() {
        for body in [&b"a=%zz"[..], b"a=%4", b"a=%ff", b"a=\xff", b"a=x%00y"] {
            assert_eq!(
                Params::from_form(body).unwrap_err().code(),
                "invalid_request"
            );
        }
        for body in [&b"[1]"[..], b"{\"a\":{}}", b"{\"a\":\"1\"} x", b"{"] {
            assert_eq!(
                Params::from_json(body).unwrap_err().code(),
                "invalid_request"
            );
        }
    }

    /// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    #[test]
    fn empty_values_count_as_absent() {
        let mut p = Params::from_form(b"scope=&grant_type=password").unwrap();
        assert_eq!(p.get("scope"), None);
        assert!(p.require("scope").is_err());
    }
}
