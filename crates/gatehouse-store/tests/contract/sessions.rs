//! Sessions (issue 16): a login's family is a session, recorded only while its client, its
//! user (active, of the family's epoch) and its second factor exist; listing, revoking and
//! ending sessions; and the access tokens that die with their session or their user. The races
//! (the session limit, logins in flight) are in `session_races.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;

use gatehouse_core::client::ClientId;
use gatehouse_core::store::{Recorded, SessionFilter, SessionLimit, SessionLimitPolicy, Store};

use crate::tokens::{access_revoked, rotate, with_user_named, Login, Opened, NOW};

/// The ids of the live sessions `filter` lists at `now`, in the order listed.
pub async fn listed(store: &dyn Store, filter: &SessionFilter, now: i64) -> Vec<String> {
    let sessions = store.list_sessions(filter, now).await.unwrap();
    sessions.into_iter().map(|s| s.id).collect()
}

pub fn of_user(user_id: &str) -> SessionFilter {
    SessionFilter {
        user_id: Some(user_id.into()),
        ..SessionFilter::default()
    }
}

pub fn of_client(client_id: &str) -> SessionFilter {
    SessionFilter {
        client_id: Some(client_id.into()),
        ..SessionFilter::default()
    }
}

pub fn set(ids: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// Enables or disables the user `user_id`.
async fn set_active(store: &dyn Store, user_id: &str, active: bool) {
    let mut user = store.find_user_by_id(user_id).await.unwrap().unwrap();
    user.active = active;
    store.update_user(&user, NOW + 1).await.unwrap();
}

/// Asserts that `login` is `Stale` and stored nothing.
async fn assert_stale(store: &dyn Store, login: &Login, why: &str) {
    let (recorded, opened) = login.record(store, None).await;
    assert_eq!(recorded, Recorded::Stale, "{why}");
    let access = store.find_access_token(&opened.access.id).await.unwrap();
    assert_eq!(access, None, "{why}: no access token");
    let refresh = store.find_refresh_token(&opened.refresh_hash()).await;
    assert!(refresh.unwrap().is_none(), "{why}: no refresh token");
    let filter = SessionFilter {
        id: Some(opened.id()),
        ..SessionFilter::default()
    };
    assert!(
        listed(store, &filter, NOW).await.is_empty(),
        "{why}: no session"
    );
}

/// A login's event is stored with its tokens, in the same commit, whichever way the store
/// writes them (one statement without a session limit, a transaction with one, with and
/// without a refresh token), and not at all when the login is stale or over its limit.
pub async fn a_logins_event_is_stored_with_it_and_only_then(store: Arc<dyn Store>) {
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    let stored = |opened: &Opened| vec![opened.event.as_ref().unwrap().id.clone()];

    let opened = Login::new(&ivan).with_event().open(s).await;
    assert_eq!(
        opened.events(s).await,
        stored(&opened),
        "with a refresh token"
    );
    let mut no_refresh = Login::new(&ivan).with_event();
    no_refresh.refresh_idle_expires_at = None;
    let opened = no_refresh.open(s).await;
    assert_eq!(opened.events(s).await, stored(&opened), "without one");
    let read = s.find_access_token(&opened.access.id).await.unwrap();
    assert!(read.is_some(), "the access token is stored with the event");

    let limit = Some(SessionLimit {
        max: 3,
        policy: SessionLimitPolicy::Deny,
    });
    let (recorded, opened) = Login::new(&ivan).with_event().record(s, limit).await;
    assert_eq!(recorded, Recorded::Stored { evicted: vec![] });
    assert_eq!(opened.events(s).await, stored(&opened), "under a limit");
    let (recorded, opened) = Login::new(&ivan).with_event().record(s, limit).await;
    assert_eq!(recorded, Recorded::OverLimit, "three live sessions already");
    assert!(opened.events(s).await.is_empty(), "no event over the limit");

    let stale = Login::new(&ivan).client("never").with_event();
    let (recorded, opened) = stale.record(s, None).await;
    assert_eq!(recorded, Recorded::Stale);
    assert!(
        opened.events(s).await.is_empty(),
        "no event of a stale login"
    );
    let other = crate::clients::client("other-app", None);
    store.insert_client(&other, NOW).await.unwrap();
    let mut stale = Login::new(&ivan).client("other-app").with_event();
    stale.user_epoch = 1;
    let (recorded, opened) = stale.record(s, limit).await;
    assert_eq!(recorded, Recorded::Stale, "an old epoch, under a limit");
    assert!(
        opened.events(s).await.is_empty(),
        "no event of a stale login"
    );
}

/// A login is recorded only while its client exists, its user exists, is active and still
/// has the login's session epoch, and its second factor exists; else it is `Stale` and stores
/// nothing. The same login with what it names in place is stored.
pub async fn a_stale_login_stores_nothing(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let s = store.as_ref();

    let gone = crate::clients::client("gone", None);
    store.insert_client(&gone, NOW).await.unwrap();
    Login::new(&heidi).client("gone").open(s).await;
    store.delete_client(&gone.id).await.unwrap();
    assert_stale(s, &Login::new(&heidi).client("gone"), "client deleted").await;
    assert_stale(s, &Login::new(&heidi).client("never"), "client unknown").await;

    let (otp, recovery) = crate::mfa::factors(&heidi, "a");
    assert!(store.enrol_mfa(&otp, &recovery).await.unwrap());
    let mut with_factor = Login::new(&heidi);
    with_factor.amr = vec!["pwd".into(), "otp".into()];
    with_factor.authenticator_id = Some(otp.id.clone());
    with_factor.open(s).await;
    with_factor.authenticator_id = Some("otp_unknown".into());
    assert_stale(s, &with_factor, "second factor unknown").await;

    store.end_user_sessions(&heidi, None, NOW).await.unwrap();
    let raised = store.find_user_by_id(&heidi).await.unwrap().unwrap();
    assert_eq!(
        raised.session_epoch, 1,
        "ending the sessions raises the epoch"
    );
    assert_stale(s, &Login::new(&heidi), "old epoch").await;
    let mut current = Login::new(&heidi);
    current.user_epoch = 1;
    current.open(s).await;

    set_active(s, &heidi, false).await;
    assert_stale(s, &current, "user disabled").await;

    let ivan = with_user_named(s, "ivan").await;
    Login::new(&ivan).open(s).await;
    let ivan_name = store
        .find_user_by_id(&ivan)
        .await
        .unwrap()
        .unwrap()
        .username;
    store.delete_user(&ivan_name).await.unwrap();
    assert_stale(s, &Login::new(&ivan), "user deleted").await;
}

/// Ending a user's sessions revokes every live one but `keep` and raises the epoch; the kept
/// one stays live (its access token too) and moves to the new epoch. `keep` naming another
/// user's session saves nothing of this user's and leaves that session as it was.
pub async fn ending_a_users_sessions_keeps_only_the_one_named(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    let mut sessions = Vec::new();
    for n in 0..3 {
        sessions.push(Login::new(&heidi).at(NOW + n).open(s).await);
    }
    let other = Login::new(&ivan).open(s).await;
    let kept = &sessions[1];

    let ended = store
        .end_user_sessions(&heidi, Some(&kept.id()), NOW + 10)
        .await
        .unwrap();
    assert_eq!(set(ended), set([sessions[0].id(), sessions[2].id()]));
    let user = store.find_user_by_id(&heidi).await.unwrap().unwrap();
    assert_eq!(user.session_epoch, 1);
    assert_eq!(listed(s, &of_user(&heidi), NOW + 10).await, [kept.id()]);
    let (_, family) = store
        .find_refresh_token(&kept.refresh_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((family.user_epoch, family.revoked_at), (1, None));
    for session in &sessions {
        let revoked = access_revoked(s, &session.access.id).await;
        assert_eq!(revoked, session.id() != kept.id(), "{}", session.id());
    }

    let ended = store
        .end_user_sessions(&heidi, Some(&other.id()), NOW + 20)
        .await
        .unwrap();
    assert_eq!(ended, [kept.id()], "another user's session saves nothing");
    assert!(listed(s, &of_user(&heidi), NOW + 20).await.is_empty());
    assert!(access_revoked(s, &kept.access.id).await);
    assert_eq!(listed(s, &of_user(&ivan), NOW + 20).await, [other.id()]);
    assert!(!access_revoked(s, &other.access.id).await);
    let (_, family) = store
        .find_refresh_token(&other.refresh_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        family.user_epoch, 0,
        "the other user's session keeps its epoch"
    );
    assert_eq!(
        store
            .find_user_by_id(&heidi)
            .await
            .unwrap()
            .unwrap()
            .session_epoch,
        2
    );
}

/// Asserts that `session` is gone: its refresh token with it, its access token dead.
async fn assert_removed(store: &dyn Store, session: &Opened) {
    let refresh = store.find_refresh_token(&session.refresh_hash()).await;
    assert!(
        refresh.unwrap().is_none(),
        "{}: refresh token gone",
        session.id()
    );
    assert!(
        access_revoked(store, &session.access.id).await,
        "{}",
        session.id()
    );
}

/// Removing a client removes its sessions and no other (the count is returned): their refresh
/// tokens are gone and their access tokens dead, also once a client with the same id is
/// created again, which starts with no session.
pub async fn removing_a_client_removes_its_sessions(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    let other = crate::clients::client("other", None);
    store.insert_client(&other, NOW).await.unwrap();
    let removed = [
        Login::new(&heidi).open(s).await,
        Login::new(&ivan).open(s).await,
    ];
    let kept = Login::new(&heidi).client("other").open(s).await;

    let app = ClientId::parse("app").unwrap();
    assert_eq!(store.delete_client(&app).await.unwrap(), 2);
    for session in &removed {
        assert_removed(s, session).await;
    }
    store
        .insert_client(&crate::clients::client("app", None), NOW + 1)
        .await
        .unwrap();
    assert!(listed(s, &of_client("app"), NOW + 1).await.is_empty());
    for session in &removed {
        assert_removed(s, session).await;
    }
    assert_eq!(listed(s, &of_client("other"), NOW + 1).await, [kept.id()]);
    assert!(!access_revoked(s, &kept.access.id).await);
    assert_eq!(store.delete_client(&other.id).await.unwrap(), 1);
    assert_eq!(store.delete_client(&app).await.unwrap(), 0);
}

/// Removing a user removes their sessions and no other (the count is returned): refresh tokens
/// gone, access tokens dead and no longer read with a username; a user created again with the
/// same name starts with no session.
pub async fn removing_a_user_removes_their_sessions(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    let removed = [
        Login::new(&heidi).open(s).await,
        Login::new(&heidi).open(s).await,
    ];
    let kept = Login::new(&ivan).open(s).await;
    let name = store
        .find_user_by_id(&heidi)
        .await
        .unwrap()
        .unwrap()
        .username;

    assert_eq!(store.delete_user(&name).await.unwrap(), 2);
    for session in &removed {
        assert_removed(s, session).await;
        let read = store.find_access_token_with_owner(&session.access.id).await;
        assert!(read.unwrap().is_none());
    }
    let again = crate::users::user("heidi");
    store.insert_user(&again).await.unwrap();
    assert!(listed(s, &of_user(&again.id), NOW).await.is_empty());
    assert_eq!(listed(s, &of_client("app"), NOW).await, [kept.id()]);
    assert!(!access_revoked(s, &kept.access.id).await);
    assert_eq!(store.delete_user(&again.username).await.unwrap(), 0);
}

/// Listing filters by user, client and id (all given must match), newest first, showing how
/// and where each login was made and when a token was last issued in it (its newest refresh
/// token, else the login); revoked, expired, idle-expired, old-epoch sessions and those of a
/// disabled user are not listed.
pub async fn sessions_are_listed_newest_first_with_their_login(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let judy = with_user_named(store.as_ref(), "judy").await;
    let karl = with_user_named(store.as_ref(), "karl").await;
    let s = store.as_ref();
    store
        .insert_client(&crate::clients::client("other", None), NOW)
        .await
        .unwrap();
    let later = NOW + 100;

    let oldest = Login::new(&heidi).open(s).await;
    let rotated = Login::new(&heidi).at(NOW + 10).open(s).await;
    let mut no_refresh = Login::new(&heidi).client("other").at(NOW + 15);
    no_refresh.refresh_idle_expires_at = None;
    no_refresh.ip = None;
    no_refresh.user_agent = None;
    no_refresh.amr = vec!["pwd".into(), "otp".into()];
    let no_refresh = no_refresh.open(s).await;
    let newest = Login::new(&heidi).at(NOW + 20).open(s).await;
    let ivans = Login::new(&ivan).at(NOW + 5).open(s).await;
    rotate(s, &rotated.family, &rotated.refresh_hash(), NOW + 30).await;

    let revoked = Login::new(&heidi).at(NOW + 21).open(s).await;
    store
        .revoke_token_family(&revoked.id(), NOW + 22)
        .await
        .unwrap();
    let mut expired = Login::new(&heidi).at(NOW + 22);
    expired.expires_at = later;
    expired.open(s).await;
    let mut idle = Login::new(&heidi).at(NOW + 23);
    idle.refresh_idle_expires_at = Some(later);
    idle.open(s).await;
    // An old-epoch session that was never revoked: judy's sessions were ended while she was
    // disabled (a disabled user's sessions are not live, so none was revoked), then she was
    // enabled again.
    let judys = Login::new(&judy).open(s).await;
    set_active(s, &judy, false).await;
    let ended = store.end_user_sessions(&judy, None, NOW + 1).await.unwrap();
    assert!(ended.is_empty(), "{ended:?}");
    set_active(s, &judy, true).await;
    let (_, family) = store
        .find_refresh_token(&judys.refresh_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((family.revoked_at, family.user_epoch), (None, 0));
    Login::new(&karl).open(s).await;
    set_active(s, &karl, false).await;

    let heidis = store.list_sessions(&of_user(&heidi), later).await.unwrap();
    let ids: Vec<_> = heidis.iter().map(|s| s.id.clone()).collect();
    assert_eq!(
        ids,
        [newest.id(), no_refresh.id(), rotated.id(), oldest.id()]
    );
    let [first, second, third, fourth] = &heidis[..] else {
        unreachable!()
    };
    assert_eq!((third.created_at, third.last_used_at), (NOW + 10, NOW + 30));
    assert_eq!((fourth.created_at, fourth.last_used_at), (NOW, NOW));
    assert_eq!(
        (second.created_at, second.last_used_at),
        (NOW + 15, NOW + 15)
    );
    assert_eq!(first.client_id, "app");
    assert_eq!(first.user_id, heidi);
    assert_eq!(first.username, "heidi");
    assert_eq!(first.expires_at, NOW + 3600);
    assert_eq!(first.scope, "openid email");
    assert_eq!(first.amr, ["pwd"]);
    assert_eq!(first.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(first.user_agent.as_deref(), Some("contract-test/1.0"));
    assert_eq!(second.client_id, "other");
    assert_eq!(second.amr, ["pwd", "otp"]);
    assert_eq!(
        (second.ip.as_deref(), second.user_agent.as_deref()),
        (None, None)
    );

    let everyone = listed(s, &SessionFilter::default(), later).await;
    assert_eq!(
        everyone,
        [
            newest.id(),
            no_refresh.id(),
            rotated.id(),
            ivans.id(),
            oldest.id()
        ],
        "judy's old-epoch and karl's disabled sessions are not listed"
    );
    assert_eq!(
        listed(s, &of_client("app"), later).await,
        [newest.id(), rotated.id(), ivans.id(), oldest.id()]
    );
    let heidi_with_other = SessionFilter {
        user_id: Some(heidi.clone()),
        client_id: Some("other".into()),
        id: None,
    };
    assert_eq!(listed(s, &heidi_with_other, later).await, [no_refresh.id()]);
    let by_id = |id: String, user: &str| SessionFilter {
        id: Some(id),
        user_id: Some(user.into()),
        client_id: None,
    };
    assert_eq!(
        listed(s, &by_id(ivans.id(), &ivan), later).await,
        [ivans.id()]
    );
    assert!(listed(s, &by_id(ivans.id(), &heidi), later)
        .await
        .is_empty());
    assert!(listed(s, &by_id(revoked.id(), &heidi), later)
        .await
        .is_empty());
    // Before they expire, the expired and idle-expired sessions were listed.
    assert_eq!(listed(s, &of_user(&heidi), NOW + 50).await.len(), 6);
}

/// Revoking sessions by filter revokes the live ones matching it, answers exactly their ids,
/// and a second call finds none; their access tokens are dead, the others' alive.
pub async fn revoking_sessions_by_filter_returns_exactly_the_ids_revoked(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    store
        .insert_client(&crate::clients::client("other", None), NOW)
        .await
        .unwrap();
    let heidi_app = [
        Login::new(&heidi).open(s).await,
        Login::new(&heidi).open(s).await,
    ];
    let heidi_other = Login::new(&heidi).client("other").open(s).await;
    let ivans = Login::new(&ivan).open(s).await;

    let filter = SessionFilter {
        user_id: Some(heidi.clone()),
        client_id: Some("app".into()),
        id: None,
    };
    let revoked = store.revoke_sessions(&filter, NOW + 1).await.unwrap();
    assert_eq!(set(revoked), set(heidi_app.iter().map(Opened::id)));
    assert!(store
        .revoke_sessions(&filter, NOW + 2)
        .await
        .unwrap()
        .is_empty());
    for session in &heidi_app {
        assert!(access_revoked(s, &session.access.id).await);
    }

    let one = SessionFilter {
        id: Some(ivans.id()),
        ..SessionFilter::default()
    };
    assert_eq!(
        store.revoke_sessions(&one, NOW + 3).await.unwrap(),
        [ivans.id()]
    );
    assert!(store
        .revoke_sessions(&one, NOW + 4)
        .await
        .unwrap()
        .is_empty());
    assert!(access_revoked(s, &ivans.access.id).await);

    assert_eq!(
        listed(s, &SessionFilter::default(), NOW + 5).await,
        [heidi_other.id()]
    );
    assert!(!access_revoked(s, &heidi_other.access.id).await);
}

/// Revoking by second factor revokes only the user's live sessions authenticated with one of
/// the factors named.
pub async fn revoking_by_authenticator_revokes_only_its_sessions(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let s = store.as_ref();
    let (otp, recovery) = crate::mfa::factors(&heidi, "h");
    assert!(store.enrol_mfa(&otp, &recovery).await.unwrap());
    let (ivans_otp, ivans_recovery) = crate::mfa::factors(&ivan, "i");
    assert!(store.enrol_mfa(&ivans_otp, &ivans_recovery).await.unwrap());
    let with = |user: &str, factor: &str| {
        let mut login = Login::new(user);
        login.amr = vec!["pwd".into(), "otp".into()];
        login.authenticator_id = Some(factor.into());
        login
    };
    let password_only = Login::new(&heidi).open(s).await;
    let by_otp = with(&heidi, &otp.id).open(s).await;
    let by_recovery = with(&heidi, &recovery.id).open(s).await;
    let ivans = with(&ivan, &ivans_otp.id).open(s).await;

    let revoke = |user: String, ids: Vec<String>| async move {
        s.revoke_sessions_by_authenticator(&user, &ids, NOW + 1)
            .await
            .unwrap()
    };
    assert_eq!(
        revoke(heidi.clone(), vec![otp.id.clone()]).await,
        [by_otp.id()]
    );
    assert_eq!(
        revoke(heidi.clone(), vec![otp.id.clone(), recovery.id.clone()]).await,
        [by_recovery.id()]
    );
    let not_hers = revoke(heidi.clone(), vec![ivans_otp.id.clone()]).await;
    assert!(not_hers.is_empty(), "{not_hers:?}");
    assert!(revoke(ivan.clone(), vec![]).await.is_empty());

    assert_eq!(
        listed(s, &of_user(&heidi), NOW + 2).await,
        [password_only.id()]
    );
    assert_eq!(listed(s, &of_user(&ivan), NOW + 2).await, [ivans.id()]);
    assert!(access_revoked(s, &by_otp.access.id).await);
    assert!(access_revoked(s, &by_recovery.access.id).await);
    assert!(!access_revoked(s, &password_only.access.id).await);
    assert!(!access_revoked(s, &ivans.access.id).await);
}

/// The access tokens of a disabled user and of a removed user read revoked, and a removed
/// user's are no longer read with a username; another user's are untouched.
pub async fn access_tokens_die_with_a_disabled_or_removed_user(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    let ivan = with_user_named(store.as_ref(), "ivan").await;
    let judy = with_user_named(store.as_ref(), "judy").await;
    let s = store.as_ref();
    let heidis = Login::new(&heidi).open(s).await;
    let ivans = Login::new(&ivan).open(s).await;
    let judys = Login::new(&judy).open(s).await;
    for session in [&heidis, &ivans, &judys] {
        assert!(!access_revoked(s, &session.access.id).await);
    }

    set_active(s, &heidi, false).await;
    assert!(access_revoked(s, &heidis.access.id).await, "user disabled");
    let (read, owner) = store
        .find_access_token_with_owner(&heidis.access.id)
        .await
        .unwrap()
        .unwrap();
    assert!(read.revoked);
    assert_eq!(owner.map(|o| o.username).as_deref(), Some("heidi"));

    let name = store
        .find_user_by_id(&ivan)
        .await
        .unwrap()
        .unwrap()
        .username;
    store.delete_user(&name).await.unwrap();
    assert!(access_revoked(s, &ivans.access.id).await, "user removed");
    let read = store.find_access_token_with_owner(&ivans.access.id).await;
    assert_eq!(read.unwrap(), None);

    assert!(!access_revoked(s, &judys.access.id).await);
}
