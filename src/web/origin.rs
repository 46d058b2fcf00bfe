//! Who a WebSocket client is: its Origin, checked so another site's page cannot open a
//! chat session in a visitor's browser, and its real address behind a trusted reverse
//! proxy (`X-Forwarded-For`, `X-Real-IP`), believed only from configured proxy addresses.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::limits::Cidr;

/// Checks the request's Origin against `allowed` (`--web-origin`). Allowed: no Origin
/// (not a browser: websocat, bots), the page's own origin (the Origin's host and port are
/// the request's Host), an origin listed exactly (`https://chat.example.org`), or any with
/// `*`. Returns the refused origin otherwise.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(&origin))
    {
        return Ok(());
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (authority, host) {
        (Some(a), Some(h)) if same_authority(a, h) => Ok(()),
        _ => Err(origin),
    }
}

/// Whether two `host[:port]` are the same, ignoring case and a default port on one side
/// only (an HTTPS proxy's Origin has none, its Host header may have `:443`).
fn same_authority(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        let s = s.trim_end_matches('/').to_ascii_lowercase();
        s.strip_suffix(":443")
            .or_else(|| s.strip_suffix(":80"))
            .map(str::to_string)
            .unwrap_or(s)
    };
    strip(a) == strip(b)
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy that says whom
/// it forwards for. The rightmost `X-Forwarded-For` entry that is not itself a trusted
/// proxy is taken (entries left of it could be made up by the client), else `X-Real-IP`.
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[Cidr]) -> SocketAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer.ip()) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    let from_header = forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(**ip))
        .or(forwarded.first())
        .copied()
        .or_else(|| {
            headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        });
    match from_header {
        Some(ip) => SocketAddr::new(ip.to_canonical(), 0),
        None => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins_same_listed_any_or_absent_pass_others_are_refused() {
        let none: Vec<String> = Vec::new();
        assert!(check_origin(&headers(&[]), &none).is_ok());
        let same = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&same, &none).is_ok());
        let proxied = headers(&[
            ("origin", "https://chat.example.org"),
            ("host", "chat.example.org:443"),
        ]);
        assert!(check_origin(&proxied, &none).is_ok());
        let foreign = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(
            check_origin(&foreign, &none).unwrap_err(),
            "https://evil.example"
        );
        assert!(check_origin(&foreign, &["https://EVIL.example".to_string()]).is_ok());
        assert!(check_origin(&foreign, &["*".to_string()]).is_ok());
        let other_port = headers(&[
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&other_port, &none).is_err());
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = vec![Cidr::parse("10.0.0.0/8").unwrap()];
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        let proxy: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        assert_eq!(
            client_addr(proxy, &h, &trusted).ip(),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let stranger: SocketAddr = "198.51.100.1:4000".parse().unwrap();
        assert_eq!(client_addr(stranger, &h, &trusted), stranger);
        let real = headers(&[("x-real-ip", "203.0.113.9")]);
        assert_eq!(
            client_addr(proxy, &real, &trusted).ip(),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(proxy, &headers(&[]), &trusted), proxy);
    }
}
