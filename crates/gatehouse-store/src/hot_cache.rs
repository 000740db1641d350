//! The memory a PostgreSQL instance keeps of the rows its hot path reads most: clients (every
//! request authenticates one), users by id (the refresh grant) and access tokens with their
//! owner (introspection, revocation, `/userinfo`), and accounts' failed-login attempts (the
//! refresh grant checks its user's lockout). A hit costs no round trip to the database,
//! which is what lets many stateless instances answer introspection and client authentication at
//! the rate one SQLite instance does.
//!
//! Staleness is bounded three ways:
//! - **Change notices.** Triggers on `clients`, `users`, `token_families` and `access_tokens`
//!   (migration 0017) send a `NOTIFY gatehouse_changes` naming the table when a statement updates
//!   or deletes rows of it (the hot path's inserts, and rotation's update of a family's
//!   `last_used_at`, send none). Every serving instance `LISTEN`s ([`listen`]) and forgets what
//!   the table's change can touch; the notice arrives at commit, typically within a millisecond,
//!   whichever instance or CLI process wrote.
//! - **This instance's own writes** forget at once, before the write returns (`SqlStore` calls
//!   [`HotCache::changed`]), so a client that revokes a token and introspects it on the same
//!   instance never sees it live.
//! - **Age.** No entry is served older than [`TTL`] (one second), so a notice lost with a
//!   connection still bounds what an instance believes. While the listening connection is down
//!   nothing is served from memory at all, and everything is forgotten when it comes back.
//!
//! A read that raced a change never stores what it read: every memo carries a generation,
//! taken before the read and compared, under the memo's lock, with the one a change bumps.
//! Negative answers (no such row) are never kept: ids and token hashes are random, and a row
//! created after a miss must be found. The one exception is an account's failed-login attempts,
//! where "none" is the common answer: their table's trigger notices inserts too, row by row, and
//! every write of this instance to it (a lost compare-and-swap included) forgets at once. Each
//! memo is bounded ([`Memo::new`]); when full it starts afresh, as the verified-token memory
//! does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gatehouse_core::client::Client;
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{AccessTokenRecord, TokenOwner};
use gatehouse_core::user::User;

/// The oldest entry served.
pub const TTL: Duration = Duration::from_secs(1);

/// The channel of change notices (migration 0017's `gatehouse_notify_change`).
pub const CHANNEL: &str = "gatehouse_changes";

/// What a write changed, so what must be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A client was updated or removed (with its tokens).
    Clients,
    /// A user was updated or removed: their row, and what their tokens say of them.
    Users,
    /// Tokens or sessions were revoked or removed.
    Tokens,
    /// An account's failed-login attempts (its lockout) changed.
    Attempts,
}

impl Change {
    /// The change a notice's payload (the table's name) names; `None` for anything else.
    fn from_notice(payload: &str) -> Option<Self> {
        match payload {
            "clients" => Some(Change::Clients),
            "users" => Some(Change::Users),
            "tokens" => Some(Change::Tokens),
            "attempts" => Some(Change::Attempts),
            _ => None,
        }
    }
}

/// Reads through a memo, by memo (`clients`, `users`, `access_tokens`) and outcome (`hit`,
/// `miss`): the metric's name.
pub const READS_METRIC: &str = "gatehouse_hot_cache_reads_total";

/// One bounded map of rows by key, with its generation (see the module documentation).
pub struct Memo<V> {
    inner: Mutex<Entries<V>>,
    capacity: usize,
    name: &'static str,
}

struct Entries<V> {
    map: HashMap<String, (Instant, V)>,
    generation: u64,
}

