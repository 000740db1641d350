//! When a failed delivery is tried again: the Standard Webhooks example schedule (immediately,
//! then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the previous attempt,
//! about three days in all), each delay stretched by up to a tenth at random so that
//! endpoints that failed together are not all retried in the same instant, and never sooner
//! than a `Retry-After` the receiver asked for (capped at a day).

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// The delays after a failed attempt, in seconds: the specification's example.
const STANDARD: [u64; 9] = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];
/// The longest wait a `Retry-After` can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// The delays between attempts; one attempt more than delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            delays: STANDARD.iter().map(|s| Duration::from_secs(*s)).collect(),
        }
    }
}

impl RetrySchedule {
    /// Reads a comma-separated list of delays such as `5s,5m,30m,2h` (units `ms`, `s`, `m`,
    /// `h`, `d`), at most 20 of them; an empty list tries once.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |what: &str| Error::invalid_request(format!("webhook retry schedule: {what}"));
        let mut delays = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let digits = item.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &item[digits.len()..];
            let n: u64 = digits
                .parse()
                .map_err(|_| bad("each delay is a number and a unit (ms, s, m, h, d)"))?;
            let millis = match unit {
                "ms" => n,
                "s" => n.saturating_mul(1000),
                "m" => n.saturating_mul(60_000),
                "h" => n.saturating_mul(3_600_000),
                "d" => n.saturating_mul(86_400_000),
                _ => return Err(bad("units are ms, s, m, h and d")),
            };
            if millis > 7 * 86_400_000 {
                return Err(bad("a delay is at most 7 days"));
            }
            delays.push(Duration::from_millis(millis));
        }
        if delays.len() > 20 {
            return Err(bad("at most 20 retries"));
        }
        Ok(RetrySchedule { delays })
    }

    /// How many attempts a delivery gets.
    pub fn attempts(&self) -> i64 {
        i64::try_from(self.delays.len())
            .unwrap_or(i64::MAX)
            .saturating_add(1)
    }

    /// When to try again after attempt number `made` (1 for the first) failed at `now_ms`:
    /// `None` when that was the last.
    pub fn next_attempt(
        &self,
        made: i64,
        now_ms: i64,
        retry_after: Option<Duration>,
    ) -> Option<i64> {
        let index = usize::try_from(made.checked_sub(1)?).ok()?;
        let base = *self.delays.get(index)?;
        let jitter = rand::thread_rng().gen_range(0.0..0.1);
        let mut wait = base.mul_f64(1.0 + jitter);
        if let Some(asked) = retry_after {
            wait = wait.max(asked.min(MAX_RETRY_AFTER));
        }
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        Some(now_ms.saturating_add(wait_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_standard_schedule_with_bounded_jitter() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 10);
        for (made, secs) in STANDARD.iter().enumerate() {
            let at = schedule.next_attempt(made as i64 + 1, 0, None).unwrap();
            let base = *secs as i64 * 1000;
            assert!(at >= base && at <= base + base / 10, "{at} vs {base}");
        }
        assert_eq!(schedule.next_attempt(10, 0, None), None);
        assert_eq!(schedule.next_attempt(0, 0, None), None);
    }

    #[test]
    fn honours_retry_after_up_to_a_day() {
        let schedule = RetrySchedule::default();
        let at = schedule
            .next_attempt(1, 0, Some(Duration::from_secs(60)))
            .unwrap();
        assert!(at >= 60_000);
        let at = schedule
            .next_attempt(1, 0, Some(Duration::from_secs(10 * 86_400)))
            .unwrap();
        assert!(at <= 86_400_000 + 1);
    }

    #[test]
    fn parses_delays_with_units() {
        let schedule = RetrySchedule::parse("500ms, 2s,1m").unwrap();
        assert_eq!(schedule.attempts(), 4);
        assert!(schedule.next_attempt(3, 0, None).unwrap() >= 60_000);
        assert_eq!(RetrySchedule::parse("").unwrap().attempts(), 1);
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("8d").is_err());
        assert!(RetrySchedule::parse("s").is_err());
    }
}
