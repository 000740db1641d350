//! Measures this machine's raw access-token signing rate with gatehouse's own signer, per
//! algorithm, so the bench can set the token endpoints' figures beside what signing alone allows
//! (as `argon2_rate` does for the password hash).
//!
//! `cargo run --release -p gatehouse-core --example signing_rate -- [THREADS] [SECONDS]` prints
//! one JSON line: `{"threads":2,"seconds":5.0,"alg":"EdDSA","per_second":...,"algs":{...}}`.
//! `per_second` is the default algorithm's (EdDSA); `algs` has each algorithm's signatures per
//! second over `SECONDS / 3` on `THREADS` threads (default: one per CPU), each signing RFC 9068
//! claims of the size a password grant issues.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_core::sealing::Sealer;
use gatehouse_core::token::jwt::{sign_access_token, AccessTokenClaims};
use gatehouse_core::token::keys::{SigningAlg, SigningKey};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let threads = arg(
        0,
        std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1),
    );
    let seconds = arg(1, 5);
    let each = Duration::from_millis(seconds * 1000 / SigningAlg::ALL.len() as u64);
    let sealer = Sealer::new(&[7u8; 32]);
    let mut algs = Vec::new();
    for alg in SigningAlg::ALL {
        let stored = SigningKey::generate(alg, 0, &sealer).unwrap();
        let key = Arc::new(SigningKey::from_stored(&stored, &sealer).unwrap());
        let (signed, elapsed) = rate(threads, each, &key);
        algs.push((alg.as_str(), signed as f64 / elapsed));
    }
    let fields: Vec<String> = algs
        .iter()
        .map(|(alg, rate)| format!("\"{alg}\":{rate:.1}"))
        .collect();
    println!(
        "{{\"threads\":{threads},\"seconds\":{seconds},\"alg\":\"{}\",\"per_second\":{:.1},\"algs\":{{{}}}}}",
        algs[0].0,
        algs[0].1,
        fields.join(",")
    );
}

/// Signs on `threads` threads for `time`; returns (signatures, seconds).
fn rate(threads: u64, time: Duration, key: &Arc<SigningKey>) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let (stop, count, key) = (stop.clone(), count.clone(), key.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let claims = AccessTokenClaims {
                        iss: "http://127.0.0.1:8080".into(),
                        sub: format!("user-{worker}-{n}"),
                        aud: "bench-client".into(),
                        client_id: "bench-client".into(),
                        scope: "openid profile offline_access".into(),
                        iat: 1_700_000_000,
                        exp: 1_700_003_600,
                        jti: format!("{worker:02}{n:030}"),
                        mapped: serde_json::Map::new(),
                    };
                    let token = sign_access_token(&key, &claims).unwrap();
                    assert!(token.len() > 100);
                    n += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(time);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}
