//! Setting values that take some reading: addresses (with host names resolved), networks,
//! and lists given in the file as one string or several.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde::Deserialize;

/// A list setting given in the file as one string or as a list: `listen = "0.0.0.0:6667"`
/// and `listen = ["0.0.0.0:6667", "[::]:6667"]` both work.
pub(super) fn one_or_many<'de, D>(de: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match OneOrMany::deserialize(de)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    }))
}

/// The socket addresses of `--<flag>` values: `none` (or empty) is skipped, an IP address
/// with a port is taken as it is, and a host name is resolved, binding every address it
/// resolves to (`localhost:6670` gives 127.0.0.1 and ::1 where both exist).
pub(super) fn resolve_addrs(flag: &str, values: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for s in values {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") || s.is_empty() {
            continue;
        }
        let found: Vec<SocketAddr> = match s.parse::<SocketAddr>() {
            Ok(addr) => vec![addr],
            Err(_) => {
                if s.rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    bail!(
                        "{flag} address `{s}` is not HOST:PORT (for example 127.0.0.1:6667 or localhost:6667)"
                    );
                }
                std::net::ToSocketAddrs::to_socket_addrs(s)
                    .with_context(|| format!("{flag} address `{s}`: cannot resolve the host name"))?
                    .collect()
            }
        };
        if found.is_empty() {
            bail!("{flag} address `{s}`: the host name resolves to no address");
        }
        for addr in found {
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    Ok(out)
}

/// Networks given to `--<flag>` (`--limit-exempt`, `--trusted-proxy`); `none` is skipped.
pub(super) fn networks(
    flag: &str,
    values: Vec<String>,
) -> anyhow::Result<Vec<crate::limits::Cidr>> {
    let mut out = Vec::new();
    for v in values.iter().map(|v| v.trim()) {
        if v.eq_ignore_ascii_case("none") || v.is_empty() {
            continue;
        }
        out.push(crate::limits::Cidr::parse(v).map_err(|e| anyhow::anyhow!("{flag} {e}"))?);
    }
    Ok(out)
}
