//! The ITCH 5.0 feed handler: decoded messages become book operations.
//!
//! [`apply`] applies one decoded [`Message`] to a [`Books`] set and returns
//! the symbol's new top of book when the message changed it; [`apply_bytes`]
//! decodes first (the hot path from a MoldUDP64 block or a BinaryFILE
//! record). Every message is counted by type in [`Counters`]; a message the
//! book cannot trust (unknown reference, duplicate, over capacity, unknown
//! locate) is counted and otherwise ignored. Nothing here allocates, formats
//! or panics.
//!
//! Policy for messages that contradict the book (they mean a message was
//! lost upstream, or the venue and the book disagree): an execution or a
//! cancel of more shares than the order has open takes the order off the
//! book, since the venue says those shares are gone; a replace that cannot
//! be applied (duplicate new reference, no capacity, zero shares) still
//! takes the old order off, since the venue has replaced it.
//!
//! | type | effect |
//! |---|---|
//! | `R` | maps the stock locate to a book ([`Books::on_directory`]) |
//! | `A`, `F` | [`BookMut::add`] |
//! | `E`, `C` | [`BookMut::execute`] |
//! | `X` | [`BookMut::cancel`] |
//! | `D` | [`BookMut::delete`] |
//! | `U` | [`BookMut::replace`] |
//! | others | counted only |

use crate::book::{BookError, BookMut, Books, Counters, Locate};
use crate::time::Nanos;
use crate::types::{Price4, Qty, Quote, Side, Symbol};
use crate::wire::itch::{Header, Message};
use crate::wire::Error;

/// Decodes one ITCH message from `bytes` (framing removed) and applies it.
///
/// An unknown message type is counted by its type byte (and in
/// [`Counters::unknown_types`]) and skipped: `Ok(None)`. Any other decode
/// failure is counted in [`Counters::decode_errors`] and returned, so that a
/// file reader can report where; a live feed drops the message.
#[inline]
pub fn apply_bytes(books: &mut Books, bytes: &[u8], rx_ts: Nanos) -> Result<Option<Quote>, Error> {
    match Message::parse(bytes) {
        Ok(msg) => Ok(apply(books, &msg, rx_ts)),
        Err(Error::UnknownType(t)) => {
            let c = &mut books.counters;
            c.messages += 1;
            c.by_type[t as usize] += 1;
            c.unknown_types += 1;
            Ok(None)
        }
        Err(e) => {
            books.counters.decode_errors += 1;
            Err(e)
        }
    }
}

/// Applies one decoded message to `books`. Returns the symbol's top of book
/// when the message changed its best bid or best offer (price or size),
/// stamped with the message's exchange timestamp and `rx_ts`.
#[inline]
pub fn apply(books: &mut Books, msg: &Message, rx_ts: Nanos) -> Option<Quote> {
    {
        let c = &mut books.counters;
        c.messages += 1;
        c.by_type[msg.msg_type() as usize] += 1;
    }
    match msg {
        Message::AddOrder(m) => with_book(books, &m.header, rx_ts, |b, c| {
            add(b, c, m.order_ref, m.side, m.shares, m.price)
        }),
        Message::AddOrderMpid(m) => with_book(books, &m.header, rx_ts, |b, c| {
            add(b, c, m.order_ref, m.side, m.shares, m.price)
        }),
        Message::OrderExecuted(m) => with_book(books, &m.header, rx_ts, |b, c| {
            execute(b, c, m.order_ref, m.executed_shares)
        }),
        Message::OrderExecutedWithPrice(m) => with_book(books, &m.header, rx_ts, |b, c| {
            execute(b, c, m.order_ref, m.executed_shares)
        }),
        Message::OrderCancel(m) => with_book(books, &m.header, rx_ts, |b, c| {
            match b.cancel(m.order_ref, m.canceled_shares) {
                Ok(_) => {}
                Err(BookError::CancelExceedsOpen { .. }) => {
                    c.cancel_exceeds_open += 1;
                    let _ = b.delete(m.order_ref);
                }
                Err(e) => count(c, e),
            }
        }),
        Message::OrderDelete(m) => with_book(books, &m.header, rx_ts, |b, c| {
            if let Err(e) = b.delete(m.order_ref) {
                count(c, e);
            }
        }),
        Message::OrderReplace(m) => with_book(books, &m.header, rx_ts, |b, c| {
            match b.replace(m.original_order_ref, m.new_order_ref, m.shares, m.price) {
                Ok(_) => {}
                Err(e @ BookError::UnknownOrder(_)) => count(c, e),
                Err(e) => {
                    count(c, e);
                    let _ = b.delete(m.original_order_ref);
                }
            }
        }),
        Message::StockDirectory(m) => {
            books.on_directory(m.header.locate, m.stock);
            None
        }
        _ => None,
    }
}

