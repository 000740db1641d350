//! The tokens of the hot path: what a login records (its session, a refresh token, an access
//! token), exactly-once rotation under concurrency, revocation through the family, and what the
//! cleanup job removes (migration 0009: refresh tokens go with their family, access tokens when
//! they expire). The login fixtures ([`Login`]) are shared with `sessions.rs`.

use std::sync::Arc;

use gatehouse_core::store::{
    AccessTokenRecord, Event, EventFilter, NewLogin, Recorded, RefreshTokenRecord, SessionLimit,
    Store, TokenFamily,
};
use gatehouse_core::token::opaque;

pub const NOW: i64 = 1_700_000_000;

/// A login as a test describes it: who, with which client, when, and what it is issued.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub client_id: String,
    pub created_at: i64,
    /// The session's absolute expiry.
    pub expires_at: i64,
    pub user_epoch: i64,
    pub amr: Vec<String>,
    pub authenticator_id: Option<String>,
    /// Whether a refresh token is issued, and its idle expiry.
    pub refresh_idle_expires_at: Option<i64>,
    pub access_expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether the login carries its audit event (as the grants' logins do).
    pub event: bool,
}

/// The records of one login, with the refresh token itself.
#[derive(Debug, Clone)]
pub struct Opened {
    pub family: TokenFamily,
    pub refresh: Option<(String, RefreshTokenRecord)>,
    pub access: AccessTokenRecord,
    /// Its event, whose `user` is the session's id (so [`Opened::events`] finds it alone).
    pub event: Option<Event>,
}

impl Opened {
    /// The session's id.
    pub fn id(&self) -> String {
        self.family.id.clone()
    }

    /// The hash of its first refresh token.
    pub fn refresh_hash(&self) -> String {
        self.refresh.as_ref().unwrap().1.token_hash.clone()
    }

    /// The ids of the events stored for this login.
    pub async fn events(&self, store: &dyn Store) -> Vec<String> {
        let filter = EventFilter {
            user: Some(self.id()),
            since: None,
            limit: 10,
        };
        let events = store.list_events(&filter).await.unwrap();
        events.into_iter().map(|e| e.id).collect()
    }
}

impl Login {
    /// A password login of `user_id` with client "app" at [`NOW`], with a refresh token, of
    /// epoch 0.
    pub fn new(user_id: &str) -> Self {
        Login {
            user_id: user_id.into(),
            client_id: "app".into(),
            created_at: NOW,
            expires_at: NOW + 3600,
            user_epoch: 0,
            amr: vec!["pwd".into()],
            authenticator_id: None,
            refresh_idle_expires_at: Some(NOW + 3600),
            access_expires_at: NOW + 600,
            ip: Some("192.0.2.7".into()),
            user_agent: Some("contract-test/1.0".into()),
            event: false,
        }
    }

    /// The login carries its audit event.
    pub fn with_event(mut self) -> Self {
        self.event = true;
        self
    }

    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = client_id.into();
        self
    }

    pub fn at(mut self, created_at: i64) -> Self {
        self.created_at = created_at;
        self
    }

    /// The records this login would store.
    pub fn tokens(&self) -> Opened {
        let family = TokenFamily {
            id: gatehouse_core::random::sortable_id(),
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            auth_time: self.created_at,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: None,
            user_epoch: self.user_epoch,
            amr: self.amr.clone(),
            authenticator_id: self.authenticator_id.clone(),
            scope: "openid email".into(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        };
        let refresh = self.refresh_idle_expires_at.map(|idle| {
            let (token, mut record) = refresh(&family, None, self.created_at);
            record.idle_expires_at = idle;
            (token, record)
        });
        let mut access = access(&family, self.access_expires_at);
        access.issued_at = self.created_at;
        let event = self.event.then(|| Event {
            id: gatehouse_core::random::sortable_id(),
            at: self.created_at,
            kind: "login_success".into(),
            client_id: Some(self.client_id.clone()),
            user: Some(family.id.clone()),
            ip: self.ip.clone(),
            request_id: Some("contract-request".into()),
            detail: serde_json::json!({ "grant_type": "password", "scope": "openid email" }),
        });
        Opened {
            family,
            refresh,
            access,
            event,
        }
    }

    /// Records the login's tokens under `limit`; what became of them, and them.
    pub async fn record(
        &self,
        store: &dyn Store,
        limit: Option<SessionLimit>,
    ) -> (Recorded, Opened) {
        let opened = self.tokens();
        let login = NewLogin {
            family: &opened.family,
            refresh: opened.refresh.as_ref().map(|(_, r)| r),
            access: &opened.access,
            limit,
            now: self.created_at,
            event: opened.event.as_ref(),
        };
        (store.record_login(login).await.unwrap(), opened)
    }

    /// Records the login's tokens, which must be stored, evicting nothing.
    pub async fn open(&self, store: &dyn Store) -> Opened {
        let (recorded, opened) = self.record(store, None).await;
        assert_eq!(recorded, Recorded::Stored { evicted: vec![] });
        opened
    }
}

