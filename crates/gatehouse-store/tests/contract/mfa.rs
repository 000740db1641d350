//! Second factors, mfa_tokens and the bucket of wrong codes: enrolment replaces a pending
//! factor but never an active one, a TOTP step is accepted once (also under concurrency), a
//! recovery code is replaced once, an mfa_token is consumed once, users' factors go with them.

use std::sync::Arc;

use gatehouse_core::mfa::{Authenticator, AuthenticatorKind, MfaTokenRecord};
use gatehouse_core::store::Store;

use crate::users::user;

const T0: i64 = 1_700_000_000;

/// A pending TOTP factor `otp_{tag}` and recovery code `recovery-code_{tag}` of the user.
pub fn factors(user_id: &str, tag: &str) -> (Authenticator, Authenticator) {
    let otp = Authenticator {
        id: format!("otp_{tag}"),
        user_id: user_id.to_owned(),
        kind: AuthenticatorKind::Otp,
        secret_sealed: Some(vec![1, 2, 3]),
        code_hash: None,
        active: false,
        last_step: 0,
        created_at: T0,
    };
    let recovery = Authenticator {
        id: format!("recovery-code_{tag}"),
        kind: AuthenticatorKind::RecoveryCode,
        secret_sealed: None,
        code_hash: Some(format!("hash-{tag}")),
        ..otp.clone()
    };
    (otp, recovery)
}

/// Enrolment stores both factors inactive, a second enrolment replaces them while pending, and
/// none is possible once TOTP is active; the first accepted step activates both.
pub async fn enrolment_replaces_pending_factors_only(store: Arc<dyn Store>) {
    let alice = user("alice");
    store.insert_user(&alice).await.unwrap();
    let (otp, rc) = factors(&alice.id, "a");
    assert!(store.enrol_mfa(&otp, &rc).await.unwrap());
    assert_eq!(
        store.mfa_authenticators(&alice.id).await.unwrap(),
        vec![otp.clone(), rc.clone()]
    );

    let (otp2, rc2) = factors(&alice.id, "b");
    assert!(store.enrol_mfa(&otp2, &rc2).await.unwrap());
    let ids: Vec<String> = store
        .mfa_authenticators(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["otp_b", "recovery-code_b"]);

    assert!(!store.accept_totp_step(&alice.id, "otp_a", 5).await.unwrap());
    assert!(store.accept_totp_step(&alice.id, "otp_b", 5).await.unwrap());
    let all = store.mfa_authenticators(&alice.id).await.unwrap();
    assert!(all.iter().all(|a| a.active), "{all:?}");
    assert_eq!(all[0].last_step, 5);

    let (otp3, rc3) = factors(&alice.id, "c");
    assert!(!store.enrol_mfa(&otp3, &rc3).await.unwrap());
    assert_eq!(store.mfa_authenticators(&alice.id).await.unwrap(), all);
}

/// A step is accepted only when later than the last one; of concurrent calls with one step,
/// exactly one succeeds.
pub async fn a_totp_step_is_accepted_once(store: Arc<dyn Store>) {
    let alice = user("alice");
    store.insert_user(&alice).await.unwrap();
    let (otp, rc) = factors(&alice.id, "a");
    store.enrol_mfa(&otp, &rc).await.unwrap();
    assert!(store
        .accept_totp_step(&alice.id, &otp.id, 10)
        .await
        .unwrap());
    assert!(!store
        .accept_totp_step(&alice.id, &otp.id, 10)
        .await
        .unwrap());
    assert!(!store.accept_totp_step(&alice.id, &otp.id, 9).await.unwrap());
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, user_id, id) = (store.clone(), alice.id.clone(), otp.id.clone());
            tokio::spawn(async move { store.accept_totp_step(&user_id, &id, 11).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap());
    }
    assert_eq!(wins, 1);
}

