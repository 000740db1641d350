//! Measures this machine's raw argon2id verify rate with gatehouse's parameters, so benchmarks
//! can state the password grant's throughput as a fraction of it.
//!
//! `cargo run --release -p gatehouse-core --example argon2_rate -- [THREADS] [SECONDS] [MEMORY_KIB] [ITERATIONS] [PARALLELISM]`
//! prints one JSON line: `{"threads":2,"seconds":5.0,"verifies":550,"per_second":110.0,...}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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
    let (m, t, p) = (arg(2, 19456) as u32, arg(3, 2) as u32, arg(4, 1) as u32);
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).unwrap(),
    );
    let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
    let hash = argon2
        .hash_password(b"password-1", &salt)
        .unwrap()
        .to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, argon2, hash) =
                (stop.clone(), count.clone(), argon2.clone(), hash.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&hash).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    assert!(argon2.verify_password(b"password-1", &parsed).is_ok());
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let verifies = count.load(Ordering::Relaxed);
    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"verifies\":{verifies},\"per_second\":{:.2},\"ms_per_verify_per_thread\":{:.3},\"memory_kib\":{m},\"iterations\":{t},\"parallelism\":{p}}}",
        verifies as f64 / elapsed,
        elapsed * 1000.0 * threads as f64 / verifies.max(1) as f64
    );
}