/// A new refresh token of `family`, issued at `created_at`, replacing `parent` if any.
pub fn refresh(
    family: &TokenFamily,
    parent: Option<&str>,
    created_at: i64,
) -> (String, RefreshTokenRecord) {
    let token = opaque::new_token();
    let record = RefreshTokenRecord {
        token_hash: opaque::hash(&token),
        family_id: family.id.clone(),
        parent_hash: parent.map(str::to_owned),
        scope: "openid email".into(),
        created_at,
        idle_expires_at: family.expires_at,
        used_at: None,
    };
    (token, record)
}

/// A new access token of `family`; its `amr` is the family's, as reads return it.
pub fn access(family: &TokenFamily, expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        id: gatehouse_core::random::sortable_id(),
        family_id: Some(family.id.clone()),
        client_id: family.client_id.clone(),
        user_id: family.user_id.clone(),
        scope: "openid email".into(),
        auth_time: family.auth_time,
        issued_at: NOW,
        expires_at,
        revoked: false,
        amr: family.amr.clone(),
    }
}

/// Rotates the refresh token `old_hash` of `family` at `now`, which must happen; the successor
/// and the access token issued with it.
pub async fn rotate(
    store: &dyn Store,
    family: &TokenFamily,
    old_hash: &str,
    now: i64,
) -> (RefreshTokenRecord, AccessTokenRecord) {
    let (_, successor) = refresh(family, Some(old_hash), now);
    let mut at = access(family, now + 600);
    at.issued_at = now;
    let rotated = store.rotate_refresh_token(old_hash, now, &successor, &at);
    assert!(rotated.await.unwrap(), "the rotation happens");
    (successor, at)
}

/// Whether the access token `id` (which must exist) reads revoked.
pub async fn access_revoked(store: &dyn Store, id: &str) -> bool {
    let found = store.find_access_token(id).await.unwrap();
    found
        .unwrap_or_else(|| panic!("access token {id} not found"))
        .revoked
}

/// Stores user `username` and, once, client "app"; the user's id.
pub async fn with_user_named(store: &dyn Store, username: &str) -> String {
    let user = crate::users::user(username);
    store.insert_user(&user).await.unwrap();
    let app = crate::clients::client("app", None);
    if store.find_client(&app.id).await.unwrap().is_none() {
        store.insert_client(&app, NOW).await.unwrap();
    }
    user.id
}

/// Records one login's tokens (a family, its first refresh token and an access token) and
/// returns them with the refresh token itself.
async fn issue(
    store: &dyn Store,
    user_id: &str,
    family_expires_at: i64,
    access_expires_at: i64,
) -> (TokenFamily, String, RefreshTokenRecord, AccessTokenRecord) {
    let mut login = Login::new(user_id);
    login.expires_at = family_expires_at;
    login.refresh_idle_expires_at = Some(family_expires_at);
    login.access_expires_at = access_expires_at;
    let opened = login.open(store).await;
    let (token, rt) = opened.refresh.unwrap();
    (opened.family, token, rt, opened.access)
}

async fn with_user(store: &dyn Store) -> String {
    with_user_named(store, "heidi").await
}

