//! `floe::book::Book` against the reference model in `tests/common/model.rs`
//! over random operation streams, valid and invalid: after every step the
//! outcome (including the exact error) and the whole observable state must
//! agree.

mod common;

use common::model::ModelBook;
use floe::book::{Book, BookError, BookMut, BookRef, Books};
use floe::types::Symbol;
use floe::types::{Level, Price4, Qty, Side};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Add(u64, Side, u32, u32),
    Execute(u64, u32),
    Cancel(u64, u32),
    Delete(u64),
    Replace(u64, u64, u32, u32),
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// Prices cluster around a mid so that levels are shared; a few are extreme
/// or out of range.
fn price() -> impl Strategy<Value = u32> {
    prop_oneof![
        20 => 1_000u32..1_016,
        1 => Just(0u32),
        1 => Just(Price4::MAX.0),
        1 => Just(Price4::MAX.0 + 1),
        1 => any::<u32>(),
    ]
}

/// Quantities: mostly small, sometimes zero, sometimes near `u32::MAX` so
/// that level totals overflow.
fn qty() -> impl Strategy<Value = u32> {
    prop_oneof![
        20 => 1u32..300,
        2 => Just(0u32),
        1 => (u32::MAX - 5)..=u32::MAX,
        1 => any::<u32>(),
    ]
}

/// References from a small space, so that unknown references and duplicates
/// are frequent; sometimes a wild one.
fn order_ref() -> impl Strategy<Value = u64> {
    prop_oneof![
        10 => 0u64..48,
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (order_ref(), side(), qty(), price()).prop_map(|(r, s, q, p)| Op::Add(r, s, q, p)),
        3 => (order_ref(), qty()).prop_map(|(r, q)| Op::Execute(r, q)),
        2 => (order_ref(), qty()).prop_map(|(r, q)| Op::Cancel(r, q)),
        2 => order_ref().prop_map(Op::Delete),
        3 => (order_ref(), order_ref(), qty(), price()).prop_map(|(a, b, q, p)| Op::Replace(a, b, q, p)),
    ]
}

/// Applies `op` to both and asserts the same outcome.
fn step(book: &mut Book, model: &mut ModelBook, op: &Op) -> Result<(), BookError> {
    match *op {
        Op::Add(r, s, q, p) => {
            let got = book.add(r, s, Qty(q), Price4(p));
            assert_eq!(got, model.add(r, s, q, p), "{op:?}");
            got
        }
        Op::Execute(r, q) => {
            let got = book.execute(r, Qty(q));
            let want = model.execute(r, q);
            assert_eq!(got.map(|o| o.qty.0), want, "{op:?}");
            got.map(|_| ())
        }
        Op::Cancel(r, q) => {
            let got = book.cancel(r, Qty(q));
            let want = model.cancel(r, q);
            assert_eq!(got.map(|o| o.qty.0), want, "{op:?}");
            got.map(|_| ())
        }
        Op::Delete(r) => {
            let got = book.delete(r);
            let want = model.delete(r);
            assert_eq!(
                got.map(|o| (o.side, o.price.0, o.qty.0)),
                want.map(|o| (o.side, o.price, o.qty)),
                "{op:?}"
            );
            got.map(|_| ())
        }
        Op::Replace(a, b, q, p) => {
            let got = book.replace(a, b, Qty(q), Price4(p));
            let want = model.replace(a, b, q, p);
            assert_eq!(
                got.map(|o| (o.side, o.price.0, o.qty.0)),
                want.map(|o| (o.side, o.price, o.qty)),
                "{op:?}"
            );
            got.map(|_| ())
        }
    }
}

