//! What a delivery carries: the event as a Standard Webhooks payload (`type`, `timestamp`,
//! `data`), with the event's id as the message id, so that every attempt, every replay and
//! every instance sends the same `webhook-id` for the same event.

use serde_json::json;

use crate::store::Event;

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `webhook-id`: `msg_` and the event id (hex, so no `.`).
    pub id: String,
    /// The JSON body.
    pub body: String,
}

impl Message {
    /// The message for `event`.
    pub fn of(event: &Event) -> Self {
        let body = json!({
            "type": event.kind,
            "timestamp": rfc3339(event.at),
            "data": {
                "id": event.id,
                "client_id": event.client_id,
                "user": event.user,
                "ip": event.ip,
                "request_id": event.request_id,
                "detail": event.detail,
            },
        });
        Message {
            id: format!("msg_{}", event.id),
            body: body.to_string(),
        }
    }

    /// A test message (`webhook.test`), sent only by `webhook test`, never stored.
    pub fn test(now: i64) -> Self {
        let id = crate::random::id();
        let body = json!({
            "type": "webhook.test",
            "timestamp": rfc3339(now),
            "data": { "id": id },
        });
        Message {
            id: format!("msg_test_{id}"),
            body: body.to_string(),
        }
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_386_332), "2026-12-04T12:12:12Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn a_message_keeps_the_event_id() {
        let event = Event {
            id: "0190abc".into(),
            at: 0,
            kind: "lockout".into(),
            client_id: None,
            user: Some("alice".into()),
            ip: None,
            request_id: None,
            detail: json!({"until": 5}),
        };
        let message = Message::of(&event);
        assert_eq!(message.id, "msg_0190abc");
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body["type"], "lockout");
        assert_eq!(body["data"]["user"], "alice");
        assert_eq!(body["data"]["detail"]["until"], 5);
    }
}