/// A login's tokens come back as recorded (its session with how and where it was made); its
/// access token reads with its user's name and its session's amr.
pub async fn issued_tokens_round_trip(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, token, rt, at) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    let (found, found_family) = store
        .find_refresh_token(&opaque::hash(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, rt);
    assert_eq!(found_family, fam);
    assert_eq!(
        store.find_access_token(&at.id).await.unwrap(),
        Some(at.clone())
    );
    let (with_name, owner) = store
        .find_access_token_with_owner(&at.id)
        .await
        .unwrap()
        .unwrap();
    let owner = owner.unwrap();
    assert_eq!((with_name, owner.username.as_str()), (at, "heidi"));
    assert_eq!(owner.attributes, Default::default());
    assert_eq!(owner.roles, Default::default());
    assert!(store.find_refresh_token("unknown").await.unwrap().is_none());
}

/// Of many concurrent rotations of one refresh token exactly one happens; a second rotation of
/// the same token afterwards is refused too.
pub async fn a_refresh_token_rotates_exactly_once(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, token, _, _) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    let old = opaque::hash(&token);
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            let (old, fam) = (old.clone(), fam.clone());
            tokio::spawn(async move {
                let (_, successor) = refresh(&fam, Some(&old), NOW + 1);
                let at = access(&fam, NOW + 600);
                store
                    .rotate_refresh_token(&old, NOW + 1, &successor, &at)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        won += usize::from(attempt.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one rotation of one token");
    let (used, _) = store.find_refresh_token(&old).await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(NOW + 1));
    let (_, again) = refresh(&fam, Some(&old), NOW + 2);
    let rotated = store
        .rotate_refresh_token(&old, NOW + 2, &again, &access(&fam, NOW + 600))
        .await
        .unwrap();
    assert!(!rotated, "a used token does not rotate again");
}

/// A revoked family revokes its access tokens (read through the family) and refuses rotation;
/// a single revoked access token leaves its siblings alone. (A token without a family is not
/// revoked with one: every login now opens a family, so such a token exists only from before
/// migration 0010, and `migrations::tokens_issued_before_0009_survive_it` checks it.)
pub async fn revoking_a_family_revokes_its_access_tokens(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, _, rt, first) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    // A sibling access token in the same family, from a rotation.
    let (successor, second) = rotate(store.as_ref(), &fam, &rt.token_hash, NOW + 1).await;

    store.revoke_access_token(&second.id).await.unwrap();
    assert!(!access_revoked(store.as_ref(), &first.id).await);
    assert!(access_revoked(store.as_ref(), &second.id).await);

    store.revoke_token_family(&fam.id, NOW + 5).await.unwrap();
    assert!(
        access_revoked(store.as_ref(), &first.id).await,
        "revoked through its family"
    );
    let (_, revoked_family) = store
        .find_refresh_token(&successor.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked_family.revoked_at, Some(NOW + 5));
    let (_, next) = refresh(&fam, Some(&successor.token_hash), NOW + 6);
    let rotated = store
        .rotate_refresh_token(
            &successor.token_hash,
            NOW + 6,
            &next,
            &access(&fam, NOW + 600),
        )
        .await
        .unwrap();
    assert!(!rotated, "a revoked family does not rotate");
    let (unused, _) = store
        .find_refresh_token(&successor.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unused.used_at, None, "a refused rotation writes nothing");
}

/// The cleanup job removes an expired family with its refresh tokens, and expired access tokens;
/// what has not expired stays.
pub async fn cleanup_removes_expired_families_and_access_tokens(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (_, old_token, _, old_at) = issue(store.as_ref(), &user, NOW + 100, NOW + 50).await;
    let (_, live_token, _, live_at) = issue(store.as_ref(), &user, NOW + 10_000, NOW + 5_000).await;

    assert!(store.delete_expired(NOW + 200, 100).await.unwrap() >= 2);
    assert!(store
        .find_refresh_token(&opaque::hash(&old_token))
        .await
        .unwrap()
        .is_none());
    assert!(store.find_access_token(&old_at.id).await.unwrap().is_none());
    assert!(store
        .find_refresh_token(&opaque::hash(&live_token))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.find_access_token(&live_at.id).await.unwrap(),
        Some(live_at)
    );
}
