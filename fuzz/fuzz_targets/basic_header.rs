//! Fuzzes the HTTP Basic client credentials parser (RFC 6749 §2.3.1, RFC 7617):
//! `BasicAuth::from_headers` on an `Authorization` header built from the input. A newline, which
//! no header value may hold, splits the input into several `Authorization` headers; parts that
//! are not valid header values are skipped. Beyond "no panic" it checks that a repeated header
//! is refused and that `undecoded` is only set when form-decoding changed the secret.

#![no_main]

use gatehouse_http::extract::BasicAuth;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.append(AUTHORIZATION, value);
        }
    }
    let count = headers.get_all(AUTHORIZATION).iter().count();
    let result = BasicAuth::from_headers(&headers);
    match count {
        0 => assert!(matches!(result, Ok(None)), "no header, no credentials"),
        1 => {
            if let Ok(Some(BasicAuth(basic))) = result {
                if let Some(raw) = &basic.undecoded {
                    assert_ne!(raw.expose_secret(), basic.secret.expose_secret());
                }
            }
        }
        _ => assert!(
            result.is_err(),
            "a repeated Authorization header is refused"
        ),
    }
});
