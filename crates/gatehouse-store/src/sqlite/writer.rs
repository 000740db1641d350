//! Group commit for SQLite. With `synchronous = FULL`, every commit waits for an fsync, and
//! SQLite admits one writer at a time: one transaction per request caps the token endpoint at
//! the disk's fsync rate. Instead, one thread owns a dedicated connection (rusqlite, see
//! [`super::direct`]) and takes the hot-path
//! writes (issued tokens, refresh-token rotations, revocations, audit events) from a queue:
//! whatever queued up while the previous commit was being flushed goes into the next
//! transaction (`BEGIN IMMEDIATE` … `COMMIT`), and each caller is answered only after that
//! shared commit returned, that is, once it is durable. A `kill -9` loses nothing that was
//! acknowledged.
//!
//! Checkpoints are not the writer's business: its connection has `wal_autocheckpoint` off, and
//! a checkpointer thread with its own connection copies the WAL back into the database file
//! after commits, so a batch's commit is never stretched by a checkpoint.
//!
//! Rotation stays exactly-once: the writer applies jobs one after the other inside the
//! transaction, and a rotation's first statement claims the old token only if it is unused and
//! its family unrevoked, so of two rotations of one token (in one batch or not) only the first
//! matches a row, and a `false` rotation has written nothing. Other processes on the same file
//! are serialized by SQLite's write lock, as before.
//!
//! A job whose statement fails (a unique violation, say) must not take the others down with it:
//! the batch is rolled back and every job of it is run again in a transaction of its own. A
//! failed `COMMIT` is reported to every job of the batch and never retried, since a rotation
//! that did commit would then look like a reuse.

use std::path::Path;

use gatehouse_core::store::{
    AccessTokenRecord, Event, Recorded, RefreshTokenRecord, SessionLimit, SessionLimitPolicy,
    StoreError, TokenFamily,
};
use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

use super::direct::{self, direct_error};
use crate::sql::hot;

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before submitters wait for room.
const QUEUE: usize = 4096;
/// The checkpointer's pause between a wake-up and its checkpoint.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// One write of the hot path.
pub(crate) enum Write {
    /// The tokens of a login: its family (session) with its first refresh token if any, and the
    /// access token, within the client's session limit; and its audit event when they are
    /// stored.
    Login {
        family: TokenFamily,
        refresh: Option<RefreshTokenRecord>,
        access: AccessTokenRecord,
        limit: Option<SessionLimit>,
        now: i64,
        /// Boxed: the largest variant otherwise.
        event: Option<Box<Event>>,
    },
    /// A refresh-token rotation and, when it happens, its audit event.
    Rotate {
        old_hash: String,
        now: i64,
        successor: RefreshTokenRecord,
        access: AccessTokenRecord,
        event: Option<Event>,
    },
    /// A family revocation (its refresh and access tokens, which are read through the family).
    RevokeFamily { family_id: String, now: i64 },
    /// One access token's revocation.
    RevokeAccess { id: String },
    /// A client token (client credentials grant), stored only while its client exists.
    ClientToken(AccessTokenRecord),
    /// An audit event.
    Event(Event),
}

/// What a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Written.
    Done,
    /// A rotation that did not happen: nothing written.
    NotRotated,
    /// A login: what became of it.
    Login(Recorded),
    /// A client token whose client is gone: nothing written.
    ClientGone,
}

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The handle of the writer thread; cloning it shares the thread.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the writer's own connection to the file at `path` and starts its thread, which
    /// ends when every handle is dropped (after answering what was queued).
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = direct::open(path, false).map_err(direct_error)?;
        // The writer's commits never checkpoint: the checkpointer thread does, beside it.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(direct_error)?;
        let checkpointer = direct::open(path, false).map_err(direct_error)?;
        let (written, wake) = std::sync::mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel(QUEUE);
        let unavailable = |e| StoreError::Unavailable(Box::new(e));
        std::thread::Builder::new()
            .name("gatehouse-sqlite-checkpoint".into())
            .spawn(move || checkpoints(&checkpointer, &wake))
            .map_err(unavailable)?;
        std::thread::Builder::new()
            .name("gatehouse-sqlite-writer".into())
            .spawn(move || run(&conn, queue, &written))
            .map_err(unavailable)?;
        Ok(Writer { jobs })
    }

    /// Queues `write` and waits until it is committed (durable) or failed.
    pub(crate) async fn submit(&self, write: Write) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// The checkpointer thread: copies what the writer committed from the WAL into the database
/// file (`wal_checkpoint(PASSIVE)`: it never waits for, nor blocks, readers or the writer), at
/// most once per [`CHECKPOINT_PAUSE`], so that the pages a burst of commits rewrote again and
/// again are copied once, and the writer's own commits stay short. Ends with the writer.
fn checkpoints(conn: &Connection, wake: &std::sync::mpsc::Receiver<()>) {
    while wake.recv().is_ok() {
        // A thread of its own, not an async worker: the pause only lets commits accumulate.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(CHECKPOINT_PAUSE);
        while wake.try_recv().is_ok() {}
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match done {
            Ok((wal_pages, copied)) => {
                metrics::gauge!("gatehouse_sqlite_wal_pages").set(wal_pages as f64);
                tracing::trace!(wal_pages, copied, "checkpoint");
            }
            Err(err) => {
                tracing::warn!(error = %err, "SQLite checkpoint failed; retried after the next commit")
            }
        }
    }
}

/// The writer thread: whatever queued up while the previous commit was flushed is the next batch.
/// After each commit it wakes the checkpointer (`written`; a wake-up already pending is enough).
fn run(
    conn: &Connection,
    mut queue: mpsc::Receiver<Job>,
    written: &std::sync::mpsc::SyncSender<()>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("gatehouse_sqlite_group_commit_size").record(batch.len() as f64);
        commit(conn, &mut batch);
        let _ = written.try_send(());
    }
}

