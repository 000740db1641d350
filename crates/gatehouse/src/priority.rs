//! CPU precedence of the password-hash workers over the async runtime.
//!
//! Under a flood of password requests the async runtime's threads (accepting connections,
//! parsing, shedding with 503) compete with the hash workers for the cores. Raising the nice
//! value of the runtime's threads, and only theirs, lets the scheduler (CFS weights) give the
//! hash workers, which stay at the process's priority, the larger share. Unprivileged: a thread
//! may always lower its own priority. The hash workers are started from the main thread, which
//! keeps its priority, so they do not inherit the runtime's nice value.

/// Adds `nice` to the calling thread's nice value (Linux: `setpriority(PRIO_PROCESS, tid)` acts
/// on the one thread). Logs and carries on when the kernel refuses.
#[cfg(target_os = "linux")]
pub(crate) fn lower_current_thread(nice: i32) {
    use rustix::process::{getpriority_process, setpriority_process};
    let tid = rustix::thread::gettid();
    let result = getpriority_process(Some(tid))
        .and_then(|current| setpriority_process(Some(tid), (current + nice).min(19)));
    if let Err(err) = result {
        tracing::warn!(%err, nice, "cannot lower the priority of an async runtime thread");
    }
}

/// Elsewhere `setpriority` acts on the whole process, hash workers included: do nothing.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_current_thread(nice: i32) {
    tracing::warn!(nice, "--runtime-nice is only supported on Linux; ignored");
}
