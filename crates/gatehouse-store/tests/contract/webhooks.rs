//! The webhook outbox: storing an event makes exactly the deliveries its kind asks for (enabled
//! endpoints whose filter names it, or `*`); concurrent claimers never get the same delivery;
//! a finish under a lost lease changes nothing; replay and retention do what they say.

use std::collections::HashSet;
use std::sync::Arc;

use gatehouse_core::store::{AttemptOutcome, Event, ReplaySelection, Store, WebhookRow};
use serde_json::json;

fn endpoint(id: &str, events: &[&str], enabled: bool) -> WebhookRow {
    WebhookRow {
        id: id.into(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: None,
        enabled,
        disabled_reason: None,
        failing_since: None,
        sealed_secret: vec![1, 2, 3],
        created_at: 1,
    }
}

fn event(n: usize, kind: &str, at: i64) -> Event {
    Event {
        id: format!("ev{n:04}"),
        at,
        kind: kind.into(),
        client_id: Some("app".into()),
        user: Some("ivy".into()),
        ip: None,
        request_id: None,
        detail: json!({"n": n}),
    }
}

async fn deliveries_of(store: &Arc<dyn Store>, id: &str) -> Vec<gatehouse_core::store::Delivery> {
    store.list_deliveries(id, None, 1000).await.unwrap()
}

pub async fn an_event_makes_the_deliveries_its_kind_asks_for(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_a", &["lockout", "login_failure"], true), 64)
        .await
        .unwrap());
    assert!(store
        .insert_webhook(&endpoint("wh_all", &["*"], true), 64)
        .await
        .unwrap());
    assert!(store
        .insert_webhook(&endpoint("wh_off", &["*"], false), 64)
        .await
        .unwrap());
    // `lock` is a prefix of `lockout`: only whole kinds match.
    assert!(store
        .insert_webhook(&endpoint("wh_b", &["refresh"], true), 64)
        .await
        .unwrap());
    store.insert_event(&event(1, "lockout", 100)).await.unwrap();
    store
        .insert_event(&event(2, "refresh_reuse", 100))
        .await
        .unwrap();
    store
        .insert_event(&event(3, "login_success", 100))
        .await
        .unwrap();
    let kinds = |d: Vec<gatehouse_core::store::Delivery>| -> Vec<String> {
        let mut k: Vec<String> = d.into_iter().map(|d| d.kind).collect();
        k.sort();
        k
    };
    assert_eq!(kinds(deliveries_of(&store, "wh_a").await), ["lockout"]);
    assert_eq!(
        kinds(deliveries_of(&store, "wh_all").await),
        ["lockout", "login_success", "refresh_reuse"]
    );
    assert!(deliveries_of(&store, "wh_off").await.is_empty());
    assert!(
        deliveries_of(&store, "wh_b").await.is_empty(),
        "refresh is not refresh_reuse"
    );
    let d = &deliveries_of(&store, "wh_a").await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
    assert_eq!(d.event_id, "ev0001");
    assert_eq!(d.next_attempt_at, 100_000);
}

pub async fn concurrent_claims_never_share_a_delivery(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_a", &["*"], true), 64)
        .await
        .unwrap());
    const N: usize = 60;
    for n in 0..N {
        store.insert_event(&event(n, "lockout", 10)).await.unwrap();
    }
    let mut claimers = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_deliveries(20_000, 100_000 + i, 7, 100)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| (c.id, c.event.id, c.attempts)));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for (id, event_id, attempts) in claimer.await.unwrap() {
            assert!(seen.insert(id), "delivery {id} claimed twice");
            assert!(event_id.starts_with("ev"));
            assert_eq!(attempts, 0);
            total += 1;
        }
    }
    assert_eq!(total, N);
    // Leased: nothing is due again until the lease ends, then everything is.
    assert!(store
        .claim_deliveries(20_001, 200_000, 100, 100)
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_deliveries(100_010, 300_000, 100, 100)
        .await
        .unwrap();
    assert_eq!(again.len(), N);
    assert!(again.iter().all(|c| c.attempts == 1));
}

pub async fn a_finish_under_a_lost_lease_changes_nothing(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_a", &["*"], true), 64)
        .await
        .unwrap());
    store.insert_event(&event(1, "lockout", 10)).await.unwrap();
    let first = store
        .claim_deliveries(10_000, 20_000, 1, 100)
        .await
        .unwrap();
    // The lease ran out; another sender claimed it.
    let second = store
        .claim_deliveries(20_000, 90_000, 1, 100)
        .await
        .unwrap();
    assert_eq!(first[0].id, second[0].id);
    let delivered = AttemptOutcome::Delivered { status: 200 };
    assert!(!store
        .finish_delivery(first[0].id, 20_000, &delivered, 21_000)
        .await
        .unwrap());
    let retry = AttemptOutcome::Failed {
        status: Some(500),
        error: "the receiver answered 500".into(),
        next_attempt_at: Some(95_000),
    };
    assert!(store
        .finish_delivery(second[0].id, 90_000, &retry, 22_000)
        .await
        .unwrap());
    let d = &deliveries_of(&store, "wh_a").await[0];
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("pending", 2, Some(500))
    );
    assert_eq!(d.next_attempt_at, 95_000);
    let last = store
        .claim_deliveries(95_000, 150_000, 1, 100)
        .await
        .unwrap();
    let failed = AttemptOutcome::Failed {
        status: None,
        error: "timed out".into(),
        next_attempt_at: None,
    };
    assert!(store
        .finish_delivery(last[0].id, 150_000, &failed, 96_000)
        .await
        .unwrap());
    let d = &deliveries_of(&store, "wh_a").await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 3));
    assert_eq!(d.last_error.as_deref(), Some("timed out"));
    // Failed for good: never claimed again, until replayed.
    assert!(store
        .claim_deliveries(10_000_000, 10_100_000, 1, 100)
        .await
        .unwrap()
        .is_empty());
    let n = store
        .replay_deliveries("wh_a", &ReplaySelection::FailedSince(0), 97_000)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let replayed = store
        .claim_deliveries(97_000, 200_000, 1, 100)
        .await
        .unwrap();
    assert_eq!(replayed[0].attempts, 0);
    assert_eq!(replayed[0].event.id, "ev0001");
}

