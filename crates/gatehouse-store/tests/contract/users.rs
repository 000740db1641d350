//! Users (RFC 6749 §4.3 resource owners): insert, find, list, delete, password changes, the
//! unique normalized username (RFC 8265 UsernameCaseMapped) and concurrent inserts.

use std::sync::Arc;

use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::{PasswordChange, Store, StoreError};
use gatehouse_core::user::{User, Username};

pub fn user(username: &str) -> User {
    User {
        id: gatehouse_core::random::id(),
        username: Username::parse(username).unwrap(),
        password_hash: format!("hash-of-{username}"),
        email: Some(format!("{username}@example.com")),
        phone: None,
        scopes: Some(ScopeSet::parse("openid email").unwrap()),
        created_at: 1_700_000_000,
        active: true,
        session_epoch: 0,
        password_changed_at: 1_700_000_050,
        password_change_required: None,
        attributes: Default::default(),
        roles: Default::default(),
        store: None,
    }
}

/// Attributes and roles (issue 21) are stored with the user and read back by every read of it:
/// by name, by id (the refresh path), in the list, and with an access token (introspection).
pub async fn attributes_and_roles_round_trip_with_every_read(store: Arc<dyn Store>) {
    use gatehouse_core::claims::{Attributes, Roles};
    let mut ines = user("ines");
    ines.attributes =
        Attributes::parse(&serde_json::json!({"department": "sales", "level": 3})).unwrap();
    ines.roles = Roles::parse(["gatehouse:admin", "editor"]).unwrap();
    store.insert_user(&ines).await.unwrap();
    let by_name = store.find_user(&ines.username).await.unwrap().unwrap();
    assert_eq!(by_name, ines);
    let by_id = store.find_user_by_id(&ines.id).await.unwrap().unwrap();
    assert_eq!(by_id, ines);
    let listed = store.list_users().await.unwrap();
    assert!(listed.contains(&ines));
    ines.attributes = Attributes::default();
    ines.roles = Roles::parse(["gatehouse:viewer"]).unwrap();
    store.update_user(&ines, 1_700_000_100).await.unwrap();
    let updated = store.find_user_by_id(&ines.id).await.unwrap().unwrap();
    assert_eq!(
        (updated.attributes, updated.roles),
        (ines.attributes, ines.roles)
    );
}

/// `search_users` (the console's user list) pages by key in username order, filters by a
/// substring, and takes `%`, `_` and `!` in the search literally.
pub async fn users_are_searched_and_paged_by_key(store: Arc<dyn Store>) {
    for name in ["pa-01", "pa-02", "pa-03", "pa_x", "pa%y", "pa!z", "zed"] {
        store.insert_user(&user(name)).await.unwrap();
    }
    let names = |users: Vec<User>| -> Vec<String> {
        users
            .iter()
            .map(|u| u.username.as_str().to_owned())
            .collect()
    };
    let first = store.search_users("", "pa-0", 2).await.unwrap();
    assert_eq!(names(first), ["pa-01", "pa-02"]);
    let next = store.search_users("pa-02", "pa-0", 2).await.unwrap();
    assert_eq!(names(next), ["pa-03"]);
    assert_eq!(
        names(store.search_users("", "_", 10).await.unwrap()),
        ["pa_x"]
    );
    assert_eq!(
        names(store.search_users("", "%", 10).await.unwrap()),
        ["pa%y"]
    );
    assert_eq!(
        names(store.search_users("", "!", 10).await.unwrap()),
        ["pa!z"]
    );
    let all = store.search_users("", "", 100).await.unwrap();
    assert!(all.len() >= 7);
    assert!(all
        .windows(2)
        .all(|w| w[0].username.as_str() < w[1].username.as_str()));
}

