//! `chat-server healthcheck`: the container's HEALTHCHECK, from inside the image (which
//! has no curl): succeeds when the local server's readiness probe answers 200.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};

/// Where to probe a server that listens on `bind`: a wildcard address (`0.0.0.0`, `::`)
/// is not a destination, so its loopback counterpart is probed instead.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// `GET /readyz` on the server listening on `bind`; `Ok` only on a 200 within `timeout`.
pub async fn check(bind: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", probe_address(bind));
    let client = reqwest::Client::builder().timeout(timeout).build().context("cannot build the HTTP client")?;
    let response = client.get(&url).send().await.with_context(|| format!("{url} does not answer"))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        bail!("{url} answered {status}: not ready");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::probe_address;

    #[test]
    fn a_wildcard_bind_is_probed_on_loopback() {
        let probe = |bind: &str| probe_address(bind.parse().expect("an address")).to_string();
        assert_eq!(probe("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe("[::]:8080"), "[::1]:8080");
        assert_eq!(probe("10.1.2.3:9000"), "10.1.2.3:9000");
    }
}
