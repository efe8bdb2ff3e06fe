//! The address a request comes from, for rate limits, sign-in throttling and the audit log.
//!
//! Behind a reverse proxy every connection comes from the proxy, so its `Forwarded` (RFC 7239)
//! or `X-Forwarded-For` header is believed — but only when the TCP peer is one of the configured
//! proxies, and only up to the right-most hop that is not itself a proxy: the hops to its left
//! were written by the client and prove nothing.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use dataport_core::config::ProxyList;

use crate::AppState;

/// The client's address: the TCP peer, or what trusted proxies say the client was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip());
        Ok(Self(client_address(peer, &parts.headers, &app.core.config().trusted_proxies)))
    }
}

/// Walks the forwarding chain from the peer leftwards while the hop is a trusted proxy, and
/// returns the first address that is not; a hop that is missing or unreadable stops the walk at
/// the proxy that reported it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, proxies: &ProxyList) -> IpAddr {
    let peer = peer.to_canonical();
    if proxies.is_empty() || !proxies.contains(peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        if !proxies.contains(client) {
            break;
        }
        match hop {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
    }
    client
}

/// The `for` addresses of `Forwarded`, or else of `X-Forwarded-For`, left to right (`None` for
/// an obfuscated or unreadable one). Several header lines count as one list, in order.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let forwarded: Vec<Option<IpAddr>> = values("forwarded")
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    values("x-forwarded-for").map(|hop| parse_node(hop.trim())).collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')?.split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("value"));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn only_trusted_peers_are_believed_and_only_up_to_the_first_untrusted_hop() {
        let proxies = ProxyList::parse("10.0.0.1,10.0.1.0/24").expect("proxies");
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.1.9")]);
        assert_eq!(client_address(ip("10.0.0.1"), &xff, &proxies), ip("198.51.100.7"));
        assert_eq!(client_address(ip("203.0.113.1"), &xff, &proxies), ip("203.0.113.1"), "not a proxy");
        assert_eq!(client_address(ip("10.0.0.1"), &xff, &ProxyList::default()), ip("10.0.0.1"));
        let two_lines = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.8")]);
        assert_eq!(client_address(ip("10.0.0.1"), &two_lines, &proxies), ip("198.51.100.8"));
        assert_eq!(client_address(ip("10.0.0.1"), &HeaderMap::new(), &proxies), ip("10.0.0.1"), "no header");
        let garbage = headers(&[("x-forwarded-for", "6.6.6.6, nonsense")]);
        assert_eq!(client_address(ip("10.0.0.1"), &garbage, &proxies), ip("10.0.0.1"));
        let all_proxies = headers(&[("x-forwarded-for", "10.0.1.2, 10.0.1.3")]);
        assert_eq!(client_address(ip("10.0.0.1"), &all_proxies, &proxies), ip("10.0.1.2"));
        let mapped = client_address(ip("::ffff:10.0.0.1"), &xff, &proxies);
        assert_eq!(mapped, ip("198.51.100.7"), "IPv4-mapped peers are IPv4");
    }

    #[test]
    fn forwarded_takes_precedence_and_its_forms_parse() {
        let proxies = ProxyList::parse("10.0.0.1").expect("proxies");
        let both = headers(&[
            ("forwarded", "for=6.6.6.6;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(client_address(ip("10.0.0.1"), &both, &proxies), ip("2001:db8:cafe::17"));
        let ported = headers(&[("forwarded", "For=192.0.2.43:47011")]);
        assert_eq!(client_address(ip("10.0.0.1"), &ported, &proxies), ip("192.0.2.43"));
        let hidden = headers(&[("forwarded", "for=_hidden, for=unknown")]);
        assert_eq!(client_address(ip("10.0.0.1"), &hidden, &proxies), ip("10.0.0.1"));
    }
}