/// Runs `op` on the book of the message's locate and reports a changed top.
#[inline(always)]
fn with_book(
    books: &mut Books,
    header: &Header,
    rx_ts: Nanos,
    op: impl FnOnce(&mut BookMut<'_>, &mut Counters),
) -> Option<Quote> {
    let index = match books.locate(header.locate) {
        Locate::Book(i) => i,
        Locate::Unknown => {
            books.counters.unknown_locates += 1;
            return None;
        }
        Locate::Ignored => {
            books.counters.untracked += 1;
            return None;
        }
    };
    let (mut book, symbol, counters) = books.split_mut(index)?;
    let before = book.top_mark();
    op(&mut book, counters);
    if book.top_mark() == before {
        return None;
    }
    Some(quote(symbol, book.top(), header.timestamp, rx_ts))
}

#[inline(always)]
fn quote(symbol: Symbol, top: crate::book::Top, exch_ts: u64, rx_ts: Nanos) -> Quote {
    Quote {
        symbol,
        bid: top.bid,
        ask: top.ask,
        exch_ts,
        rx_ts,
    }
}

#[inline(always)]
fn add(b: &mut BookMut<'_>, c: &mut Counters, order_ref: u64, side: Side, qty: Qty, price: Price4) {
    if let Err(e) = b.add(order_ref, side, qty, price) {
        count(c, e);
    }
}

#[inline(always)]
fn execute(b: &mut BookMut<'_>, c: &mut Counters, order_ref: u64, qty: Qty) {
    match b.execute(order_ref, qty) {
        Ok(_) => {}
        Err(BookError::ExecExceedsOpen { .. }) => {
            c.exec_exceeds_open += 1;
            let _ = b.delete(order_ref);
        }
        Err(e) => count(c, e),
    }
}

/// Counts a refused operation under its kind.
#[cold]
fn count(c: &mut Counters, e: BookError) {
    match e {
        BookError::UnknownOrder(_) => c.unknown_refs += 1,
        BookError::DuplicateOrder(_) => c.duplicates += 1,
        BookError::OrdersFull(_)
        | BookError::LevelsFull { .. }
        | BookError::LevelQtyOverflow(_) => c.capacity_drops += 1,
        BookError::ZeroQty | BookError::PriceOutOfRange(_) => c.invalid_orders += 1,
        BookError::ExecExceedsOpen { .. } => c.exec_exceeds_open += 1,
        BookError::CancelExceedsOpen { .. } => c.cancel_exceeds_open += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Level;
    use crate::wire::itch::{
        AddOrder, OrderCancel, OrderDelete, OrderExecuted, OrderReplace, StockDirectory, Trade,
    };

    fn hdr(locate: u16, ts: u64) -> Header {
        Header {
            locate,
            tracking: 0,
            timestamp: ts,
        }
    }

    fn directory(locate: u16, sym: &str) -> Message {
        let mut bytes = [0u8; 39];
        bytes[0] = b'R';
        bytes[1..3].copy_from_slice(&locate.to_be_bytes());
        bytes[11..19].copy_from_slice(&Symbol::new(sym).unwrap().0);
        let m = StockDirectory::parse(&bytes).unwrap();
        Message::StockDirectory(m)
    }

    fn add(locate: u16, r: u64, side: Side, qty: u32, price: u32) -> Message {
        Message::AddOrder(AddOrder {
            header: hdr(locate, 7),
            order_ref: r,
            side,
            shares: Qty(qty),
            stock: Symbol::new("X").unwrap(),
            price: Price4(price),
        })
    }

    #[test]
    fn quotes_only_when_the_top_changes() {
        let mut books = Books::with_capacity(2, 64, 16, &[]).unwrap();
        let t = Nanos(5);
        assert_eq!(apply(&mut books, &directory(3, "AAPL"), t), None);
        let q = apply(&mut books, &add(3, 1, Side::Buy, 100, 1_000), t).unwrap();
        assert_eq!(q.symbol.as_str(), "AAPL");
        assert_eq!(
            q.bid,
            Some(Level {
                price: Price4(1_000),
                qty: Qty(100)
            })
        );
        assert_eq!(q.ask, None);
        assert_eq!((q.exch_ts, q.rx_ts), (7, t));
        // Below the top: no quote.
        assert_eq!(apply(&mut books, &add(3, 2, Side::Buy, 100, 990), t), None);
        // Execution at the top: quote with the smaller size.
        let e = Message::OrderExecuted(OrderExecuted {
            header: hdr(3, 8),
            order_ref: 1,
            executed_shares: Qty(40),
            match_number: 1,
        });
        assert_eq!(apply(&mut books, &e, t).unwrap().bid.unwrap().qty, Qty(60));
        // A trade message changes nothing.
        let p = Message::Trade(Trade {
            header: hdr(3, 9),
            order_ref: 0,
            side: Side::Buy,
            shares: Qty(5),
            stock: Symbol::new("AAPL").unwrap(),
            price: Price4(1_000),
            match_number: 2,
        });
        assert_eq!(apply(&mut books, &p, t), None);
        assert_eq!(books.counters.by_type[b'P' as usize], 1);
        assert_eq!(books.counters.messages, 5);
    }

    #[test]
    fn contradictions_are_counted_and_resolved() {
        let mut books = Books::with_capacity(1, 2, 16, &[]).unwrap();
        let t = Nanos(0);
        apply(&mut books, &directory(1, "MSFT"), t);
        apply(&mut books, &add(1, 1, Side::Sell, 10, 2_000), t);
        // Duplicate reference.
        apply(&mut books, &add(1, 1, Side::Sell, 10, 2_000), t);
        assert_eq!(books.counters.duplicates, 1);
        // Unknown locate and unknown reference.
        apply(&mut books, &add(9, 5, Side::Sell, 10, 2_000), t);
        assert_eq!(books.counters.unknown_locates, 1);
        let d = Message::OrderDelete(OrderDelete {
            header: hdr(1, 0),
            order_ref: 77,
        });
        apply(&mut books, &d, t);
        assert_eq!(books.counters.unknown_refs, 1);
        // Over-cancel removes the order.
        let x = Message::OrderCancel(OrderCancel {
            header: hdr(1, 0),
            order_ref: 1,
            canceled_shares: Qty(11),
        });
        let q = apply(&mut books, &x, t).unwrap();
        assert_eq!(q.ask, None);
        assert_eq!(books.counters.cancel_exceeds_open, 1);
        // Capacity: two orders at most.
        apply(&mut books, &add(1, 2, Side::Buy, 1, 1_000), t);
        apply(&mut books, &add(1, 3, Side::Buy, 1, 1_001), t);
        apply(&mut books, &add(1, 4, Side::Buy, 1, 1_002), t);
        assert_eq!(books.counters.capacity_drops, 1);
        // A replace onto an existing reference still takes the old order off.
        let u = Message::OrderReplace(OrderReplace {
            header: hdr(1, 0),
            original_order_ref: 3,
            new_order_ref: 2,
            shares: Qty(5),
            price: Price4(1_005),
        });
        let q = apply(&mut books, &u, t).unwrap();
        assert_eq!(q.bid.unwrap().price, Price4(1_000));
        assert_eq!(books.counters.duplicates, 2);
        assert_eq!(books.book(0).unwrap().order_count(), 1);
    }

    #[test]
    fn unknown_types_are_counted_and_skipped() {
        let mut books = Books::with_capacity(1, 2, 2, &[]).unwrap();
        assert_eq!(apply_bytes(&mut books, b"z123", Nanos(0)), Ok(None));
        assert_eq!(books.counters.by_type[b'z' as usize], 1);
        assert_eq!(books.counters.unknown_types, 1);
        assert!(apply_bytes(&mut books, b"A12", Nanos(0)).is_err());
        assert_eq!(books.counters.decode_errors, 1);
        assert!(apply_bytes(&mut books, b"", Nanos(0)).is_err());
    }
}