/// A recovery code is replaced only while active and only once; factors go with their user.
pub async fn a_recovery_code_is_replaced_once(store: Arc<dyn Store>) {
    let alice = user("alice");
    store.insert_user(&alice).await.unwrap();
    let (otp, rc) = factors(&alice.id, "a");
    store.enrol_mfa(&otp, &rc).await.unwrap();
    assert!(
        !store
            .rotate_recovery_code(&alice.id, "hash-a", "next")
            .await
            .unwrap(),
        "pending"
    );
    store.accept_totp_step(&alice.id, &otp.id, 1).await.unwrap();
    assert!(store
        .rotate_recovery_code(&alice.id, "hash-a", "next")
        .await
        .unwrap());
    assert!(!store
        .rotate_recovery_code(&alice.id, "hash-a", "again")
        .await
        .unwrap());
    assert!(!store
        .rotate_recovery_code("someone", "next", "x")
        .await
        .unwrap());

    assert!(store
        .delete_mfa_authenticator(&alice.id, &rc.id)
        .await
        .unwrap());
    assert!(!store
        .delete_mfa_authenticator(&alice.id, &rc.id)
        .await
        .unwrap());
    store.delete_user(&alice.username).await.unwrap();
    assert!(store
        .mfa_authenticators(&alice.id)
        .await
        .unwrap()
        .is_empty());
}

/// An mfa_token comes back as stored, is consumed once and not after it expires, and the
/// cleanup keeps an expired one for an hour.
pub async fn an_mfa_token_is_consumed_once(store: Arc<dyn Store>) {
    let alice = user("alice");
    store.insert_user(&alice).await.unwrap();
    let record = |hash: &str| MfaTokenRecord {
        token_hash: hash.to_owned(),
        user_id: alice.id.clone(),
        client_id: "app".into(),
        scope: "openid email".into(),
        created_at: T0,
        expires_at: T0 + 600,
        used_at: None,
    };
    store.insert_mfa_token(&record("a")).await.unwrap();
    store.insert_mfa_token(&record("b")).await.unwrap();
    assert_eq!(store.find_mfa_token("a").await.unwrap(), Some(record("a")));
    assert_eq!(store.find_mfa_token("zzz").await.unwrap(), None);
    assert!(store.consume_mfa_token("a", T0 + 10).await.unwrap());
    assert!(!store.consume_mfa_token("a", T0 + 11).await.unwrap());
    assert_eq!(
        store.find_mfa_token("a").await.unwrap().unwrap().used_at,
        Some(T0 + 10)
    );
    assert!(
        !store.consume_mfa_token("b", T0 + 600).await.unwrap(),
        "expired"
    );

    store.delete_expired(T0 + 600 + 3599, 100).await.unwrap();
    assert!(store.find_mfa_token("b").await.unwrap().is_some());
    store.delete_expired(T0 + 600 + 3601, 100).await.unwrap();
    assert!(store.find_mfa_token("b").await.unwrap().is_none());
}

/// The bucket grows from now (or from where it stands) by the interval per code taken, takes
/// no code once full, even from many concurrent callers, and a refund gives one back.
pub async fn the_bucket_of_wrong_codes_is_reserved_atomically(store: Arc<dyn Store>) {
    let room = 9 * 360;
    assert_eq!(store.mfa_drained_at("u1").await.unwrap(), 0);
    let take = |now| {
        let store = store.clone();
        async move {
            store
                .reserve_mfa_attempt("u1", now, 360, room)
                .await
                .unwrap()
        }
    };
    assert_eq!(take(T0).await, Some(T0 + 360));
    assert_eq!(take(T0 + 10).await, Some(T0 + 720));
    assert_eq!(take(T0 + 5000).await, Some(T0 + 5360));
    store.refund_mfa_attempt("u1", 360).await.unwrap();
    assert_eq!(store.mfa_drained_at("u1").await.unwrap(), T0 + 5000);
    let racers: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_mfa_attempt("u2", T0, 360, room)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for r in racers {
        taken += usize::from(r.await.unwrap().is_some());
    }
    assert_eq!(taken, 10);
    assert_eq!(store.mfa_drained_at("u2").await.unwrap(), T0 + 3600);
}