/// The whole observable state must agree.
fn check_state(book: &Book, model: &ModelBook, refs: &[u64]) {
    assert_eq!(book.best_bid(), model.best_bid(), "best bid");
    assert_eq!(book.best_ask(), model.best_ask(), "best ask");
    assert_eq!(book.order_count(), model.orders.len(), "order count");
    for s in [Side::Buy, Side::Sell] {
        let want = model.depth(s);
        assert_eq!(book.level_count(s), want.len(), "{s:?} level count");
        assert_eq!(book.levels(s).collect::<Vec<_>>(), want, "{s:?} levels");
        // Partial depth into a short buffer, and a longer one.
        for n in [0usize, 1, 3, want.len() + 2] {
            let mut out = vec![Level::default(); n];
            let k = book.depth(s, &mut out);
            assert_eq!(k, n.min(want.len()));
            assert_eq!(&out[..k], &want[..k], "{s:?} depth {n}");
        }
        for (&p, &q) in model.side(s) {
            assert_eq!(book.qty_at(s, Price4(p)).0 as u64, q, "{s:?} qty at {p}");
        }
        // Absent prices read zero.
        for p in [0u32, 999, 1_016, Price4::MAX.0, u32::MAX] {
            let want = model.side(s).get(&p).copied().unwrap_or(0);
            assert_eq!(book.qty_at(s, Price4(p)).0 as u64, want, "{s:?} qty at {p}");
        }
    }
    for r in refs {
        let want = model.orders.get(r).map(|o| (o.side, o.price, o.qty));
        let got = book.order(*r).map(|o| (o.side, o.price.0, o.qty.0));
        assert_eq!(got, want, "order {r}");
    }
    let mut all: Vec<_> = book
        .orders()
        .map(|(r, o)| (r, o.side, o.price.0, o.qty.0))
        .collect();
    all.sort_by_key(|x| x.0);
    let mut want: Vec<_> = model
        .orders
        .iter()
        .map(|(&r, o)| (r, o.side, o.price, o.qty))
        .collect();
    want.sort_by_key(|x| x.0);
    assert_eq!(all, want, "every order");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Small capacities: the order table and the ladders fill up often.
    #[test]
    fn book_matches_model_with_tight_capacities(
        max_orders in 1usize..24,
        max_levels in 1usize..6,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let mut book = Book::with_capacity(max_orders, max_levels);
        let mut model = ModelBook::new(max_orders, max_levels);
        let refs: Vec<u64> = (0..48).collect();
        for op in &ops {
            let _ = step(&mut book, &mut model, op);
            check_state(&book, &model, &refs);
        }
    }

    /// Roomy capacities: long-lived books with many levels, where the
    /// binary-search part of the ladder lookup is exercised.
    #[test]
    fn book_matches_model_with_room(
        ops in prop::collection::vec(op(), 1..600),
    ) {
        let mut book = Book::with_capacity(64, 64);
        let mut model = ModelBook::new(64, 64);
        for op in &ops {
            let _ = step(&mut book, &mut model, op);
        }
        check_state(&book, &model, &(0..48).collect::<Vec<_>>());
    }
}

/// Capacity exhaustion, step by step: a full table refuses an add and
/// changes nothing; a delete makes room again; a full ladder refuses a new
/// level but still accepts orders at existing levels.
#[test]
fn capacity_exhaustion_refuses_cleanly() {
    let mut book = Book::with_capacity(4, 2);
    let mut model = ModelBook::new(4, 2);
    let ops = [
        Op::Add(1, Side::Buy, 10, 1_000),
        Op::Add(2, Side::Buy, 10, 1_001),
        Op::Add(3, Side::Buy, 10, 1_002), // LevelsFull
        Op::Add(3, Side::Buy, 10, 1_001),
        Op::Add(4, Side::Sell, 10, 1_005),
        Op::Add(5, Side::Sell, 10, 1_005), // OrdersFull
        Op::Replace(4, 5, 1, 1_006),       // fits: frees its own slot and level
        Op::Delete(1),
        Op::Add(6, Side::Sell, 10, 1_004),
        Op::Add(7, Side::Sell, 10, 1_003), // OrdersFull
        Op::Delete(3),
        Op::Add(7, Side::Sell, 10, 1_003), // LevelsFull on the ask side
        Op::Add(7, Side::Buy, u32::MAX, 1_001), // LevelQtyOverflow
        Op::Add(7, Side::Buy, 10, 1_003),
    ];
    let mut errors = Vec::new();
    for op in &ops {
        if let Err(e) = step(&mut book, &mut model, op) {
            errors.push(e);
        }
        check_state(&book, &model, &(0..10).collect::<Vec<_>>());
    }
    assert!(matches!(
        errors[0],
        BookError::LevelsFull {
            side: Side::Buy,
            capacity: 2
        }
    ));
    assert_eq!(errors[1], BookError::OrdersFull(4));
    assert_eq!(errors[2], BookError::OrdersFull(4));
    assert!(matches!(
        errors[3],
        BookError::LevelsFull {
            side: Side::Sell,
            capacity: 2
        }
    ));
    assert_eq!(errors[4], BookError::LevelQtyOverflow(Price4(1_001)));
    assert_eq!(errors.len(), 5);
    assert_eq!(book.order_count(), 4);
}

