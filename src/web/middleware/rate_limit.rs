//! Per-client-address limit on public POSTs (`KEYDROP_RATE_LIMIT`): a fixed
//! window per address, in memory, per process. Behind N processes the
//! effective limit is up to N times the setting; the per-drop attempt limit
//! (`max_attempts`) is the hard bound and is shared through the database.

use crate::config::RateLimit;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` to go ahead (and count it); `Err(seconds)` to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.at(ip, Instant::now())
    }

    fn at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let ip = bucket(ip);
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() >= MAX_TRACKED {
            // Sweep once; if most windows are still live, start over rather
            // than sweeping on every request (a flood of addresses must not
            // turn each check into a scan).
            let per = self.limit.per;
            windows.retain(|_, (start, _)| now.duration_since(*start) < per);
            if windows.len() > MAX_TRACKED / 2 {
                windows.clear();
            }
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.limit.per {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit.requests {
            let left = self.limit.per.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The key an address is counted under: canonical (an IPv4-mapped IPv6
/// address is its IPv4 address, so IPv4 clients of a `[::]` listener do not
/// share one bucket), and IPv6 per /64, the smallest block one subscriber
/// usually holds.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match crate::domain::net::canonical(ip) {
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            IpAddr::V6(s.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_per_address() {
        let l = RateLimiter::new(RateLimit {
            requests: 2,
            per: Duration::from_secs(60),
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_ok());
        let wait = l.check(a).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check(b).is_ok());
        let v6a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert!(l.check(v6a).is_ok());
        assert!(l.check(v6b).is_ok());
        assert!(l.check(v6a).is_err(), "one /64 shares a window");
    }

    #[test]
    fn v4_mapped_addresses_are_counted_as_ipv4() {
        let l = RateLimiter::new(RateLimit {
            requests: 1,
            per: Duration::from_secs(60),
        });
        let a: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let b: IpAddr = "::ffff:198.51.100.2".parse().unwrap();
        assert!(l.check(a).is_ok());
        assert!(l.check(b).is_ok(), "two IPv4 clients are two windows");
        assert!(l.check("198.51.100.1".parse().unwrap()).is_err());
    }
}
