//! The driver thread: runs the [`VenueScript`] over a [`VenueLink`], sends
//! the triggers in blocks, and waits for each trigger's child order.
//!
//! Triggers go in blocks of [`Plan::block`]: fill blocks and market-data
//! blocks alternate, so the hot loop files each kind under its own slot
//! ([`slot_of`]). With [`Plan::rate_per_sec`] the triggers of a block are
//! paced on a fixed schedule from the block's start and the round trip is
//! measured from each trigger's *scheduled* time (a late trigger counts its
//! lateness: no coordinated omission); with rate 0 the next trigger goes as
//! soon as the previous child arrived (closed loop). Every wait is bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::hot::{Phase, SLOTS, WARMUP};
use super::link::VenueLink;
use super::script::{ScriptStats, VenueScript, PEG_SYMBOLS};
use crate::config::IdleStrategy;
use crate::engine::idle::Idle;

/// Slot of fill triggers without control load.
pub const FILL: u32 = 1;
/// Slot of market-data triggers without control load.
pub const MARKET_DATA: u32 = 2;
/// Slot of fill triggers under control load.
pub const FILL_LOADED: u32 = 3;
/// Slot of market-data triggers under control load.
pub const MARKET_DATA_LOADED: u32 = 4;

/// 09:30 in ns since midnight: venue time starts there.
const OPEN_NS: u64 = 34_200 * 1_000_000_000;

/// What the driver sends.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Measured triggers.
    pub events: u64,
    /// Triggers before them, not measured.
    pub warmup: u64,
    /// Triggers per block (fill and market-data blocks alternate).
    pub block: u64,
    /// Triggers per second (0: closed loop).
    pub rate_per_sec: u64,
    /// Under control load: pairs of blocks per load phase (the load is off,
    /// then on, then off...); 0: no load phases.
    pub load_pairs: u64,
    /// How long a child may take before the run fails.
    pub child_timeout: Duration,
    /// How the driver waits when there is nothing to read.
    pub idle: IdleStrategy,
}

/// The trigger kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A fill that releases the next slice.
    Fill,
    /// A market-data message that re-prices a pegged child.
    MarketData,
}

/// The slot and kind of trigger `i` (warm-up first).
pub fn slot_of(plan: &Plan, i: u64) -> (u32, Kind) {
    let block = plan.block.max(1);
    if i < plan.warmup {
        let kind = if (i / block).is_multiple_of(2) {
            Kind::Fill
        } else {
            Kind::MarketData
        };
        return (WARMUP, kind);
    }
    let b = (i - plan.warmup) / block;
    let kind = if b.is_multiple_of(2) {
        Kind::Fill
    } else {
        Kind::MarketData
    };
    let loaded = plan.load_pairs > 0 && (b / (2 * plan.load_pairs)) % 2 == 1;
    let slot = match (kind, loaded) {
        (Kind::Fill, false) => FILL,
        (Kind::MarketData, false) => MARKET_DATA,
        (Kind::Fill, true) => FILL_LOADED,
        (Kind::MarketData, true) => MARKET_DATA_LOADED,
    };
    (slot, kind)
}

/// Progress the driver reports to the thread that runs the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The transport is up (listening): the appliance may start.
    Listening,
    /// A client logged in and the books are set up: create the parents.
    VenueReady,
    /// Every parent has a live child: measuring starts.
    Measuring,
    /// The last trigger's child arrived: stop the appliance (the venue
    /// stays up until it has).
    Done,
}

/// What the driver measured.
pub struct DriverReport {
    /// Round trip per slot, ns: from the trigger (its scheduled time when
    /// paced) to its child order read by the driver.
    pub round_trip: Vec<Histogram<u64>>,
    /// Triggers sent per slot.
    pub events: [u64; SLOTS],
    /// Paced triggers sent more than one interval behind schedule.
    pub behind_schedule: u64,
    /// The measured part's duration.
    pub elapsed: Duration,
    /// The venue's counters.
    pub script: ScriptStats,
}

