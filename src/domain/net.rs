//! Which address a request came from (SPEC §8.11), as pure functions of the
//! TCP peer, the `X-Forwarded-For` header values and the trusted proxies.
//!
//! `X-Forwarded-For` is walked from the right: each trusted proxy appended
//! the address it received the request from, so while the current address is
//! a trusted proxy, the entry to its left is believed. The first address that
//! is not a trusted proxy is the client. An entry that does not parse stops
//! the walk at the proxy that forwarded it: nothing further left is ever
//! used, since it is whatever the client chose to send.

use std::net::IpAddr;

/// A trusted-proxy entry: one address or a CIDR range, kept canonical
/// (IPv4-mapped IPv6 ranges become IPv4 ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7` or `2001:db8::7`. Host bits
    /// set under the mask (`10.0.0.1/8`) are refused: they usually mean a typo.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let max = max_prefix(addr);
        let prefix = match prefix {
            None => max,
            Some(p) => Some(p)
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has a prefix length that is not 0…{max}"))?,
        };
        let net = match (addr, addr.to_canonical()) {
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => {
                let prefix = prefix.checked_sub(96).ok_or_else(|| {
                    format!("{text:?}: an IPv4-mapped range needs a prefix of at least /96")
                })?;
                Self { addr: v4, prefix }
            }
            _ => Self { addr, prefix },
        };
        if mask(net.addr, net.prefix) != bits(net.addr) {
            return Err(format!(
                "{text:?} has bits set after the prefix; write the range's first address"
            ));
        }
        Ok(net)
    }

    /// Whether `ip` (canonicalised first) lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == bits(self.addr)
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address's bits with everything after `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> u128 {
    let width = u32::from(max_prefix(ip));
    let keep = u32::from(prefix).min(width);
    let host = width - keep;
    let value = bits(ip);
    if host >= 128 {
        0
    } else {
        value >> host << host
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a `[::]` listener
/// sees for IPv4 clients) as the IPv4 address they are; others unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|n| n.contains(ip))
}

/// The client's address. `forwarded` holds every `X-Forwarded-For` header
/// value in the order received (a value that is not text should be passed
/// as `""`, which does not parse and so stops the walk).
pub fn resolve(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let mut current = canonical(peer);
    if !is_trusted(current, trusted) {
        return current;
    }
    let hops = forwarded.iter().rev().flat_map(|v| v.rsplit(','));
    for hop in hops {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => current = canonical(ip),
            Err(_) => return current,
        }
        if !is_trusted(current, trusted) {
            return current;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| IpNet::parse(s).unwrap()).collect()
    }

    const PROXY: &str = "10.0.0.1";

    #[test]
    fn untrusted_peer_ignores_the_header() {
        let t = nets(&[PROXY]);
        assert_eq!(
            resolve(ip("198.51.100.9"), &["6.6.6.6"], &t),
            ip("198.51.100.9")
        );
        assert_eq!(resolve(ip("198.51.100.9"), &[], &[]), ip("198.51.100.9"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        assert_eq!(resolve(ip(PROXY), &[], &nets(&[PROXY])), ip(PROXY));
    }

    #[test]
    fn spoofed_left_entries_are_ignored() {
        let t = nets(&[PROXY]);
        // The client sent `X-Forwarded-For: 6.6.6.6`; the proxy appended the real one.
        assert_eq!(
            resolve(ip(PROXY), &["6.6.6.6, 203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        // The same, with the proxy adding a second header instead of appending.
        assert_eq!(
            resolve(ip(PROXY), &["6.6.6.6", "203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        // A chain of trusted proxies is walked through.
        let t = nets(&[PROXY, "10.0.0.2"]);
        assert_eq!(
            resolve(ip(PROXY), &["6.6.6.6, 203.0.113.5, 10.0.0.2"], &t),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn unparsable_hops_stop_the_walk_at_the_proxy_that_sent_them() {
        let t = nets(&[PROXY, "10.0.0.2"]);
        for garbage in [
            "1.2.3.4:5678",
            "[2001:db8::1]",
            "[2001:db8::1]:443",
            "unknown",
            "",
            "_hidden",
        ] {
            // Without the fix, the garbage was skipped and 6.6.6.6 (chosen by the client) won.
            let header = format!("6.6.6.6, {garbage}");
            assert_eq!(resolve(ip(PROXY), &[&header], &t), ip(PROXY), "{garbage:?}");
            let header = format!("6.6.6.6, {garbage}, 10.0.0.2");
            assert_eq!(
                resolve(ip(PROXY), &[&header], &t),
                ip("10.0.0.2"),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn v4_mapped_peer_and_proxy_are_canonical() {
        let t = nets(&[PROXY]);
        // A `[::]` listener sees IPv4 clients as v4-mapped addresses.
        assert_eq!(
            resolve(ip("::ffff:198.51.100.9"), &[], &t),
            ip("198.51.100.9")
        );
        // A v4-mapped peer matches an IPv4 trusted proxy.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.1"), &["203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        // A v4-mapped trusted-proxy entry matches the IPv4 peer, and hops are canonical.
        let t = nets(&["::ffff:10.0.0.1"]);
        assert_eq!(t[0], IpNet::parse(PROXY).unwrap());
        assert_eq!(
            resolve(ip(PROXY), &["::ffff:203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        assert_eq!(
            IpNet::parse("::ffff:10.0.0.0/104").unwrap(),
            IpNet::parse("10.0.0.0/8").unwrap()
        );
    }

    #[test]
    fn cidr_ranges_match() {
        let t = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        assert_eq!(
            resolve(ip("10.20.30.40"), &["203.0.113.5, 10.1.1.1"], &t),
            ip("203.0.113.5")
        );
        assert_eq!(
            resolve(ip("2001:db8:ffff::1"), &["2001:db8::9, 2001:db9::1"], &t),
            ip("2001:db9::1")
        );
        assert_eq!(
            resolve(ip("11.0.0.1"), &["203.0.113.5"], &t),
            ip("11.0.0.1")
        );
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("2001:db8::1")));
        assert!(IpNet::parse("::/0").unwrap().contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.1/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0.0/+8",
            "proxy.internal",
            "10.0.0.1:80",
            "::ffff:10.0.0.0/8",
        ] {
            let e = IpNet::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(
            IpNet::parse(" 10.0.0.0/8 ").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            IpNet::parse("192.0.2.7").unwrap().to_string(),
            "192.0.2.7/32"
        );
    }
}