/// Commits `batch` (emptying it) and answers every job of it.
fn commit(conn: &Connection, batch: &mut Vec<Job>) {
    match apply_batch(conn, batch) {
        Ok(outcomes) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(Failure::Commit(err)) => {
            tracing::error!(error = %err, jobs = batch.len(), "SQLite group commit failed");
            let message = err.to_string();
            for job in batch.drain(..) {
                let _ = job
                    .reply
                    .send(Err(StoreError::Unavailable(message.clone().into())));
            }
        }
        Err(Failure::Statement(err)) if batch.len() == 1 => {
            if let Some(job) = batch.pop() {
                let _ = job.reply.send(Err(direct_error(err)));
            }
        }
        Err(Failure::Statement(_)) => {
            // Nothing of the batch was written: run each job alone, so the one that fails
            // fails by itself.
            for job in batch.drain(..) {
                let one = std::slice::from_ref(&job);
                let result = match apply_batch(conn, one) {
                    Ok(mut outcomes) => Ok(outcomes.pop().unwrap_or(Applied::NotRotated)),
                    Err(Failure::Statement(err) | Failure::Commit(err)) => Err(direct_error(err)),
                };
                let _ = job.reply.send(result);
            }
        }
    }
}

enum Failure {
    /// A statement of a job failed; the transaction was rolled back.
    Statement(rusqlite::Error),
    /// `BEGIN` or `COMMIT` failed.
    Commit(rusqlite::Error),
}

/// Runs `jobs` in one transaction; the outcome of each, in order.
fn apply_batch(conn: &Connection, jobs: &[Job]) -> Result<Vec<Applied>, Failure> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(Failure::Commit)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply(conn, &job.write) {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                rollback(conn);
                return Err(Failure::Statement(err));
            }
        }
    }
    if let Err(err) = conn.execute_batch("COMMIT") {
        rollback(conn);
        return Err(Failure::Commit(err));
    }
    Ok(outcomes)
}

fn rollback(conn: &Connection) {
    // Fails harmlessly when SQLite already rolled the transaction back itself.
    if let Err(err) = conn.execute_batch("ROLLBACK") {
        tracing::debug!(error = %err, "rollback after a failed write");
    }
}

/// One job's statements, inside the batch's transaction.
fn apply(conn: &Connection, write: &Write) -> rusqlite::Result<Applied> {
    match write {
        Write::Login {
            family,
            refresh,
            access,
            limit,
            now,
            event,
        } => {
            // The writer runs one job at a time, and other processes wait for its write lock:
            // the count and what follows cannot interleave with another login's.
            let live: Vec<String> = match limit {
                Some(_) => conn
                    .prepare_cached(hot::LIVE_SESSIONS_OF_LOGIN)?
                    .query_map(params![now, family.user_id, family.client_id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
                None => Vec::new(),
            };
            let over = limit.map_or(0, |l| (live.len() + 1).saturating_sub(l.max as usize));
            if over > 0 && limit.map(|l| l.policy) == Some(SessionLimitPolicy::Deny) {
                return Ok(Applied::Login(Recorded::OverLimit));
            }
            let amr = family.amr.join(" ");
            if direct::insert_counted(conn, hot::family(family, &amr))? == 0 {
                return Ok(Applied::Login(Recorded::Stale));
            }
            let evicted = live[..over.min(live.len())].to_vec();
            for id in &evicted {
                direct::insert(conn, hot::revoke_family(id, *now))?;
            }
            if let Some(refresh) = refresh {
                direct::insert(conn, hot::refresh(refresh))?;
            }
            direct::insert(conn, hot::access(access))?;
            if let Some(event) = event {
                direct::insert_event(conn, event)?;
            }
            return Ok(Applied::Login(Recorded::Stored { evicted }));
        }
        Write::Rotate {
            old_hash,
            now,
            successor,
            access,
            event,
        } => {
            // Claims the token only if it is unused and of the successor's live family, so a
            // refused rotation writes nothing.
            let claimed = conn
                .prepare_cached(
                    "UPDATE refresh_tokens SET used_at = ?2 \
                     WHERE token_hash = ?1 AND used_at IS NULL AND family_id = ?3 \
                     AND EXISTS (SELECT 1 FROM token_families \
                                 WHERE id = ?3 AND revoked_at IS NULL)",
                )?
                .execute(params![old_hash, now, successor.family_id])?;
            if claimed == 0 {
                return Ok(Applied::NotRotated);
            }
            // No `token_families.last_used_at` here: nothing reads it, and on SQLite it cost one
            // more page per rotation (PostgreSQL's rotation keeps it: that UPDATE is also its
            // check that the family is live).
            direct::insert(conn, hot::refresh(successor))?;
            direct::insert(conn, hot::access(access))?;
            if let Some(event) = event {
                direct::insert_event(conn, event)?;
            }
        }
        Write::RevokeFamily { family_id, now } => {
            direct::insert(conn, hot::revoke_family(family_id, *now))?;
            // Its access tokens with it: each read of one joins the family's `revoked_at`.
        }
        Write::ClientToken(access) => {
            // The writer runs one job at a time and other processes wait for its write lock:
            // the client cannot go between the insert's check and its commit.
            if direct::insert_counted(conn, hot::client_token(access))? == 0 {
                return Ok(Applied::ClientGone);
            }
        }
        Write::RevokeAccess { id } => {
            conn.prepare_cached("UPDATE access_tokens SET revoked = TRUE WHERE id = ?1")?
                .execute([id])?;
        }
        Write::Event(event) => direct::insert_event(conn, event)?,
    }
    Ok(Applied::Done)
}
