//! Limits per client address: connection caps, checked when a TCP
//! connection is accepted and answered with an HTTP error (503 for the
//! server-wide cap, 429 per address) before any upgrade, so that one address
//! or a connection flood cannot exhaust the server; the HTTP API's request
//! rate; and which address a request comes from, behind trusted proxies.

use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The unit the per-address limits count: an IPv4 address, or an IPv6 /64
/// (one host, or one home network, usually owns a whole /64, so counting
/// single IPv6 addresses would let it pick a fresh one for every connection).
pub(crate) fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The client's address: the peer's own, unless the peer is a trusted proxy;
/// then the nearest address in `X-Forwarded-For` (or `Forwarded: for=`) that
/// is not itself a trusted proxy. Headers from anyone else are ignored, since
/// anyone can write them.
pub(crate) fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    if hops.is_empty() {
        for value in headers.get_all("forwarded") {
            let Ok(text) = value.to_str() else {
                return peer;
            };
            for element in text.split(',') {
                for pair in element.split(';') {
                    let Some((key, value)) = pair.trim().split_once('=') else {
                        continue;
                    };
                    if key.eq_ignore_ascii_case("for") {
                        let value = value.trim_matches('"');
                        // `for="[2001:db8::1]:4711"` or `for=192.0.2.60:4711`.
                        let host = value
                            .strip_prefix('[')
                            .and_then(|v| v.split_once(']').map(|(h, _)| h))
                            .unwrap_or_else(|| value.split(':').next().unwrap_or(value));
                        match host.parse::<IpAddr>() {
                            Ok(ip) => hops.push(ip),
                            Err(_) => return peer,
                        }
                    }
                }
            }
        }
    }
    // The rightmost hops were added by our own proxies; the first one that
    // is not ours is the client.
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// The HTTP API's request rate per address group (not WebSocket connections,
/// which have their own caps).
pub(crate) struct ApiRateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl ApiRateLimit {
    /// `per_second` requests, with a burst of one second's worth.
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        ApiRateLimit {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate)),
        }
    }

    /// `Err(wait)` when `ip` is over its rate.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        use governor::clock::{Clock, DefaultClock};
        self.limiter
            .check_key(&address_group(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets addresses whose budget is full again, so memory follows the
    /// recent clients rather than every client ever seen.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Counts open connections, in total and per address group.
pub(crate) struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    ServerFull,
    TooManyFromIp,
}

/// One open connection's place in the counts; released on drop. The HTTP
/// connection and, after an upgrade, the WebSocket share it.
pub(crate) struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    /// The address group counted, if any (none for a trusted proxy's connection).
    group: Option<IpAddr>,
    /// Whether this permit counts in the total.
    counted: bool,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// A permit for a new connection from `ip`, unless a cap is reached.
    /// `ip: None` (a trusted proxy, carrying many clients) counts only in
    /// the total; its clients are counted as they upgrade (`admit_client`).
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<ConnectionPermit, Refusal> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if self.total.load(Ordering::Relaxed) >= self.max_total {
            return Err(Refusal::ServerFull);
        }
        let group = ip.map(address_group);
        if let Some(group) = group {
            let count = per_ip.entry(group).or_insert(0);
            if *count >= self.max_per_ip {
                return Err(Refusal::TooManyFromIp);
            }
            *count += 1;
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionPermit {
            limits: self.clone(),
            group,
            counted: true,
        })
    }

    /// A per-address permit for a client that came through a trusted proxy
    /// (its proxy connection is already in the total).
    pub fn admit_client(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let group = address_group(ip);
        let count = per_ip.entry(group).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::TooManyFromIp);
        }
        *count += 1;
        Ok(ConnectionPermit {
            limits: self.clone(),
            group: Some(group),
            counted: false,
        })
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            let mut per_ip = self.limits.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = per_ip.get_mut(&group) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&group);
                }
            }
        }
        if self.counted {
            self.limits.total.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_permits_release_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = limits.admit(Some(a)).unwrap();
        let _p2 = limits.admit(Some(a)).unwrap();
        assert_eq!(limits.admit(Some(a)).err(), Some(Refusal::TooManyFromIp));
        let _p3 = limits.admit(Some(b)).unwrap();
        assert_eq!(limits.admit(Some(b)).err(), Some(Refusal::ServerFull));
        drop(p1);
        assert_eq!(limits.open(), 2);
        assert!(limits.admit(Some(a)).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_v4_as_v4() {
        let limits = ConnectionLimits::new(100, 2);
        let _a = limits
            .admit(Some("2001:db8:1:2::1".parse().unwrap()))
            .unwrap();
        let _b = limits
            .admit(Some("2001:db8:1:2:ffff::9".parse().unwrap()))
            .unwrap();
        assert_eq!(
            limits
                .admit(Some("2001:db8:1:2::abcd".parse().unwrap()))
                .err(),
            Some(Refusal::TooManyFromIp),
            "the same /64"
        );
        assert!(limits
            .admit(Some("2001:db8:1:3::1".parse().unwrap()))
            .is_ok());
        let _c = limits.admit(Some("192.0.2.7".parse().unwrap())).unwrap();
        let _d = limits
            .admit(Some("::ffff:192.0.2.7".parse().unwrap()))
            .unwrap();
        assert_eq!(
            limits.admit(Some("192.0.2.7".parse().unwrap())).err(),
            Some(Refusal::TooManyFromIp)
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.9.9.9")]);
        assert_eq!(
            client_address(proxy, &xff, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "the nearest address that is not one of our proxies"
        );
        assert_eq!(client_address(stranger, &xff, &trusted), stranger);
        assert_eq!(
            client_address(proxy, &xff, &[]),
            proxy,
            "trust nobody by default"
        );
        let forwarded = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(
            client_address(proxy, &forwarded, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        let garbage = headers(&[("x-forwarded-for", "not-an-address")]);
        assert_eq!(client_address(proxy, &garbage, &trusted), proxy);
    }
}
