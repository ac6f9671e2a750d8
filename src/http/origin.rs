//! Where clients reach this service, for the absolute URLs some responses carry (Autocalls'
//! paginator). The `Host` header is the client's word, so it is never used: the configured
//! `public_url` wins; otherwise `X-Forwarded-Proto`/`X-Forwarded-Host` count only when the peer
//! is a configured trusted proxy; otherwise the address the connection arrived on.

use std::net::{IpAddr, SocketAddr};

use axum::http::request::Parts;
use axum::http::HeaderName;
use ipnet::IpNet;

/// The two ends of the TCP connection a request came on; the server loop adds it to every request.
#[derive(Clone, Copy, Debug)]
pub struct ConnAddrs {
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

/// Configuration for building public URLs; a request extension set by the server.
#[derive(Clone, Debug, Default)]
pub struct PublicOrigin {
    /// Scheme, host and optional path prefix, without a trailing slash.
    public_url: Option<String>,
    trusted_proxies: Vec<IpNet>,
}

impl PublicOrigin {
    /// Checks the configured values; errors name the bad one.
    pub fn new(public_url: Option<&str>, trusted_proxies: &[String]) -> Result<PublicOrigin, String> {
        let public_url = match public_url {
            None => None,
            Some(raw) => {
                let u = url::Url::parse(raw).map_err(|e| format!("public_url ({raw}): {e}"))?;
                if !matches!(u.scheme(), "http" | "https") || u.host().is_none() || u.query().is_some() || u.fragment().is_some() {
                    return Err(format!("public_url ({raw}) must be an http(s) URL without query or fragment"));
                }
                Some(u.as_str().trim_end_matches('/').to_owned())
            }
        };
        let trusted_proxies = trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {p:?} is not an IP address or CIDR block"))
            })
            .collect::<Result<_, _>>()?;
        Ok(PublicOrigin { public_url, trusted_proxies })
    }

    /// `scheme://host[/prefix]` as the client reached us.
    pub fn base(&self, parts: &Parts) -> String {
        if let Some(u) = &self.public_url {
            return u.clone();
        }
        let Some(conn) = parts.extensions.get::<ConnAddrs>() else {
            return "http://localhost".into();
        };
        if self.trusted_proxies.iter().any(|net| net.contains(&conn.peer.ip())) {
            let header = |name: &'static str| parts.headers.get(HeaderName::from_static(name)).and_then(|v| v.to_str().ok());
            // A proxy chain lists the first (client-facing) value first.
            let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_owned();
            let scheme = header("x-forwarded-proto").map(first).filter(|s| s == "https" || s == "http");
            let host = header("x-forwarded-host").map(first).filter(|h| valid_authority(h));
            if let Some(host) = host {
                return format!("{}://{host}", scheme.as_deref().unwrap_or("http"));
            }
            if let Some(scheme) = scheme {
                return format!("{scheme}://{}", conn.local);
            }
        }
        format!("http://{}", conn.local)
    }
}

/// A host[:port] with nothing that could turn it into a different URL.
fn valid_authority(h: &str) -> bool {
    !h.is_empty() && h.parse::<axum::http::uri::Authority>().is_ok_and(|a| a.as_str() == h && !h.contains('@'))
}
