//! The venue on the kernel's own sockets, in the venue namespace of a veth
//! pair, and the whole scenario floe runs against it:
//!
//! - the venue's link is a port of a bridge with IGMP snooping and its own
//!   querier (a query every second, members forgotten after 3 s without a
//!   report): floe's IGMP report makes it a member in the kernel's
//!   `bridge mdb`, and it stays one only while floe answers the queries;
//! - a MoldUDP64 publisher (std `UdpSocket`, multicast with gaps,
//!   duplicates and reordering) and re-request server on 198.18.0.1:26401;
//! - a SoupBinTCP server (std `TcpListener`) on 198.18.0.1:15000 that can
//!   reset its connection, close its listener, and open it again.

use super::floe_side::FloeSide;
use super::venue::{MoldFeed, SoupVenue};
use super::watch::Watch;
use floe::config::Config;
use floe::net::LinkEvent;
use floe::nic::veth::{self, NetnsThread, TestHosts, VENUE_IP};
use floe::nic::Nic;
use floe::time::Nanos;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The feed's group.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 198, 18, 1);
/// The feed's port.
pub const GROUP_PORT: u16 = 26400;
/// The re-request server's port.
pub const REQUEST_PORT: u16 = 26401;
/// The SoupBinTCP port.
pub const SOUP_PORT: u16 = 15000;
/// Messages in the feed.
pub const MESSAGES: u64 = 600;
/// Orders sent before the venue restarts, and after.
pub const ORDERS: (u32, u32) = (20, 10);
/// The bridge forgets a member that has not reported for this long.
pub const MEMBERSHIP: Duration = Duration::from_secs(3);
/// Executions the venue reports while floe is disconnected.
pub const MISSED: u32 = 3;

fn venue_ip() -> Ipv4Addr {
    Ipv4Addr::from(VENUE_IP)
}

