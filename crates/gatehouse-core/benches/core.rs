//! Micro-benchmarks of the core's hot paths: access-token signing and verification for each
//! algorithm, and scope evaluation. `cargo bench -p gatehouse-core`; CI runs them in test mode
//! (`cargo bench -- --test`) so they cannot rot.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::sealing::Sealer;
use gatehouse_core::token::jwt::{sign_access_token, verify_access_token, AccessTokenClaims};
use gatehouse_core::token::keys::{KeyRing, SigningAlg, SigningKey};

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://auth.example.com".into(),
        sub: "6f1c0f6b2d6a4a0e9b1f3c0d2e4a5b6c".into(),
        aud: "bench-client".into(),
        client_id: "bench-client".into(),
        scope: "openid email phone".into(),
        iat: 1_700_000_000,
        exp: 1_700_003_600,
        jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
    }
}

fn tokens(c: &mut Criterion) {
    for alg in SigningAlg::ALL {
        let sealer = Sealer::new(&[7u8; 32]);
        let stored = SigningKey::generate(alg, 0, &sealer).unwrap();
        let ring = KeyRing::from_stored(&[stored], &sealer).unwrap();
        let claims = claims();
        c.bench_function(&format!("sign access token {}", alg.as_str()), |b| {
            b.iter(|| sign_access_token(black_box(ring.current()), black_box(&claims)).unwrap())
        });
        let token = sign_access_token(ring.current(), &claims).unwrap();
        c.bench_function(&format!("verify access token {}", alg.as_str()), |b| {
            b.iter(|| {
                verify_access_token(
                    black_box(&ring),
                    "https://auth.example.com",
                    black_box(&token),
                    1_700_000_001,
                )
                .unwrap()
            })
        });
    }
}

fn scopes(c: &mut Criterion) {
    let allowed =
        ScopeSet::parse("openid profile email phone offline_access contacts.read contacts.write")
            .unwrap();
    let user = ScopeSet::parse("openid email contacts.read").unwrap();
    c.bench_function("scope parse + evaluate", |b| {
        b.iter(|| {
            let requested =
                ScopeSet::parse(black_box("openid email contacts.read offline_access")).unwrap();
            assert!(requested.first_missing_from(&allowed).is_none());
            black_box(requested.intersection(&user).to_string())
        })
    });
}

criterion_group!(benches, tokens, scopes);
criterion_main!(benches);
