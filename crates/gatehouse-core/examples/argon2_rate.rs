//! Measures this machine's raw argon2id verify rate with gatehouse's parameters, so benchmarks
//! can state the password grant's throughput as a fraction of it.
//!
//! `cargo run --release -p gatehouse-core --example argon2_rate -- [THREADS] [SECONDS] [MEMORY_KIB] [ITERATIONS] [PARALLELISM]`
//! prints one JSON line: `{"threads":2,"seconds":5.0,"verifies":550,"per_second":110.0,...}`.
//!
//! It measures both ways of running argon2: `verify_password` as the crate offers it (a fresh
//! memory block per verify) for half the time, and verifying on memory each thread keeps (what
//! gatehouse's hash pool does) for the other half, and reports the faster as `per_second`, so
//! the baseline is this machine's best, never a handicapped one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

    let half = Duration::from_millis(seconds * 500);
    let fresh = rate(threads, half, &argon2, &hash, false);
    let kept = rate(threads, half, &argon2, &hash, true);
    let (verifies, elapsed) = if kept.0 as f64 / kept.1 >= fresh.0 as f64 / fresh.1 {
        kept
    } else {
        fresh
    };
    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"verifies\":{verifies},\"per_second\":{:.2},\"ms_per_verify_per_thread\":{:.3},\"memory_kib\":{m},\"iterations\":{t},\"parallelism\":{p},\"per_second_fresh_memory\":{:.2},\"per_second_kept_memory\":{:.2}}}",
        verifies as f64 / elapsed,
        elapsed * 1000.0 * threads as f64 / verifies.max(1) as f64,
        fresh.0 as f64 / fresh.1,
        kept.0 as f64 / kept.1,
    );
}

/// Verifies on `threads` threads for `time`; returns (verifies, seconds).
fn rate(
    threads: u64,
    time: Duration,
    argon2: &Argon2<'static>,
    hash: &str,
    keep: bool,
) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, argon2, hash) =
                (stop.clone(), count.clone(), argon2.clone(), hash.to_owned());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&hash).unwrap();
                let mut memory = vec![Block::default(); argon2.params().block_count()];
                let mut salt = [0u8; 64];
                let salt = parsed.salt.unwrap().decode_b64(&mut salt).unwrap();
                let expected = parsed.hash.unwrap();
                let mut out = vec![0u8; expected.len()];
                while !stop.load(Ordering::Relaxed) {
                    if keep {
                        argon2
                            .hash_password_into_with_memory(
                                b"password-1",
                                salt,
                                &mut out,
                                &mut memory,
                            )
                            .unwrap();
                        assert_eq!(out, expected.as_bytes());
                    } else {
                        assert!(argon2.verify_password(b"password-1", &parsed).is_ok());
                    }
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
