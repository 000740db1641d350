//! Sessions under concurrency, on a multi-threaded runtime against the real database: the
//! per-client session limit with twenty logins at once, and logins in flight while their
//! user's sessions end or their client is removed.

use std::collections::BTreeSet;
use std::sync::Arc;

use gatehouse_core::client::ClientId;
use gatehouse_core::store::{Recorded, SessionLimit, SessionLimitPolicy, Store};

use crate::sessions::{listed, of_client, of_user, set};
use crate::tokens::{access_revoked, with_user_named, Login, Opened, NOW};

const LOGINS: usize = 20;

/// Runs [`LOGINS`] logins of one user with client "app" at once under `limit`; what became of
/// each, with its tokens.
async fn concurrent_logins(
    store: &Arc<dyn Store>,
    user_id: &str,
    limit: SessionLimit,
) -> Vec<(Recorded, Opened)> {
    let tasks: Vec<_> = (0..LOGINS)
        .map(|_| {
            let (store, login) = (store.clone(), Login::new(user_id));
            tokio::spawn(async move { login.record(store.as_ref(), Some(limit)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// Twenty concurrent logins of one user against a limit of 3 with `evict_oldest` are all
/// stored and leave exactly 3 live sessions: every other one was revoked by a later login,
/// which named it in `evicted`, and its access token reads revoked.
pub async fn the_session_limit_evicts_the_oldest_under_concurrency(store: Arc<dyn Store>) {
    let user = with_user_named(store.as_ref(), "heidi").await;
    let limit = SessionLimit {
        max: 3,
        policy: SessionLimitPolicy::EvictOldest,
    };
    let outcomes = concurrent_logins(&store, &user, limit).await;
    let mut evicted = Vec::new();
    for (recorded, _) in &outcomes {
        match recorded {
            Recorded::Stored { evicted: some } => evicted.extend(some.iter().cloned()),
            other => panic!("expected Stored, got {other:?}"),
        }
    }
    let all = set(outcomes.iter().map(|(_, o)| o.id()));
    let live = listed(store.as_ref(), &of_user(&user), NOW).await;
    assert_eq!(live.len(), 3, "{live:?}");
    assert_eq!(
        evicted.len(),
        LOGINS - 3,
        "each session evicted once: {evicted:?}"
    );
    let evicted = set(evicted);
    assert_eq!(evicted.len(), LOGINS - 3, "no session evicted twice");
    assert!(evicted.is_disjoint(&set(live.clone())));
    assert_eq!(
        &set(live).union(&evicted).cloned().collect::<BTreeSet<_>>(),
        &all
    );
    for (_, opened) in &outcomes {
        let revoked = access_revoked(store.as_ref(), &opened.access.id).await;
        assert_eq!(revoked, evicted.contains(&opened.id()), "{}", opened.id());
    }
}

/// Twenty concurrent logins of one user against a limit of 3 with `deny`: exactly 3 are
/// stored, evicting nothing, and 17 are refused having stored nothing.
pub async fn the_session_limit_denies_logins_beyond_it_under_concurrency(store: Arc<dyn Store>) {
    let user = with_user_named(store.as_ref(), "heidi").await;
    let limit = SessionLimit {
        max: 3,
        policy: SessionLimitPolicy::Deny,
    };
    let outcomes = concurrent_logins(&store, &user, limit).await;
    let mut stored = BTreeSet::new();
    let mut refused = 0;
    for (recorded, opened) in &outcomes {
        match recorded {
            Recorded::Stored { evicted } => {
                assert!(evicted.is_empty(), "{evicted:?}");
                stored.insert(opened.id());
            }
            Recorded::OverLimit => {
                refused += 1;
                let access = store.find_access_token(&opened.access.id).await.unwrap();
                assert_eq!(access, None, "a refused login stores no access token");
                let refresh = store.find_refresh_token(&opened.refresh_hash()).await;
                assert!(refresh.unwrap().is_none(), "nor a refresh token");
            }
            Recorded::Stale => panic!("a login of a live user and client is not stale"),
        }
    }
    assert_eq!((stored.len(), refused), (3, LOGINS - 3));
    assert_eq!(
        set(listed(store.as_ref(), &of_user(&user), NOW).await),
        stored
    );
}

/// Ending a user's sessions while logins of theirs are being recorded, half of them under a
/// session limit that evicts (so they revoke sessions too): every login is either stored (and
/// then revoked, or dead by its old epoch) or refused as stale, the ending itself succeeds
/// (no lock-order deadlock with the evictions), and no session of the old epoch is left live.
pub async fn no_login_in_flight_outlives_the_end_of_the_users_sessions(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    for _ in 0..3 {
        Login::new(&heidi).open(store.as_ref()).await;
    }
    let limit = SessionLimit {
        max: 3,
        policy: SessionLimitPolicy::EvictOldest,
    };
    let logins: Vec<_> = (0..LOGINS)
        .map(|n| {
            let (store, login) = (store.clone(), Login::new(&heidi));
            let limit = (n % 2 == 0).then_some(limit);
            tokio::spawn(async move { login.record(store.as_ref(), limit).await })
        })
        .collect();
    let ending = {
        let (store, heidi) = (store.clone(), heidi.clone());
        tokio::spawn(async move { store.end_user_sessions(&heidi, None, NOW).await })
    };
    let mut stored = 0;
    for login in logins {
        match login.await.unwrap().0 {
            Recorded::Stored { .. } => stored += 1,
            Recorded::Stale => {}
            Recorded::OverLimit => panic!("the limit evicts"),
        }
    }
    ending.await.unwrap().unwrap();
    let user = store.find_user_by_id(&heidi).await.unwrap().unwrap();
    assert_eq!(user.session_epoch, 1);
    let live = listed(store.as_ref(), &of_user(&heidi), NOW).await;
    assert!(live.is_empty(), "{stored} stored, still live: {live:?}");
}

/// Removing a client while logins with it are being recorded: each login is stored or stale,
/// and once a client with the same id is created again, it has no session: none of the logins
/// stored while the removal ran outlives it.
pub async fn no_login_in_flight_outlives_the_removal_of_its_client(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    for round in 0..5 {
        let logins: Vec<_> = (0..LOGINS)
            .map(|_| {
                let (store, login) = (store.clone(), Login::new(&heidi).at(NOW + round));
                tokio::spawn(async move { login.record(store.as_ref(), None).await })
            })
            .collect();
        let removal = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_client(&ClientId::parse("app").unwrap()).await })
        };
        let mut stored = Vec::new();
        for login in logins {
            let (recorded, opened) = login.await.unwrap();
            match recorded {
                Recorded::Stored { .. } => stored.push(opened),
                Recorded::Stale => {}
                Recorded::OverLimit => panic!("no limit was set"),
            }
        }
        removal.await.unwrap().unwrap();
        store
            .insert_client(&crate::clients::client("app", None), NOW)
            .await
            .unwrap();
        let live = listed(store.as_ref(), &of_client("app"), NOW).await;
        assert!(live.is_empty(), "round {round}: inherited {live:?}");
        for session in &stored {
            assert!(access_revoked(store.as_ref(), &session.access.id).await);
        }
    }
}