/// `change_password` replaces the hash only while it is still the one it replaces, keeps the
/// given history, records the time and lifts a `password_change_required` mark; that mark is
/// set only while the hash is the one it was found on.
pub async fn password_changes_keep_history_and_refuse_a_stale_hash(store: Arc<dyn Store>) {
    let hana = user("hana");
    store.insert_user(&hana).await.unwrap();
    assert!(store
        .password_history(&hana.username)
        .await
        .unwrap()
        .is_empty());
    // A mark for another hash is not set; for the stored one it is.
    let marked = store
        .require_password_change(&hana.id, "some-other-hash", Some("breached:common"))
        .await
        .unwrap();
    assert!(!marked);
    assert_eq!(
        store
            .find_user(&hana.username)
            .await
            .unwrap()
            .unwrap()
            .password_change_required,
        None
    );
    let marked = store
        .require_password_change(&hana.id, &hana.password_hash, Some("breached:common"))
        .await
        .unwrap();
    assert!(marked);
    let found = store.find_user(&hana.username).await.unwrap().unwrap();
    assert_eq!(
        found.password_change_required.as_deref(),
        Some("breached:common")
    );
    assert_eq!(store.find_user_by_id(&hana.id).await.unwrap(), Some(found));

    let history = vec![hana.password_hash.clone(), "older".to_owned()];
    let change = PasswordChange {
        username: &hana.username,
        replaces: &hana.password_hash,
        hash: "hash-2",
        history: &history,
        now: 1_700_000_900,
    };
    store.change_password(change).await.unwrap();
    let found = store.find_user(&hana.username).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "hash-2");
    assert_eq!(found.password_changed_at, 1_700_000_900);
    assert_eq!(found.password_change_required, None);
    assert_eq!(
        store.password_history(&hana.username).await.unwrap(),
        history
    );

    // The same change again replaces a hash that is no longer stored: Conflict, and nothing
    // changes.
    let err = store.change_password(change).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let again = store.find_user(&hana.username).await.unwrap().unwrap();
    assert_eq!(again.password_hash, "hash-2");
    let ghost = Username::parse("ghost").unwrap();
    let err = store
        .change_password(PasswordChange {
            username: &ghost,
            ..change
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(store.password_history(&ghost).await.unwrap().is_empty());
}

/// Sixteen concurrent changes from the same stored hash: exactly one wins, the rest are
/// `Conflict` (two self-service changes racing cannot both pass the current-password check
/// and both write).
pub async fn concurrent_password_changes_let_exactly_one_win(store: Arc<dyn Store>) {
    let ivan = user("ivan");
    store.insert_user(&ivan).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let ivan = ivan.clone();
            tokio::spawn(async move {
                let hash = format!("hash-{i}");
                store
                    .change_password(PasswordChange {
                        username: &ivan.username,
                        replaces: &ivan.password_hash,
                        hash: &hash,
                        history: &[],
                        now: 1_700_001_000,
                    })
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
}

/// Everything stored about a user comes back unchanged, also when disabled; list is ordered
/// by username.
pub async fn user_crud_round_trips(store: Arc<dyn Store>) {
    let bob = user("bob");
    let mut alice = user("alice");
    alice.phone = Some("+1 555 0100".into());
    alice.scopes = None;
    alice.active = false;
    store.insert_user(&bob).await.unwrap();
    store.insert_user(&alice).await.unwrap();

    assert_eq!(
        store.find_user(&bob.username).await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        store.find_user(&alice.username).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.list_users().await.unwrap(),
        [alice.clone(), bob.clone()]
    );

    assert_eq!(
        store.delete_user(&alice.username).await.unwrap(),
        0,
        "no sessions"
    );
    assert_eq!(store.find_user(&alice.username).await.unwrap(), None);
    let err = store.delete_user(&alice.username).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(store.list_users().await.unwrap(), [bob]);
}

/// A taken username is `Conflict`, even with a different id.
pub async fn duplicate_username_is_conflict(store: Arc<dyn Store>) {
    let first = user("carol");
    store.insert_user(&first).await.unwrap();
    let err = store.insert_user(&user("carol")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.find_user(&first.username).await.unwrap(), Some(first));
}

/// Usernames are stored in their PRECIS case-mapped form, so "Dave" and "dave" are one user.
pub async fn usernames_are_stored_normalized(store: Arc<dyn Store>) {
    let dave = user("Dave@Example.COM");
    assert_eq!(dave.username.as_str(), "dave@example.com");
    store.insert_user(&dave).await.unwrap();
    let lower = Username::parse("dave@example.com").unwrap();
    assert_eq!(store.find_user(&lower).await.unwrap(), Some(dave));
    let err = store
        .insert_user(&user("DAVE@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}

/// `set_password_hash` changes that user's hash only; a missing user is `NotFound`.
pub async fn set_password_hash_replaces_only_that_user(store: Arc<dyn Store>) {
    let erin = user("erin");
    let frank = user("frank");
    store.insert_user(&erin).await.unwrap();
    store.insert_user(&frank).await.unwrap();
    store
        .set_password_hash(&erin.username, "new-hash", 1_700_000_100)
        .await
        .unwrap();

    let found = store.find_user(&erin.username).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "new-hash");
    assert_eq!(found.created_at, erin.created_at);
    assert_eq!(store.find_user(&frank.username).await.unwrap(), Some(frank));
    let ghost = Username::parse("ghost").unwrap();
    let err = store.set_password_hash(&ghost, "x", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

/// Sixteen concurrent inserts of one username: exactly one succeeds, the rest are `Conflict`.
pub async fn concurrent_inserts_of_one_username_let_exactly_one_win(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_user(&user("grace")).await })
        })
        .collect();
    crate::assert_exactly_one_wins(tasks).await;
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}

/// A user made from an external user store (issue 22) keeps the store's name, read back by
/// `find_user`, `find_user_by_id` and `list_users`; a local user has none.
pub async fn a_user_from_an_external_store_keeps_its_store(store: Arc<dyn Store>) {
    let mut ext = user("ext-ivy");
    ext.store = Some("corp".into());
    ext.password_hash = gatehouse_core::external_users::EXTERNAL_PASSWORD.into();
    store.insert_user(&ext).await.unwrap();
    let local = user("local-ivy");
    store.insert_user(&local).await.unwrap();
    let found = store.find_user(&ext.username).await.unwrap().unwrap();
    assert_eq!(found, ext);
    assert!(found.is_checked_externally());
    let by_id = store.find_user_by_id(&ext.id).await.unwrap().unwrap();
    assert_eq!(by_id.store.as_deref(), Some("corp"));
    let listed = store.list_users().await.unwrap();
    let stores: Vec<_> = listed.iter().map(|u| u.store.as_deref()).collect();
    assert!(stores.contains(&Some("corp")) && stores.contains(&None));
    // A migrated password keeps the store it came from.
    store
        .set_password_hash(&ext.username, "argon2-hash", 1_700_000_100)
        .await
        .unwrap();
    let migrated = store.find_user(&ext.username).await.unwrap().unwrap();
    assert_eq!(migrated.store.as_deref(), Some("corp"));
    assert!(!migrated.is_checked_externally());
}