fn venue_ns(origin: Instant) -> u64 {
    OPEN_NS + origin.elapsed().as_nanos() as u64
}

/// How close to a paced trigger's scheduled time the driver stops yielding.
const PACE_SPIN: Duration = Duration::from_micros(20);

/// Pumps `link` until `done(script)` or `limit` passes.
#[allow(clippy::too_many_arguments)]
fn pump_until<L: VenueLink + ?Sized>(
    link: &mut L,
    phase: &Phase,
    script: &mut VenueScript,
    origin: Instant,
    idle: &mut Idle,
    limit: Duration,
    what: &str,
    done: impl Fn(&VenueScript) -> bool,
) -> Result<(), String> {
    let until = Instant::now() + limit;
    while !done(script) {
        let moved = link
            .pump(venue_ns(origin), script)
            .map_err(|e| format!("venue transport: {e}"))?;
        if moved {
            idle.reset();
        } else {
            if Instant::now() > until {
                return Err(format!("{what}: nothing within {limit:?}"));
            }
            if phase.stopped() {
                return Err(format!("{what}: the appliance stopped"));
            }
            idle.idle(Duration::ZERO);
        }
    }
    Ok(())
}

/// Runs the whole script: waits for the appliance, sets up the books,
/// waits for every parent's first child, then sends the triggers of
/// `plan`. `progress` hears each stage; `load` is switched on for the
/// loaded slots.
pub fn drive<L: VenueLink + ?Sized>(
    link: &mut L,
    phase: &Phase,
    plan: &Plan,
    progress: &Sender<Progress>,
    load: Option<&AtomicBool>,
) -> Result<DriverReport, String> {
    let origin = Instant::now();
    let mut script = VenueScript::new();
    // The venue is the harness, not floe: it yields soon after running out
    // of work, leaving its core to the control plane and the load
    // generator that share it.
    let mut idle = Idle::new(plan.idle, Duration::ZERO);
    let _ = progress.send(Progress::Listening);
    pump_until(
        link,
        phase,
        &mut script,
        origin,
        &mut idle,
        Duration::from_secs(30),
        "waiting for the appliance to log in",
        |s| s.ready(),
    )?;
    let mut buf = [0u8; 1500];
    let n = script
        .setup(venue_ns(origin), &mut buf)
        .map_err(|e| e.to_string())?;
    link.send_md(&buf[..n])
        .map_err(|e| format!("market data: {e}"))?;
    let _ = progress.send(Progress::VenueReady);
    pump_until(
        link,
        phase,
        &mut script,
        origin,
        &mut idle,
        Duration::from_secs(30),
        "waiting for every parent's first child",
        |s| s.all_children_live(),
    )?;
    // The last Accepted out before the first trigger.
    for _ in 0..64 {
        link.pump(venue_ns(origin), &mut script)
            .map_err(|e| format!("venue transport: {e}"))?;
    }
    let _ = progress.send(Progress::Measuring);

    let mut round_trip: Vec<Histogram<u64>> = (0..SLOTS)
        .map(|_| Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"))
        .collect();
    let mut events = [0u64; SLOTS];
    let mut behind = 0u64;
    let interval =
        Duration::from_nanos(1_000_000_000u64.checked_div(plan.rate_per_sec).unwrap_or(0));
    let total = plan.warmup + plan.events;
    let block = plan.block.max(1);
    let mut current = u32::MAX;
    let mut base = Instant::now();
    let mut in_block = 0u32;
    let mut md_k = 0usize;
    let mut measured_from = Instant::now();
    for i in 0..total {
        let (slot, kind) = slot_of(plan, i);
        let starts_block = if i < plan.warmup {
            i.is_multiple_of(block)
        } else {
            (i - plan.warmup).is_multiple_of(block)
        };
        if slot != current {
            if let Some(l) = load {
                l.store(
                    slot == FILL_LOADED || slot == MARKET_DATA_LOADED,
                    Ordering::Release,
                );
            }
            if !phase.set_slot(slot, Duration::from_secs(10)) {
                return Err("the hot thread did not acknowledge a new block".into());
            }
            if current == WARMUP || current == u32::MAX {
                measured_from = Instant::now();
            }
            current = slot;
        }
        if starts_block {
            base = Instant::now();
            in_block = 0;
        }
        let t0 = if interval.is_zero() {
            Instant::now()
        } else {
            let sched = base + interval * in_block;
            loop {
                let now = Instant::now();
                if now >= sched {
                    if now.duration_since(sched) > interval {
                        behind += 1;
                    }
                    break;
                }
                let moved = link
                    .pump(venue_ns(origin), &mut script)
                    .map_err(|e| format!("venue transport: {e}"))?;
                // Far from the scheduled time an idle driver yields its core
                // (the control plane and the load generator share it);
                // close to it, it spins so the trigger leaves on time.
                if moved {
                    idle.reset();
                } else if sched - now > PACE_SPIN {
                    idle.idle(Duration::ZERO);
                } else {
                    core::hint::spin_loop();
                }
            }
            sched
        };
        in_block += 1;
        let idx = match kind {
            Kind::Fill => 0,
            Kind::MarketData => 1 + md_k % PEG_SYMBOLS.len(),
        };
        let before = script.arrivals()[idx];
        match kind {
            Kind::Fill => {
                script
                    .fill(venue_ns(origin))
                    .map_err(|e| format!("trigger {i}: {e}"))?;
                link.pump(venue_ns(origin), &mut script)
                    .map_err(|e| format!("venue transport: {e}"))?;
            }
            Kind::MarketData => {
                let n = script
                    .market_data(venue_ns(origin), md_k, &mut buf)
                    .map_err(|e| format!("trigger {i}: {e}"))?;
                md_k += 1;
                link.send_md(&buf[..n])
                    .map_err(|e| format!("market data: {e}"))?;
            }
        }
        let until = Instant::now() + plan.child_timeout;
        loop {
            let moved = link
                .pump(venue_ns(origin), &mut script)
                .map_err(|e| format!("venue transport: {e}"))?;
            if script.arrivals()[idx] > before {
                break;
            }
            if moved {
                idle.reset();
            } else {
                if Instant::now() > until || phase.stopped() {
                    return Err(format!(
                        "trigger {i} ({kind:?}): no child order within {:?}",
                        plan.child_timeout
                    ));
                }
                idle.idle(Duration::ZERO);
            }
        }
        let rtt = t0.elapsed().as_nanos() as u64;
        if let Some(h) = round_trip.get_mut(slot as usize) {
            let _ = h.record(rtt.max(1));
        }
        events[slot as usize] += 1;
    }
    let elapsed = measured_from.elapsed();
    if let Some(l) = load {
        l.store(false, Ordering::Release);
    }
    // Answer the last child, and stay up while the appliance logs out.
    let _ = progress.send(Progress::Done);
    let until = Instant::now() + Duration::from_secs(10);
    while !phase.stopped() && Instant::now() < until {
        if !link.pump(venue_ns(origin), &mut script).unwrap_or(false) {
            idle.idle(Duration::ZERO);
        }
    }
    let linger = Instant::now() + Duration::from_millis(300);
    while Instant::now() < linger && link.connected() {
        if !link.pump(venue_ns(origin), &mut script).unwrap_or(false) {
            idle.idle(Duration::ZERO);
        }
    }
    Ok(DriverReport {
        round_trip,
        events,
        behind_schedule: behind,
        elapsed,
        script: script.stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_alternate_and_load_phases_follow_warmup() {
        let plan = Plan {
            events: 16,
            warmup: 3,
            block: 2,
            rate_per_sec: 0,
            load_pairs: 1,
            child_timeout: Duration::from_secs(1),
            idle: IdleStrategy::SpinYield,
        };
        let slots: Vec<u32> = (0..19).map(|i| slot_of(&plan, i).0).collect();
        assert_eq!(
            slots,
            [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 3, 4, 4]
        );
        assert_eq!(slot_of(&plan, 2).1, Kind::MarketData);
    }
}