pub async fn disabled_endpoints_are_neither_claimed_nor_fed(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_a", &["*"], true), 64)
        .await
        .unwrap());
    store.insert_event(&event(1, "lockout", 10)).await.unwrap();
    assert_eq!(
        store.webhook_failing("wh_a", 5_000).await.unwrap(),
        Some(5_000)
    );
    assert_eq!(
        store.webhook_failing("wh_a", 9_000).await.unwrap(),
        Some(5_000)
    );
    assert!(store.disable_webhook("wh_a", "failing").await.unwrap());
    assert!(
        !store.disable_webhook("wh_a", "failing").await.unwrap(),
        "disabled once"
    );
    store.insert_event(&event(2, "lockout", 10)).await.unwrap();
    assert_eq!(
        deliveries_of(&store, "wh_a").await.len(),
        1,
        "nothing queued while disabled"
    );
    assert!(store
        .claim_deliveries(20_000, 90_000, 10, 100)
        .await
        .unwrap()
        .is_empty());
    let row = store.find_webhook("wh_a").await.unwrap().unwrap();
    assert_eq!(
        (
            row.enabled,
            row.disabled_reason.as_deref(),
            row.failing_since
        ),
        (false, Some("failing"), Some(5_000))
    );
    let enabled = WebhookRow {
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        ..row
    };
    assert!(store.update_webhook(&enabled).await.unwrap());
    assert_eq!(
        store
            .claim_deliveries(20_000, 90_000, 10, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.delete_webhook("wh_a").await.unwrap());
    assert!(!store.delete_webhook("wh_a").await.unwrap());
    assert!(deliveries_of(&store, "wh_a").await.is_empty());
}

pub async fn old_deliveries_are_deleted_in_batches(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_a", &["*"], true), 64)
        .await
        .unwrap());
    for n in 0..5 {
        store.insert_event(&event(n, "lockout", 10)).await.unwrap();
    }
    store.insert_event(&event(9, "lockout", 50)).await.unwrap();
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.failed), (6, 0));
    assert_eq!(store.delete_deliveries_before(20_000, 3).await.unwrap(), 3);
    assert_eq!(store.delete_deliveries_before(20_000, 3).await.unwrap(), 2);
    assert_eq!(store.delete_deliveries_before(20_000, 3).await.unwrap(), 0);
    assert_eq!(store.outbox_stats().await.unwrap().pending, 1);
}

pub async fn one_endpoint_never_holds_more_than_its_share(store: Arc<dyn Store>) {
    assert!(store
        .insert_webhook(&endpoint("wh_slow", &["lockout"], true), 64)
        .await
        .unwrap());
    assert!(store
        .insert_webhook(&endpoint("wh_fast", &["refresh"], true), 64)
        .await
        .unwrap());
    for n in 0..20 {
        store.insert_event(&event(n, "lockout", 10)).await.unwrap();
    }
    for n in 20..23 {
        store.insert_event(&event(n, "refresh", 11)).await.unwrap();
    }
    // The slow endpoint's deliveries are older, yet it gets only its share of 8 slots.
    let first = store.claim_deliveries(20_000, 90_000, 8, 4).await.unwrap();
    let slow = first.iter().filter(|c| c.webhook.id == "wh_slow").count();
    let fast = first.iter().filter(|c| c.webhook.id == "wh_fast").count();
    assert_eq!((slow, fast), (4, 3));
    // While its four are in flight (leased), it gets no more; the others' room is left.
    let second = store.claim_deliveries(20_001, 90_000, 8, 4).await.unwrap();
    assert!(second.is_empty(), "{second:?}");
    // Once they are done, it gets the next four.
    for c in first.iter().filter(|c| c.webhook.id == "wh_slow") {
        let ok = AttemptOutcome::Delivered { status: 200 };
        assert!(store
            .finish_delivery(c.id, 90_000, &ok, 21_000)
            .await
            .unwrap());
    }
    let third = store.claim_deliveries(21_001, 95_000, 8, 4).await.unwrap();
    assert_eq!(third.len(), 4);
    assert!(third.iter().all(|c| c.webhook.id == "wh_slow"));
}

pub async fn concurrent_adds_never_exceed_the_endpoint_limit(store: Arc<dyn Store>) {
    let mut adds = Vec::new();
    for n in 0..12 {
        let store = store.clone();
        adds.push(tokio::spawn(async move {
            store
                .insert_webhook(&endpoint(&format!("wh_{n}"), &["*"], true), 5)
                .await
                .unwrap()
        }));
    }
    let mut stored = 0;
    for add in adds {
        stored += usize::from(add.await.unwrap());
    }
    assert_eq!(stored, 5);
    assert_eq!(store.list_webhooks().await.unwrap().len(), 5);
}