impl<V: Clone> Memo<V> {
    /// An empty memo of at most `capacity` entries, named `name` in metrics.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        Memo {
            inner: Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            }),
            capacity,
            name,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The entry of `key`, if it is younger than [`TTL`] at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let entries = self.lock();
        let (at, value) = entries.map.get(key)?;
        (now.saturating_duration_since(*at) < TTL).then(|| value.clone())
    }

    /// The generation to pass to [`Memo::insert`], taken before the read.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps `value` read at `at`, unless a change came since `generation` was taken.
    pub fn insert(&self, key: &str, value: V, generation: u64, at: Instant) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= self.capacity && !entries.map.contains_key(key) {
            entries.map.clear();
        }
        entries.map.insert(key.to_owned(), (at, value));
    }

    /// Forgets everything, and makes reads in flight keep nothing.
    pub fn forget(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.map.clear();
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An access token's record with its owner, as `find_access_token` reads it.
pub type AccessTokenRow = (AccessTokenRecord, Option<TokenOwner>);

/// The memos of one PostgreSQL store; shared by its clones.
pub struct HotCache {
    /// Whether memory may be used: a change listener is connected.
    live: AtomicBool,
    /// Clients by id.
    pub clients: Memo<Client>,
    /// Users by id.
    pub users: Memo<User>,
    /// Access tokens (with their owner) by id.
    pub access_tokens: Memo<AccessTokenRow>,
    /// Accounts' failed-login attempts by key, `None` for an account without any (the refresh
    /// grant reads its user's lock with every use).
    pub attempts: Memo<Option<AttemptState>>,
}

impl std::fmt::Debug for HotCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotCache")
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for HotCache {
    fn default() -> Self {
        HotCache {
            live: AtomicBool::new(false),
            clients: Memo::new("clients", 1024),
            users: Memo::new("users", 4096),
            access_tokens: Memo::new("access_tokens", 8192),
            attempts: Memo::new("attempts", 8192),
        }
    }
}

impl HotCache {
    /// Whether memory is in use (a listener is connected).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Forgets what `change` can touch.
    pub fn changed(&self, change: Change) {
        match change {
            Change::Clients => {
                self.clients.forget();
                self.access_tokens.forget();
            }
            Change::Users => {
                self.users.forget();
                self.access_tokens.forget();
            }
            Change::Tokens => self.access_tokens.forget(),
            Change::Attempts => self.attempts.forget(),
        }
    }

    /// Forgets everything.
    fn forget_all(&self) {
        self.clients.forget();
        self.users.forget();
        self.access_tokens.forget();
        self.attempts.forget();
    }

    /// Stops serving from memory (the listener lost its connection) and forgets everything.
    fn suspend(&self) {
        self.live.store(false, Ordering::Release);
        self.forget_all();
    }

    /// Starts serving from memory afresh: the listener is connected, so no later change is missed.
    fn resume(&self) {
        self.forget_all();
        self.live.store(true, Ordering::Release);
    }

    /// Reads through `memo`: its entry for `key` when memory is in use and one is fresh, else
    /// `read`'s answer, kept when it found a row and no change came meanwhile.
    pub async fn read_through<V, E, F>(
        &self,
        memo: &Memo<V>,
        key: &str,
        read: F,
    ) -> Result<Option<V>, E>
    where
        V: Clone,
        F: std::future::Future<Output = Result<Option<V>, E>>,
    {
        if !self.is_live() {
            return read.await;
        }
        if let Some(hit) = memo.get(key, Instant::now()) {
            metrics::counter!(READS_METRIC, "memo" => memo.name, "outcome" => "hit").increment(1);
            return Ok(Some(hit));
        }
        metrics::counter!(READS_METRIC, "memo" => memo.name, "outcome" => "miss").increment(1);
        let generation = memo.generation();
        let at = Instant::now();
        let found = read.await?;
        if let Some(value) = &found {
            memo.insert(key, value.clone(), generation, at);
        }
        Ok(found)
    }
}

/// Keeps `cache` in step with the database at `pool` for as long as it runs: listens for change
/// notices, forgets what each names, and serves nothing from memory while not connected. It
/// reconnects after a second when the connection fails.
pub async fn listen(pool: sqlx::PgPool, cache: std::sync::Arc<HotCache>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "cannot listen for change notices; memory of hot rows off");
                } else {
                    // Listening before resuming: no change after this point is missed.
                    cache.resume();
                    tracing::debug!("listening for change notices; memory of hot rows on");
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notice)) => match Change::from_notice(notice.payload()) {
                                Some(change) => cache.changed(change),
                                None => cache.forget_all(),
                            },
                            Ok(None) => {
                                tracing::warn!("change-notice connection lost; memory of hot rows off until it is back");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "change-notice connection failed; memory of hot rows off until it is back");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to listen for change notices; memory of hot rows off");
            }
        }
        cache.suspend();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_change_keeps_nothing() {
        let memo = Memo::<u32>::new("test", 4);
        let now = Instant::now();
        let generation = memo.generation();
        memo.forget();
        memo.insert("a", 1, generation, now);
        assert_eq!(memo.get("a", now), None);
        let generation = memo.generation();
        memo.insert("a", 2, generation, now);
        assert_eq!(memo.get("a", now), Some(2));
    }

    #[test]
    fn entries_age_out_and_the_memo_stays_bounded() {
        let memo = Memo::<u32>::new("test", 2);
        let now = Instant::now();
        let generation = memo.generation();
        memo.insert("a", 1, generation, now);
        assert_eq!(memo.get("a", now + TTL - Duration::from_millis(1)), Some(1));
        assert_eq!(memo.get("a", now + TTL), None);
        memo.insert("b", 2, generation, now);
        memo.insert("c", 3, generation, now);
        assert!(memo.len() <= 2);
        assert_eq!(memo.get("c", now), Some(3));
    }

    /// Reads `k` through `memo` twice; how many of the two reads went to the "database".
    async fn database_reads_of_two(cache: &HotCache, memo: &Memo<u32>) -> usize {
        let mut reads = 0;
        for _ in 0..2 {
            let got: Result<Option<u32>, ()> = cache
                .read_through(memo, "k", async {
                    reads += 1;
                    Ok(Some(7))
                })
                .await;
            assert_eq!(got, Ok(Some(7)));
        }
        reads
    }

    #[tokio::test]
    async fn nothing_is_served_from_memory_without_a_listener() {
        let cache = HotCache::default();
        let memo = Memo::new("test", 4);
        assert_eq!(database_reads_of_two(&cache, &memo).await, 2);
        cache.resume();
        assert_eq!(
            database_reads_of_two(&cache, &memo).await,
            1,
            "the second read with a listener is served from memory"
        );
        cache.suspend();
        assert!(!cache.is_live());
    }

    #[test]
    fn a_change_forgets_what_it_can_touch() {
        let cache = HotCache::default();
        let generations = |c: &HotCache| {
            (
                c.clients.generation(),
                c.users.generation(),
                c.access_tokens.generation(),
            )
        };
        cache.changed(Change::Tokens);
        assert_eq!(generations(&cache), (0, 0, 1));
        cache.changed(Change::Users);
        assert_eq!(generations(&cache), (0, 1, 2));
        cache.changed(Change::Clients);
        assert_eq!(generations(&cache), (1, 1, 3));
        cache.changed(Change::Attempts);
        assert_eq!(generations(&cache), (1, 1, 3));
        assert_eq!(cache.attempts.generation(), 1);
        assert_eq!(Change::from_notice("attempts"), Some(Change::Attempts));
        assert_eq!(Change::from_notice("users"), Some(Change::Users));
        assert_eq!(Change::from_notice("other"), None);
    }
}
