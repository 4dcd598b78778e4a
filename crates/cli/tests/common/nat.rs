//! Phones behind NATs on this machine: network namespaces, veth pairs
//! and masquerading, torn down when the test ends.
//!
//! ```text
//!  root namespace (the "internet": the server on SERVER)
//!    |  veth <tag>w0                         |  veth <tag>w1
//!  <tag>-nat0: wan PUBLIC0, MASQUERADE       <tag>-nat1: wan PUBLIC1, MASQUERADE
//!    |  lan 10.0.1.1/24                      |  lan 192.168.2.1/24
//!  <tag>-lan0: eth0 10.0.1.2 (a phone)       <tag>-lan1: eth0 192.168.2.2 (a phone)
//! ```
//!
//! The root namespace gets only the two /30 links' addresses (unique per
//! test process) and routes nothing: a NAT router knows the way to the
//! server and nowhere else, so a packet for the other site's private
//! address dies in the router, as it does on the internet. Each router
//! forwards one TCP port, [`CTRL_PORT`], to its phone: the test's line to
//! the phone's ctrl_tcp.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The phone's ctrl_tcp port, forwarded by its NAT router.
pub const CTRL_PORT: u16 = 4444;

/// One site: a phone's private network behind its NAT router.
#[derive(Debug)]
pub struct Site {
    /// The phone's namespace.
    pub lan: String,
    /// The phone's private address.
    pub phone_ip: Ipv4Addr,
    /// The router's outside address (what the server sees).
    pub public_ip: Ipv4Addr,
}

impl Site {
    /// Where the test reaches the phone's ctrl_tcp (through the router).
    pub fn ctrl(&self) -> SocketAddr {
        SocketAddr::new(self.public_ip.into(), CTRL_PORT)
    }
}

/// Two sites behind NATs and the server's address; everything is removed
/// when dropped.
#[derive(Debug)]
pub struct NatLab {
    namespaces: Vec<String>,
    root_links: Vec<String>,
    /// The server's address, in the root namespace.
    pub server_ip: Ipv4Addr,
    pub sites: Vec<Site>,
}

impl NatLab {
    /// Builds two sites; fails the test with a clear message when not
    /// root (CI runs as root).
    pub fn new() -> Self {
        assert!(
            is_root(),
            "this test builds network namespaces, veths and NAT rules: it must run as root (CI does)"
        );
        static LABS: AtomicU32 = AtomicU32::new(0);
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("hn{pid}{}", n % 10);
        // A /28 of 100.64.0.0/10 (shared address space) per lab: a /30
        // link per site.
        let block = 0x6440_0000_u32 + ((pid % 16_384) * 16 + n % 16) * 16;
        let mut lab = Self {
            namespaces: Vec::new(),
            root_links: Vec::new(),
            server_ip: Ipv4Addr::from(block + 1),
            sites: Vec::new(),
        };
        let privates = [
            (Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 1, 2)),
            (Ipv4Addr::new(192, 168, 2, 1), Ipv4Addr::new(192, 168, 2, 2)),
        ];
        for (i, (gateway, phone_ip)) in privates.into_iter().enumerate() {
            let link = block + 4 * i as u32;
            let (root_end, public_ip) = (Ipv4Addr::from(link + 1), Ipv4Addr::from(link + 2));
            let site = lab.site(&tag, i, root_end, public_ip, gateway, phone_ip);
            lab.sites.push(site);
        }
        lab
    }

    /// Site `i`: its router on the link `root_end`–`public_ip`, its phone
    /// at `phone_ip` behind `gateway`.
    fn site(
        &mut self,
        tag: &str,
        i: usize,
        root_end: Ipv4Addr,
        public_ip: Ipv4Addr,
        gateway: Ipv4Addr,
        phone_ip: Ipv4Addr,
    ) -> Site {
        let (nat, lan, root_link) = (
            format!("{tag}-nat{i}"),
            format!("{tag}-lan{i}"),
            format!("{tag}w{i}"),
        );
        for ns in [&nat, &lan] {
            ip(&format!("netns add {ns}"));
            self.namespaces.push(ns.clone());
            ip(&format!("-n {ns} link set lo up"));
        }
        ip(&format!(
            "link add {root_link} type veth peer name wan netns {nat}"
        ));
        self.root_links.push(root_link.clone());
        ip(&format!("addr add {root_end}/30 dev {root_link}"));
        ip(&format!("link set {root_link} up"));
        ip(&format!("-n {nat} addr add {public_ip}/30 dev wan"));
        ip(&format!("-n {nat} link set wan up"));
        ip(&format!(
            "-n {nat} link add lan type veth peer name eth0 netns {lan}"
        ));
        ip(&format!("-n {nat} addr add {gateway}/24 dev lan"));
        ip(&format!("-n {nat} link set lan up"));
        ip(&format!("-n {lan} addr add {phone_ip}/24 dev eth0"));
        ip(&format!("-n {lan} link set eth0 up"));
        ip(&format!("-n {lan} route add default via {gateway}"));
        if root_end != self.server_ip {
            let server = self.server_ip;
            ip(&format!("-n {nat} route add {server}/32 via {root_end}"));
        }
        ip(&format!(
            "netns exec {nat} sysctl -qw net.ipv4.ip_forward=1"
        ));
        ip(&format!(
            "netns exec {nat} iptables -t nat -A POSTROUTING -o wan -j MASQUERADE"
        ));
        ip(&format!(
            "netns exec {nat} iptables -t nat -A PREROUTING -i wan -p tcp --dport {CTRL_PORT} \
             -j DNAT --to-destination {phone_ip}:{CTRL_PORT}"
        ));
        Site {
            lan,
            phone_ip,
            public_ip,
        }
    }

    /// The server's address as an `IpAddr`.
    pub fn server(&self) -> IpAddr {
        self.server_ip.into()
    }
}

impl Drop for NatLab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veths, and their root ends.
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        for link in &self.root_links {
            let _ = Command::new("ip")
                .args(["link", "del", link])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Runs `ip` with the words of `args`; fails the test with its error.
fn ip(args: &str) {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (Debian: apt-get install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {args}: {} (iptables: Debian's iptables package)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this process runs as root (uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
            .unwrap_or(false)
    })
}