/// A zero-capacity book refuses everything and never panics.
#[test]
fn zero_capacity_book_refuses_everything() {
    let mut book = Book::with_capacity(0, 0);
    assert_eq!(
        book.add(1, Side::Buy, Qty(1), Price4(1)),
        Err(BookError::OrdersFull(0))
    );
    assert_eq!(book.execute(1, Qty(1)), Err(BookError::UnknownOrder(1)));
    assert_eq!(book.delete(1), Err(BookError::UnknownOrder(1)));
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.depth(Side::Sell, &mut [Level::default(); 4]), 0);
}

/// A large book filled far beyond the linear-scan window with many orders:
/// the hash table's backward-shift deletion and the ladder's binary search
/// stay consistent with the model through a long churn.
#[test]
fn long_churn_on_a_large_book_matches_model() {
    let mut book = Book::with_capacity(20_000, 2_000);
    let mut model = ModelBook::new(20_000, 2_000);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut live: Vec<u64> = Vec::new();
    let mut r = 1u64;
    for i in 0..200_000u32 {
        let roll = next() % 10;
        let op = if live.is_empty() || roll < 5 {
            r += 1 + next() % 3;
            live.push(r);
            let s = if next() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let off = (next() % 1_500) as u32;
            let p = if s == Side::Buy {
                100_000 - off
            } else {
                100_001 + off
            };
            Op::Add(r, s, 1 + (next() % 500) as u32, p)
        } else {
            let k = (next() as usize) % live.len();
            let target = live[k];
            match roll {
                5 => Op::Execute(target, 1 + (next() % 200) as u32),
                6 => Op::Cancel(target, 1 + (next() % 200) as u32),
                7 | 8 => {
                    live.swap_remove(k);
                    Op::Delete(target)
                }
                _ => {
                    live.swap_remove(k);
                    r += 1;
                    live.push(r);
                    Op::Replace(
                        target,
                        r,
                        1 + (next() % 500) as u32,
                        99_000 + (next() % 2_000) as u32,
                    )
                }
            }
        };
        let _ = step(&mut book, &mut model, &op);
        if i % 20_000 == 0 {
            check_state(&book, &model, &[]);
        }
    }
    check_state(&book, &model, &live);
}

/// A reference for the set tests: mostly from a small space whose members
/// share window slots (so orders are moved out of the window all the time),
/// sometimes one too large for a window entry, which its book keeps in its
/// table.
fn set_ref() -> impl Strategy<Value = u64> {
    prop_oneof![
        12 => 0u64..40,
        2 => (0u64..6).prop_map(|x| x << 50),
        1 => (0u64..3).prop_map(|x| u64::MAX - x),
    ]
}

fn set_op() -> impl Strategy<Value = (usize, Op)> {
    let op = prop_oneof![
        6 => (set_ref(), side(), qty(), price()).prop_map(|(r, s, q, p)| Op::Add(r, s, q, p)),
        3 => (set_ref(), qty()).prop_map(|(r, q)| Op::Execute(r, q)),
        2 => (set_ref(), qty()).prop_map(|(r, q)| Op::Cancel(r, q)),
        2 => set_ref().prop_map(Op::Delete),
        3 => (set_ref(), set_ref(), qty(), price()).prop_map(|(a, b, q, p)| Op::Replace(a, b, q, p)),
    ];
    (0usize..3, op)
}

/// Applies `op` to a book of the set and to its standalone twin; the
/// outcomes must be equal.
fn set_step(set: &mut BookMut<'_>, alone: &mut Book, op: &Op) -> Result<(), BookError> {
    let (got, want) = match *op {
        Op::Add(r, s, q, p) => (
            set.add(r, s, Qty(q), Price4(p)).map(|()| None),
            alone.add(r, s, Qty(q), Price4(p)).map(|()| None),
        ),
        Op::Execute(r, q) => (
            set.execute(r, Qty(q)).map(Some),
            alone.execute(r, Qty(q)).map(Some),
        ),
        Op::Cancel(r, q) => (
            set.cancel(r, Qty(q)).map(Some),
            alone.cancel(r, Qty(q)).map(Some),
        ),
        Op::Delete(r) => (set.delete(r).map(Some), alone.delete(r).map(Some)),
        Op::Replace(a, b, q, p) => (
            set.replace(a, b, Qty(q), Price4(p)).map(Some),
            alone.replace(a, b, Qty(q), Price4(p)).map(Some),
        ),
    };
    assert_eq!(got, want, "{op:?}");
    got.map(|_| ())
}

