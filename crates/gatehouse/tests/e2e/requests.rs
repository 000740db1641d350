//! The HTTP requests a test sends to a [`TestServer`]: raw form, body and GET requests, and typed
//! OAuth calls: the password grant (RFC 6749 §4.3), the refresh_token grant (§6),
//! introspection (RFC 7662), revocation (RFC 7009) and UserInfo (OpenID Connect Core §5.3).
//! The `…_ok`/`login` forms assert success and return the JSON body.

use serde_json::Value;

use crate::reply::reply;
use crate::server::TestServer;

impl TestServer {
    /// A form POST with optional Basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.unwrap()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let resp = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// A GET with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// A GET with `Authorization: Bearer token` (RFC 6750 §2.1).
    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        let req = self.http.get(self.url(path)).bearer_auth(token);
        req.send().await.unwrap()
    }

    /// `GET /userinfo` with the access token as a Bearer header (OpenID Connect Core §5.3).
    pub async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.get_bearer("/userinfo", access_token).await
    }

    /// A raw POST: exact body and headers.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// The password grant at `/oauth/token` with Basic client authentication.
    pub async fn password_grant(
        &self,
        client: (&str, &str),
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let form = [
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        self.token_request(client, &form, scope).await
    }

    /// A refresh_token grant with Basic client authentication, built but not sent (for
    /// requests fired together).
    pub fn refresh_request(
        &self,
        client: (&str, &str),
        refresh_token: &str,
    ) -> reqwest::RequestBuilder {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let req = self.http.post(self.url("/oauth/token"));
        req.basic_auth(client.0, Some(client.1)).form(&form)
    }

    /// The refresh_token grant at `/oauth/token` with Basic client authentication.
    pub async fn refresh(
        &self,
        client: (&str, &str),
        refresh_token: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_request(client, &form, scope).await
    }

    /// A grant at `/oauth/token` with Basic client authentication: `form` plus the optional
    /// `scope` (RFC 6749 §3.3).
    async fn token_request(
        &self,
        client: (&str, &str),
        form: &[(&str, &str)],
        scope: Option<&str>,
    ) -> reqwest::Response {
        let form = with_optional(form, "scope", scope);
        self.post_form("/oauth/token", Some(client), &form).await
    }

    /// RFC 7662 introspection with Basic client authentication; returns the JSON body after
    /// asserting 200.
    pub async fn introspect(&self, client: (&str, &str), token: &str) -> Value {
        let resp = self
            .post_form("/oauth/introspect", Some(client), &[("token", token)])
            .await;
        reply(resp).await.ok()
    }

    /// RFC 7009 revocation with Basic client authentication; asserts 200.
    pub async fn revoke(&self, client: (&str, &str), token: &str, hint: Option<&str>) {
        let form = with_optional(&[("token", token)], "token_type_hint", hint);
        let resp = self.post_form("/oauth/revoke", Some(client), &form).await;
        assert_eq!(
            resp.status().as_u16(),
            200,
            "{}",
            resp.text().await.unwrap()
        );
    }

    /// A password grant that must succeed; returns the token response.
    pub async fn login(
        &self,
        client: (&str, &str),
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Value {
        let resp = self.password_grant(client, username, password, scope).await;
        reply(resp).await.ok()
    }

    /// A refresh_token grant that must succeed; returns the token response.
    pub async fn refresh_ok(
        &self,
        client: (&str, &str),
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Value {
        reply(self.refresh(client, refresh_token, scope).await)
            .await
            .ok()
    }
}

/// `form` followed by `(name, value)` when an optional parameter's `value` is given.
fn with_optional<'a>(
    form: &[(&'a str, &'a str)],
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    form.iter()
        .copied()
        .chain(value.map(|v| (name, v)))
        .collect()
}
