//! Micro-benchmarks of request parsing: form and JSON token-request bodies and the Basic header.
//! `cargo bench -p gatehouse-http`; CI runs them in test mode so they cannot rot.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use axum::http::{header, HeaderMap, HeaderValue};
use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_http::extract::BasicAuth;
use gatehouse_http::params::Params;

fn parsing(c: &mut Criterion) {
    let form = b"grant_type=password&username=user%40example.com&password=correct+horse+battery&scope=openid%20email%20phone";
    c.bench_function("parse form token request", |b| {
        b.iter(|| Params::from_form(black_box(form)).unwrap())
    });
    let json = br#"{"grant_type":"password","username":"user@example.com","password":"correct horse battery","scope":"openid email phone"}"#;
    c.bench_function("parse JSON token request", |b| {
        b.iter(|| Params::from_json(black_box(json)).unwrap())
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic YmVuY2gtY2xpZW50OmJlbmNoLXNlY3JldA=="),
    );
    c.bench_function("parse Basic header", |b| {
        b.iter(|| BasicAuth::from_headers(black_box(&headers)).unwrap())
    });
}

criterion_group!(benches, parsing);
criterion_main!(benches);