fn sh(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {args:?} in {ns}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Puts the venue's link behind a snooping bridge (see the module docs).
pub fn bridge_venue(hosts: &TestHosts) {
    let ns = hosts.venue_ns();
    let ns = ns.as_str();
    sh(
        ns,
        &[
            "ip",
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "1",
            "mcast_querier",
            "1",
            "mcast_query_use_ifaddr",
            "1",
            "mcast_query_interval",
            "100",
            "mcast_query_response_interval",
            "50",
            "mcast_startup_query_interval",
            "100",
            "mcast_membership_interval",
            "300",
        ],
    );
    sh(
        ns,
        &["ip", "link", "set", "br0", "address", "02:00:c6:12:00:01"],
    );
    sh(ns, &["ip", "addr", "flush", "dev", veth::VENUE_IF]);
    sh(ns, &["ip", "link", "set", veth::VENUE_IF, "master", "br0"]);
    sh(ns, &["ip", "link", "set", "br0", "up"]);
    sh(ns, &["ip", "addr", "add", "198.18.0.1/24", "dev", "br0"]);
    sh(ns, &["ip", "route", "replace", "239.0.0.0/8", "dev", "br0"]);
}

/// Whether the venue's bridge has `GROUP` as a member on the veth port.
pub fn mdb_has_group(hosts: &TestHosts) -> bool {
    sh(&hosts.venue_ns(), &["bridge", "mdb", "show"])
        .lines()
        .any(|l| l.contains(veth::VENUE_IF) && l.contains(&GROUP.to_string()))
}

/// The venue kernel's neighbour entry for floe's address, if any.
pub fn venue_neighbor_of_floe(hosts: &TestHosts) -> String {
    sh(&hosts.venue_ns(), &["ip", "neigh", "show", "198.18.0.2"])
}

enum MoldCmd {
    Go,
    Stop,
}

enum SoupCmd {
    Restart { unsolicited: Vec<u32> },
    Reopen,
    Stop,
}

/// What the publisher did.
#[derive(Debug)]
pub struct MoldReport {
    /// Re-requests answered.
    pub requests: u64,
    /// Downstream packets sent.
    pub sent: usize,
    /// Gaps in the schedule.
    pub gaps: usize,
}

/// What the order server did.
#[derive(Debug)]
pub struct SoupReport {
    /// The requested sequence number of each login.
    pub logins: Vec<u64>,
    /// Every UserRefNum received.
    pub orders: Vec<u32>,
    /// Sequenced messages stored.
    pub stored: usize,
}

fn mold_thread(cmds: Receiver<MoldCmd>) -> MoldReport {
    let end = Instant::now() + Duration::from_secs(60);
    let req = UdpSocket::bind(SocketAddrV4::new(venue_ip(), REQUEST_PORT)).unwrap();
    req.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind(SocketAddrV4::new(venue_ip(), 0)).unwrap();
    tx.set_multicast_ttl_v4(1).unwrap();
    tx.set_multicast_loop_v4(false).unwrap();
    let group = SocketAddrV4::new(GROUP, GROUP_PORT);
    let mut feed = MoldFeed::new(MESSAGES);
    let schedule = feed.schedule();
    let mut sent = 0;
    let mut buf = [0u8; 64];
    let serve = |feed: &mut MoldFeed, buf: &mut [u8]| {
        while let Ok((n, from)) = req.recv_from(buf) {
            for p in feed.answer(&buf[..n]) {
                req.send_to(&p, from).unwrap();
            }
        }
    };
    let mut going = false;
    while Instant::now() < end {
        let cmd = if going && sent < schedule.len() {
            cmds.try_recv().ok()
        } else {
            match cmds.recv_timeout(Duration::from_millis(2)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        match cmd {
            Some(MoldCmd::Go) => going = true,
            Some(MoldCmd::Stop) => break,
            None => {}
        }
        if going && sent < schedule.len() {
            tx.send_to(&schedule[sent], group).unwrap();
            sent += 1;
        }
        serve(&mut feed, &mut buf);
    }
    MoldReport {
        requests: feed.requests,
        sent,
        gaps: feed.gaps(),
    }
}

fn set_linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

fn soup_thread(cmds: Receiver<SoupCmd>) -> SoupReport {
    let end = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddrV4::new(venue_ip(), SOUP_PORT);
    let listen = || {
        let l = TcpListener::bind(addr).unwrap();
        l.set_nonblocking(true).unwrap();
        l
    };
    let mut listener = Some(listen());
    let mut conn: Option<TcpStream> = None;
    let mut venue = SoupVenue::new();
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while Instant::now() < end {
        let cmd = if conn.is_some() {
            cmds.try_recv().ok()
        } else {
            match cmds.recv_timeout(Duration::from_millis(2)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        match cmd {
            Some(SoupCmd::Restart { unsolicited }) => {
                if let Some(c) = conn.take() {
                    set_linger_zero(&c);
                }
                listener = None;
                venue.on_disconnect();
                let mut sink = Vec::new();
                for u in unsolicited {
                    venue.unsolicited_execution(u, &mut sink);
                }
                assert!(sink.is_empty(), "nobody is logged in");
            }
            Some(SoupCmd::Reopen) => listener = Some(listen()),
            Some(SoupCmd::Stop) => break,
            None => {}
        }
        if conn.is_none() {
            if let Some(l) = &listener {
                if let Ok((s, _)) = l.accept() {
                    s.set_nodelay(true).unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
                    venue.on_connect();
                    conn = Some(s);
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match c.read(&mut buf) {
            Ok(0) => {
                conn = None;
                venue.on_disconnect();
            }
            Ok(n) => {
                out.clear();
                venue.on_bytes(&buf[..n], &mut out);
                if c.write_all(&out).is_err() {
                    conn = None;
                    venue.on_disconnect();
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                conn = None;
                venue.on_disconnect();
            }
        }
    }
    SoupReport {
        logins: venue.logins.clone(),
        orders: venue.orders.clone(),
        stored: venue.stored(),
    }
}

/// The venue's threads, in its namespace.
pub struct KernelVenue {
    mold_cmd: Sender<MoldCmd>,
    soup_cmd: Sender<SoupCmd>,
    mold: NetnsThread<MoldReport>,
    soup: NetnsThread<SoupReport>,
}

impl KernelVenue {
    /// Starts the publisher and the order server in the venue namespace.
    pub fn start(hosts: &TestHosts) -> KernelVenue {
        let (mold_cmd, mold_rx) = channel();
        let (soup_cmd, soup_rx) = channel();
        let mold = veth::in_netns(&hosts.venue_ns(), move || mold_thread(mold_rx))
            .expect("enter the venue namespace");
        let soup = veth::in_netns(&hosts.venue_ns(), move || soup_thread(soup_rx))
            .expect("enter the venue namespace");
        KernelVenue {
            mold_cmd,
            soup_cmd,
            mold,
            soup,
        }
    }

    /// Stops both threads and returns their reports.
    pub fn stop(self) -> (MoldReport, SoupReport) {
        let _ = self.mold_cmd.send(MoldCmd::Stop);
        let _ = self.soup_cmd.send(SoupCmd::Stop);
        (
            self.mold.join().expect("publisher thread"),
            self.soup.join().expect("order server thread"),
        )
    }
}

/// How the scenario runs.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioOptions {
    /// Give the venue as a static neighbour (`net.neighbors`): floe must
    /// never ARP for it.
    pub static_neighbor: bool,
}

fn now_since(start: Instant) -> Nanos {
    Nanos::from(start.elapsed())
}

/// Runs floe's side against a started [`KernelVenue`] on `nic` (opened in
/// the appliance namespace by the caller); the calling thread runs floe's
/// duty cycle. Asserts everything the scenario promises.
pub fn run_against_kernel(
    hosts: &TestHosts,
    venue: KernelVenue,
    nic: Box<dyn Nic>,
    opts: ScenarioOptions,
) {
    let mut cfg: Config = super::floe_side::config();
    if opts.static_neighbor {
        cfg.net.neighbors = vec![floe::config::Neighbor {
            ip: "198.18.0.1".into(),
            mac: "02:00:c6:12:00:01".into(),
        }];
    }
    let mut nic = Watch::new(nic);
    let start = Instant::now();
    let deadline = |secs: u64| Instant::now() + Duration::from_secs(secs);

    assert!(!mdb_has_group(hosts), "no member before the join");
    let mut floe = FloeSide::new(&cfg, &mut nic, now_since(start));

    // 1. floe joins (its IGMP report makes it a member in the bridge's
    //    mdb) and connects.
    let end = deadline(15);
    let mut joined = false;
    let mut checked_at = Instant::now();
    while !(joined && floe.soup.is_logged_in()) {
        assert!(
            Instant::now() < end,
            "no login / no IGMP membership within 15 s: links {:?}, counters {:?}, reports sent {}",
            floe.links,
            floe.net.counters(),
            nic.igmp_reports
        );
        if !floe.step(now_since(start), &mut nic) {
            std::thread::yield_now();
        }
        if !joined && nic.igmp_reports > 0 && checked_at.elapsed() > Duration::from_millis(20) {
            checked_at = Instant::now();
            joined = mdb_has_group(hosts);
        }
    }
    let joined_at = Instant::now();
    assert!(floe.net.has_multicast_group(GROUP));
    let neigh = venue_neighbor_of_floe(hosts);
    assert!(
        neigh.contains("02:00:c6:12:00:02"),
        "the venue learnt floe's MAC from floe's ARP answer: {neigh:?}"
    );
    venue.mold_cmd.send(MoldCmd::Go).unwrap();

    // 2. Orders both ways.
    let (before, after) = ORDERS;
    let mut sent = 0u32;
    let end = deadline(20);
    while floe.reports.len() < 2 * before as usize {
        assert!(
            Instant::now() < end,
            "{} of {} reports after {sent} orders",
            floe.reports.len(),
            2 * before
        );
        let now = now_since(start);
        if sent < before && floe.soup.is_logged_in() {
            let segments = nic.tcp_data_segments;
            floe.send_order(now, &mut nic, sent + 1, 100 + sent)
                .expect("send an order");
            assert_eq!(
                nic.tcp_data_segments,
                segments + 1,
                "one data frame per order, at once"
            );
            sent += 1;
        }
        if !floe.step(now, &mut nic) {
            std::thread::yield_now();
        }
    }

    // 3. The venue resets the connection and closes its listener, reports
    //    executions floe cannot hear, and opens again once floe's reconnect
    //    was refused.
    venue
        .soup_cmd
        .send(SoupCmd::Restart {
            unsolicited: (1..=MISSED).collect(),
        })
        .unwrap();
    let end = deadline(15);
    while floe.net.counters().connect_failures == 0 {
        assert!(
            Instant::now() < end,
            "no refused reconnect: links {:?}, counters {:?}",
            floe.links,
            floe.net.counters()
        );
        if !floe.step(now_since(start), &mut nic) {
            std::thread::yield_now();
        }
    }
    assert_eq!(floe.links.last(), Some(&LinkEvent::Disconnected));
    venue.soup_cmd.send(SoupCmd::Reopen).unwrap();
    let end = deadline(15);
    while floe.logins.len() < 2 || floe.reports.len() < (2 * before + MISSED) as usize {
        assert!(
            Instant::now() < end,
            "no re-login with the missed reports: logins {:?}, {} reports, counters {:?}",
            floe.logins,
            floe.reports.len(),
            floe.net.counters()
        );
        if !floe.step(now_since(start), &mut nic) {
            std::thread::yield_now();
        }
    }
    let end = deadline(20);
    let mut sent = 0u32;
    let total = (2 * (before + after) + MISSED) as usize;
    while floe.reports.len() < total {
        assert!(
            Instant::now() < end,
            "{} of {total} reports",
            floe.reports.len()
        );
        let now = now_since(start);
        if sent < after && floe.soup.is_logged_in() {
            floe.send_order(now, &mut nic, before + sent + 1, 7)
                .expect("send an order");
            sent += 1;
        }
        if !floe.step(now, &mut nic) {
            std::thread::yield_now();
        }
    }

    // 4. Every feed message; the bridge's queries answered for longer than
    //    its membership interval.
    let end = deadline(20);
    while (floe.delivered.len() as u64) < MESSAGES
        || nic.igmp_reports < 2
        || joined_at.elapsed() < MEMBERSHIP + Duration::from_millis(500)
    {
        assert!(
            Instant::now() < end,
            "{} of {MESSAGES} messages delivered, {} IGMP reports sent; mold {:?}",
            floe.delivered.len(),
            nic.igmp_reports,
            floe.mold.counters()
        );
        if !floe.step(now_since(start), &mut nic) {
            std::thread::yield_now();
        }
    }
    assert!(
        mdb_has_group(hosts),
        "still a member: floe answers the queries"
    );

    let (mold, soup) = venue.stop();
    super::net_checks::check_feed(&floe, mold.gaps);
    assert!(
        mold.requests > 0 && floe.replies > 0,
        "gaps recovered by re-request: {mold:?}"
    );
    super::net_checks::check_orders(&floe, &soup.logins, &soup.orders, before, after);
    assert_eq!(soup.stored, total);
    if opts.static_neighbor {
        assert_eq!(nic.arp_requests, 0, "a static neighbour is never asked for");
    } else {
        assert!(nic.arp_requests > 0, "floe resolved the venue by ARP");
    }
    if opts.static_neighbor {
        // The venue had no entry for floe and had to ask (after an ARP
        // request from floe the kernel already has one).
        assert!(nic.arp_replies > 0, "floe answered the venue's ARP");
    }
}