/// A book of the set shows exactly what its standalone twin shows.
fn check_twin(set: BookRef<'_>, alone: &Book, refs: &[u64]) {
    assert_eq!(set.top(), alone.top(), "top");
    assert_eq!(set.top_mark(), alone.top_mark(), "top mark");
    assert_eq!(set.order_count(), alone.order_count(), "order count");
    assert_eq!(set.peak_orders(), alone.peak_orders(), "peak orders");
    assert_eq!(set.peak_levels(), alone.peak_levels(), "peak levels");
    for s in [Side::Buy, Side::Sell] {
        assert_eq!(
            set.levels(s).collect::<Vec<_>>(),
            alone.levels(s).collect::<Vec<_>>(),
            "{s:?} levels"
        );
    }
    for &r in refs {
        assert_eq!(set.order(r), alone.order(r), "order {r}");
    }
    let mut got: Vec<_> = set.orders().collect();
    let mut want: Vec<_> = alone.orders().collect();
    got.sort_by_key(|x| x.0);
    want.sort_by_key(|x| x.0);
    assert_eq!(got, want, "every order");
}

fn set_refs() -> Vec<u64> {
    let mut refs: Vec<u64> = (0..40).collect();
    refs.extend((0..6).map(|x| x << 50));
    refs.extend((0..3).map(|x| u64::MAX - x));
    refs
}

/// Three books in a set with a shared window.
fn set_of_three(orders: usize, levels: usize, window: usize) -> Books {
    let mut set = Books::with_window(3, orders, levels, &[], window).unwrap();
    for (i, s) in ["A", "B", "C"].iter().enumerate() {
        assert_eq!(
            set.on_directory(i as u16 + 1, Symbol::new(s).unwrap()),
            Some(i)
        );
    }
    set
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// The books of a set behave exactly like standalone books, whatever the
    /// window's size: the same references are used in every book, and most
    /// share window slots, so orders move out of the window to their own
    /// books' tables (from whichever book adds), and lookups go there.
    #[test]
    fn books_of_a_set_match_standalone_books(
        window in prop_oneof![Just(1usize), Just(4), Just(16), Just(64)],
        max_orders in 1usize..24,
        max_levels in 1usize..6,
        ops in prop::collection::vec(set_op(), 1..300),
    ) {
        let mut set = set_of_three(max_orders, max_levels, window);
        let mut alone: Vec<Book> = (0..3).map(|_| Book::with_capacity(max_orders, max_levels)).collect();
        let refs = set_refs();
        for (b, op) in &ops {
            let _ = set_step(&mut set.book_mut(*b).unwrap(), &mut alone[*b], op);
            for (i, twin) in alone.iter().enumerate() {
                check_twin(set.book(i).unwrap(), twin, &refs);
            }
        }
    }
}

/// A one-slot window: every add moves the order before it out, far past the
/// slot's 255-order count (which then stays saturated); every order is
/// still found, executed and deleted as in standalone books.
#[test]
fn a_one_slot_window_saturates_and_stays_exact() {
    let mut set = set_of_three(1_000, 64, 1);
    let mut alone: Vec<Book> = (0..3).map(|_| Book::with_capacity(1_000, 64)).collect();
    let refs: Vec<u64> = (1..=900).collect();
    for &r in &refs {
        let b = (r % 3) as usize;
        let side = if r % 2 == 0 { Side::Buy } else { Side::Sell };
        let op = Op::Add(r, side, 10 + (r % 7) as u32, 1_000 + (r % 13) as u32);
        set_step(&mut set.book_mut(b).unwrap(), &mut alone[b], &op).unwrap();
    }
    for &r in &refs {
        let b = (r % 3) as usize;
        let op = match r % 4 {
            0 => Op::Execute(r, 3),
            1 => Op::Cancel(r, 2),
            2 => Op::Replace(r, r + 10_000, 5, 1_010),
            _ => Op::Delete(r),
        };
        set_step(&mut set.book_mut(b).unwrap(), &mut alone[b], &op).unwrap();
        // A reference is not found through another book.
        let other = (b + 1) % 3;
        assert_eq!(
            set.book_mut(other).unwrap().delete(r),
            Err(BookError::UnknownOrder(r))
        );
    }
    for (i, twin) in alone.iter().enumerate() {
        check_twin(set.book(i).unwrap(), twin, &refs);
    }
    for &r in &refs {
        let b = (r % 3) as usize;
        let target = if r % 4 == 2 { r + 10_000 } else { r };
        let _ = set_step(
            &mut set.book_mut(b).unwrap(),
            &mut alone[b],
            &Op::Delete(target),
        );
    }
    for (i, twin) in alone.iter().enumerate() {
        check_twin(set.book(i).unwrap(), twin, &refs);
        assert_eq!(twin.order_count(), 0);
    }
}
