//! Micro-benchmarks of the core's hot paths: access-token signing and verification for each
//! algorithm, scope evaluation, and what a login adds to its argon2id hash (issue 20: the
//! password policy, NFKC, the built-in common list, the filter file), beside that hash, and what a
//! client's claim mappers add to a token (issue 21). `cargo bench -p gatehouse-core`; CI runs them in test mode
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
        mapped: serde_json::Map::new(),
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

/// What a password login or a new password costs besides the hash, measured beside one argon2id
/// verification at OWASP's parameters (the cost these must stay noise beside).
fn passwords(c: &mut Criterion) {
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    use gatehouse_core::breached::common::CommonPasswords;
    use gatehouse_core::breached::filter::{build, password_key, Blocklist};
    use gatehouse_core::password_policy::{normalize, PasswordContext, PasswordPolicy};

    let owasp = argon2::Params::new(19 * 1024, 2, 1, None).unwrap();
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, owasp);
    let salt = SaltString::encode_b64(b"gatehouse-bench!").unwrap();
    let stored = argon2
        .hash_password(b"correct horse battery staple", &salt)
        .unwrap()
        .to_string();
    let parsed = PasswordHash::new(&stored).unwrap();
    c.bench_function("argon2id verify (19 MiB, t=2, p=1)", |b| {
        b.iter(|| {
            argon2
                .verify_password(black_box(b"correct horse battery staple"), &parsed)
                .unwrap()
        })
    });
    CommonPasswords::warm_up();
    for (name, password) in [
        ("15 chars", "purple monkey d"),
        ("20 chars", "purple monkey dishwa"),
    ] {
        c.bench_function(&format!("common-password check, {name}"), |b| {
            b.iter(|| CommonPasswords::is_common(black_box(password)))
        });
    }
    let keys = (0..200_000u64).map(|i| password_key(format!("leaked password {i}")));
    let bytes = build(keys).unwrap();
    let filter = Blocklist::parse(&bytes).unwrap();
    c.bench_function("blocklist filter lookup (SHA-1 + 3 probes)", |b| {
        b.iter(|| filter.contains_password(black_box("correct horse battery staple")))
    });
    let policy = PasswordPolicy::default();
    let ctx = PasswordContext {
        username: "alice.smith@example.com",
        email: Some("alice.smith@example.com"),
        client: None,
    };
    c.bench_function("policy check + NFKC, 28 chars", |b| {
        b.iter(|| {
            let normal = normalize(black_box("ｃｏｒｒｅｃｔ horse battery staple"));
            policy.check(&normal, &ctx).unwrap()
        })
    });
}

/// What a client's claim mappers add to a token: making the claims (a static tenant, the roles,
/// one attribute) from the user record, and signing a token that carries them.
fn mapped_claims(c: &mut Criterion) {
    use gatehouse_core::claims::{client_claims, mapper, Attributes, ClaimTarget, Roles, UserData};
    use gatehouse_core::client::{Client, ClientId, ClientSettings};
    use serde_json::json;

    let mappers = json!([
        {"claim": "tenant", "value": "acme"},
        {"claim": "roles", "from": "roles"},
        {"claim": "department", "from": "attribute:department", "scope": "profile"},
    ]);
    let client = Client {
        id: ClientId::parse("bench-client").unwrap(),
        secret_hash: None,
        secret_sealed: None,
        settings: ClientSettings {
            claims: mapper::parse_list(&mappers).unwrap(),
            ..ClientSettings::default()
        },
    };
    let attributes = Attributes::parse(&json!({"department": "sales", "level": 3})).unwrap();
    let roles = Roles::parse(["gatehouse:admin", "billing", "reports"]).unwrap();
    let user = UserData {
        attributes: &attributes,
        roles: &roles,
    };
    let scope = ScopeSet::parse("openid profile").unwrap();
    c.bench_function("mapped claims: tenant, roles, one attribute", |b| {
        b.iter(|| {
            client_claims(
                black_box(&client),
                Some(user),
                &scope,
                ClaimTarget::AccessToken,
            )
        })
    });
    let sealer = Sealer::new(&[7u8; 32]);
    let stored = SigningKey::generate(SigningAlg::EdDSA, 0, &sealer).unwrap();
    let ring = KeyRing::from_stored(&[stored], &sealer).unwrap();
    let with_claims = AccessTokenClaims {
        mapped: client_claims(&client, Some(user), &scope, ClaimTarget::AccessToken),
        ..claims()
    };
    c.bench_function("sign access token EdDSA with mapped claims", |b| {
        b.iter(|| sign_access_token(black_box(ring.current()), black_box(&with_claims)).unwrap())
    });
}

criterion_group!(benches, tokens, scopes, passwords, mapped_claims);
criterion_main!(benches);
