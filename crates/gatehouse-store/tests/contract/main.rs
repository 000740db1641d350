//! The store contract: one suite of tests over the `Store` trait, run once per back end by
//! [`contract_suite!`]: on SQLite (a temp file) always, and on PostgreSQL (a fresh database per
//! test, dropped afterwards) when `GATEHOUSE_TEST_POSTGRES_URL` is set. Without it the
//! PostgreSQL tests pass after printing one visible "SKIPPED" notice.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod client_tokens;
mod clients;
mod keys;
mod mfa;
mod migrations;
mod security;
mod session_races;
mod sessions;
mod tokens;
mod users;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use gatehouse_core::store::{Store, StoreError};
use gatehouse_store::testing::{postgres_url, FreshDatabase};
use gatehouse_store::{PostgresStore, SqliteStore};
use tokio::task::JoinHandle;

/// Runs `test` on a new SQLite file.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    test(Arc::new(store)).await;
}

/// Runs `test` on a new PostgreSQL database, or skips it (visibly) without a server.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(server) = postgres_url("the store contract suite") else {
        return;
    };
    // Dropped last, also when the test panics: drops the database and its connections.
    let db = FreshDatabase::create(&server).await.unwrap();
    let store = PostgresStore::connect(db.url()).await.unwrap();
    test(Arc::new(store)).await;
}

/// Awaits concurrent attempts at a write that can succeed once, and asserts that exactly one
/// won and every other one got `Conflict`.
pub async fn assert_exactly_one_wins(attempts: Vec<JoinHandle<Result<(), StoreError>>>) {
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(err) => panic!("expected Conflict, got {err:?}"),
        }
    }
    assert_eq!(won, 1);
}

/// Declares each listed test (`module::function`, an `async fn(Arc<dyn Store>)`) once per back
/// end: `sqlite::function` and `postgres::function`.
macro_rules! contract_suite {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
              async fn $test() { crate::on_sqlite(crate::$module::$test).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
              async fn $test() { crate::on_postgres(crate::$module::$test).await })*
        }
    };
}

contract_suite!(
    clients::client_crud_round_trips,
    clients::duplicate_client_id_is_conflict,
    clients::missing_client_is_none_or_not_found,
    users::user_crud_round_trips,
    users::attributes_and_roles_round_trip_with_every_read,
    users::users_are_searched_and_paged_by_key,
    users::duplicate_username_is_conflict,
    users::usernames_are_stored_normalized,
    users::set_password_hash_replaces_only_that_user,
    users::password_changes_keep_history_and_refuse_a_stale_hash,
    users::a_user_from_an_external_store_keeps_its_store,
    users::concurrent_password_changes_let_exactly_one_win,
    users::concurrent_inserts_of_one_username_let_exactly_one_win,
    keys::signing_keys_come_oldest_first,
    keys::only_one_successor_per_signing_key,
    keys::signing_keys_keep_whether_they_serve_the_default,
    keys::delete_expired_keeps_what_does_not_expire,
    security::concurrent_lockout_failures_are_all_counted,
    security::concurrent_lockout_attempts_stop_at_the_threshold,
    security::a_stale_lockout_swap_is_refused,
    security::the_source_bucket_admits_exactly_its_room_under_concurrency,
    security::forgotten_attempts_and_drained_buckets_are_pruned,
    mfa::enrolment_replaces_pending_factors_only,
    mfa::a_totp_step_is_accepted_once,
    mfa::a_recovery_code_is_replaced_once,
    mfa::an_mfa_token_is_consumed_once,
    mfa::the_bucket_of_wrong_codes_is_reserved_atomically,
    tokens::issued_tokens_round_trip,
    tokens::a_refresh_token_rotates_exactly_once,
    tokens::revoking_a_family_revokes_its_access_tokens,
    tokens::cleanup_removes_expired_families_and_access_tokens,
    session_races::the_session_limit_evicts_the_oldest_under_concurrency,
    session_races::the_session_limit_denies_logins_beyond_it_under_concurrency,
    sessions::a_stale_login_stores_nothing,
    sessions::a_logins_event_is_stored_with_it_and_only_then,
    sessions::ending_a_users_sessions_keeps_only_the_one_named,
    sessions::removing_a_client_removes_its_sessions,
    sessions::removing_a_user_removes_their_sessions,
    sessions::sessions_are_listed_newest_first_with_their_login,
    sessions::revoking_sessions_by_filter_returns_exactly_the_ids_revoked,
    sessions::revoking_by_authenticator_revokes_only_its_sessions,
    sessions::access_tokens_die_with_a_disabled_or_removed_user,
    session_races::no_login_in_flight_outlives_the_end_of_the_users_sessions,
    session_races::no_login_in_flight_outlives_the_removal_of_its_client,
    client_tokens::a_client_token_is_recorded_only_while_its_client_exists,
    client_tokens::client_tokens_are_revoked_alone_and_removed_with_their_client,
    client_tokens::no_client_token_in_flight_outlives_the_removal_of_its_client,
    webhooks::an_event_makes_the_deliveries_its_kind_asks_for,
    webhooks::concurrent_claims_never_share_a_delivery,
    webhooks::a_finish_under_a_lost_lease_changes_nothing,
    webhooks::disabled_endpoints_are_neither_claimed_nor_fed,
    webhooks::old_deliveries_are_deleted_in_batches,
    webhooks::one_endpoint_never_holds_more_than_its_share,
    webhooks::concurrent_adds_never_exceed_the_endpoint_limit,
);
