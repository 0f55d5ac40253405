//! floe's side of the network-stack tests: a [`NetStack`] over any NIC, the
//! MoldUDP64 session on its market data and re-request socket, and the
//! SoupBinTCP client speaking OUCH 5.0 on its TCP connection — the duty
//! cycle the runtime runs, minus the engine.

use floe::config::Config;
use floe::feed::moldudp64::{MoldConfig, MoldSession};
use floe::net::{LinkEvent, NetStack, SendError};
use floe::nic::Nic;
use floe::order::event::{
    ChildTag, DialectError, OrderEvent, OrderRef, OrderRequest, OuchDialect, TimeInForce,
};
use floe::order::session::{SessionError, SoupClient, SoupConfig, SoupEvent};
use floe::order::Ouch50Dialect;
use floe::time::Nanos;
use floe::types::{Price4, Qty, Side, Symbol};

/// The test configuration: floe at 198.18.0.2 (the veth hosts' layout),
/// the venue at 198.18.0.1, one multicast group, fast reconnects.
pub fn config() -> Config {
    let mut cfg = Config::default();
    cfg.feed.groups = vec!["239.198.18.1:26400".into()];
    cfg.feed.start_sequence = 1;
    cfg.feed.request_server = Some("198.18.0.1:26401".into());
    cfg.feed.request_port = 26402;
    cfg.feed.request_timeout_ms = 100;
    cfg.order.venue = "198.18.0.1:15000".into();
    cfg.order.reconnect_ms = 50;
    cfg.order.firm = String::new();
    cfg.validate().unwrap();
    cfg
}

/// Errors of an order send.
#[derive(Debug)]
pub enum OrderError {
    /// From the session.
    Session(SessionError),
    /// From the dialect.
    Dialect(DialectError),
}

impl From<SessionError> for OrderError {
    fn from(e: SessionError) -> Self {
        OrderError::Session(e)
    }
}
impl From<floe::wire::Error> for OrderError {
    fn from(e: floe::wire::Error) -> Self {
        OrderError::Dialect(e.into())
    }
}
impl From<DialectError> for OrderError {
    fn from(e: DialectError) -> Self {
        OrderError::Dialect(e)
    }
}

/// floe's side.
pub struct FloeSide {
    /// The stack under test.
    pub net: NetStack,
    /// The feed session.
    pub mold: MoldSession,
    /// The order session.
    pub soup: SoupClient,
    dialect: Ouch50Dialect,
    buf: Vec<u8>,
    /// Market-data messages delivered by the session: (sequence, bytes).
    pub delivered: Vec<(u64, Vec<u8>)>,
    /// Market-data packets that arrived over multicast / over the request
    /// socket.
    pub mcast_packets: u64,
    /// Re-request replies received.
    pub replies: u64,
    /// Sequenced order-entry messages: (SoupBinTCP sequence, decoded).
    pub reports: Vec<(u64, OrderEvent)>,
    /// Link changes seen, in order.
    pub links: Vec<LinkEvent>,
    /// Logins accepted: the sequence number the venue started at.
    pub logins: Vec<u64>,
}

impl FloeSide {
    /// Builds floe's side for `cfg` over `nic`.
    pub fn new(cfg: &Config, nic: &mut dyn Nic, now: Nanos) -> FloeSide {
        FloeSide {
            net: NetStack::new(cfg, nic, now).expect("NetStack::new"),
            mold: MoldSession::new(MoldConfig::from_config(&cfg.feed)),
            soup: SoupClient::new(SoupConfig::from_config(&cfg.order)),
            dialect: Ouch50Dialect::new(None),
            buf: vec![0u8; 2048],
            delivered: Vec::new(),
            mcast_packets: 0,
            replies: 0,
            reports: Vec::new(),
            links: Vec::new(),
            logins: Vec::new(),
        }
    }

    /// One duty cycle; returns true if anything happened.
    pub fn step(&mut self, now: Nanos, nic: &mut dyn Nic) -> bool {
        let FloeSide {
            net,
            mold,
            soup,
            dialect,
            buf,
            delivered,
            mcast_packets,
            replies,
            reports,
            links,
            logins,
        } = self;
        let mut deliver = |seq: u64, msg: &[u8]| delivered.push((seq, msg.to_vec()));
        let rx = net.poll_rx(now, nic, 32, |_group, payload, _ts| {
            *mcast_packets += 1;
            mold.on_packet(payload, &mut deliver);
        });
        let udp = net.udp_recv(|payload, _from| {
            *replies += 1;
            mold.on_packet(payload, &mut deliver);
        });
        while let Some(n) = mold.poll_request(now, buf, &mut deliver) {
            net.udp_send(&buf[..n]).expect("queue a re-request");
        }
        while let Some(ev) = net.link_event() {
            links.push(ev);
            match ev {
                LinkEvent::Connected => {
                    let n = soup.on_connected(now, buf).unwrap();
                    net.send(now, nic, &buf[..n]).expect("send the login");
                }
                LinkEvent::Disconnected => soup.on_disconnected(),
            }
        }
        let mut framing_error = false;
        let got = net.recv_with(|data| {
            let r = soup.on_bytes(now, data, &mut |ev| match ev {
                SoupEvent::Sequenced { seq, msg } => {
                    reports.push((seq, dialect.decode(msg).expect("decodable report")));
                }
                SoupEvent::LoggedIn { sequence, .. } => logins.push(sequence),
                SoupEvent::Rejected(r) => panic!("login rejected: {r:?}"),
                _ => {}
            });
            framing_error |= r.is_err();
            data.len()
        });
        if framing_error {
            net.disconnect(now);
        }
        let out = soup.poll(now, buf);
        if out.written > 0 {
            let _ = net.send(now, nic, &buf[..out.written]);
        }
        if out.dead {
            net.disconnect(now);
        }
        let sent = net.poll(now, nic);
        rx > 0 || udp > 0 || got > 0 || sent
    }

    /// Sends one OUCH 5.0 Enter Order for `shares` with UserRefNum `order`.
    pub fn send_order(
        &mut self,
        now: Nanos,
        nic: &mut dyn Nic,
        order: u32,
        shares: u32,
    ) -> Result<usize, SendError> {
        let req = enter(order, shares);
        let FloeSide {
            net, soup, dialect, ..
        } = self;
        net.send_with(now, nic, |buf| {
            soup.send_with(now, buf, |p| {
                dialect.encode(&req, p).map_err(OrderError::from)
            })
            .unwrap_or(0)
        })
    }
}

/// The Enter Order request for UserRefNum `order`.
pub fn enter(order: u32, shares: u32) -> OrderRequest {
    OrderRequest::Enter {
        order: OrderRef(order),
        tag: ChildTag {
            parent: 7,
            child: order,
        },
        side: Side::Buy,
        qty: Qty(shares),
        symbol: Symbol::new("FLOE").unwrap(),
        price: Price4(1_234_500),
        tif: TimeInForce::Day,
    }
}
