//! Client sockets from many loopback source addresses, and process metrics from /proc.
//!
//! One source address has about 28,000 ephemeral ports; spreading clients over
//! `127.0.x.y` keeps a run far from that limit and from TIME_WAIT collisions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::{TcpSocket, TcpStream};

/// Round-robin over `127.0.x.y` (x in 1..=250, y in 1..=250).
#[derive(Debug, Default)]
pub struct Sources {
    next: AtomicU32,
}

impl Sources {
    /// A fresh rotation.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `n`-th source address.
    pub fn nth(n: u32) -> IpAddr {
        let n = n % (250 * 250);
        IpAddr::V4(Ipv4Addr::new(127, 0, (n / 250 + 1) as u8, (n % 250 + 1) as u8))
    }

    /// The next source address.
    pub fn next(&self) -> IpAddr {
        Self::nth(self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// Connects to `dst` from `src` (port chosen by the kernel), with Nagle off.
pub async fn connect_from(src: IpAddr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src, 0))?;
    let stream = socket.connect(dst).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Resident set size of a process, in KiB (`VmRSS`), summed over `pids`.
pub fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// CPU time (user + system) of processes in clock ticks, summed over `pids`.
pub fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| {
            // Fields after the command name (which may contain spaces) are space-separated.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_in_loopback_and_skip_127_0_0_x() {
        assert_eq!(Sources::nth(0), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)));
        assert_eq!(Sources::nth(251), IpAddr::V4(Ipv4Addr::new(127, 0, 2, 2)));
        assert_eq!(Sources::nth(250 * 250), Sources::nth(0));
    }

    #[test]
    fn own_process_metrics_are_readable() {
        let me = std::process::id();
        assert!(rss_kib(&[me]) > 0);
        let _ = cpu_ticks(&[me]);
    }
}
