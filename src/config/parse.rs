//! How setting values are read: durations, rates, and their bounds.

use std::time::Duration;

/// `None` = rate limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSetting(pub Option<RateLimit>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

/// Allowed timeouts of one request to Greenhouse (SPEC §6).
pub const GREENHOUSE_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(60));
/// Allowed total budgets of one credential check (SPEC §6).
pub const GREENHOUSE_BUDGET_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(300));

/// `value` if it lies within `range` (both ends included).
pub(crate) fn bounded(
    name: &str,
    value: Duration,
    range: (Duration, Duration),
) -> Result<Duration, String> {
    let (min, max) = range;
    if value < min || value > max {
        return Err(format!(
            "{name} must be between {}s and {}s, not {:?}",
            min.as_secs(),
            max.as_secs(),
            value
        ));
    }
    Ok(value)
}

/// `0`, `300`, `300s`, `30m`, `72h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 300s, 30m, 72h or 7d"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not a duration like 300s, 30m, 72h or 7d"))?;
    Ok(Duration::from_secs(secs))
}

/// `30/min`, `5/s`, `1000/h`, `off`.
pub fn parse_rate_limit(text: &str) -> Result<RateLimitSetting, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(RateLimitSetting(None));
    }
    let bad = || format!("{text:?} is not a rate like 30/min, 5/s or off");
    let (n, per) = t.split_once('/').ok_or_else(bad)?;
    let requests: u32 = n.trim().parse().map_err(|_| bad())?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    if requests == 0 {
        return Err(bad());
    }
    Ok(RateLimitSetting(Some(RateLimit { requests, per })))
}
