//! NASDAQ "BinaryFILE" framing of ITCH history files (PROTOCOLS.md §1):
//! back-to-back records of a big-endian `u16` length followed by one message,
//! no file header (the `.gz` files are this, gzipped).
//!
//! The iterator borrows the buffer, never allocates and never panics.

use super::Message;
use crate::wire::{Error, Result};

/// Iterator over the records of a BinaryFILE buffer, yielding each message's
/// bytes (length prefix removed).
///
/// A record whose length runs past the end of the buffer yields
/// [`Error::Truncated`] once, then the iterator ends. A zero-length record is
/// yielded as an empty slice (NASDAQ's Nassau reader treats it as the end of
/// the session; the caller decides).
#[derive(Clone, Debug)]
pub struct BinaryFileRecords<'a> {
    rest: &'a [u8],
}

impl<'a> BinaryFileRecords<'a> {
    /// Iterates over the records in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        BinaryFileRecords { rest: buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for BinaryFileRecords<'a> {
    type Item = Result<&'a [u8]>;

    #[inline]
    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        let (len, body) = match self.rest.split_first_chunk::<2>() {
            Some((l, body)) => (u16::from_be_bytes(*l) as usize, body),
            None if self.rest.is_empty() => return None,
            None => {
                let len = self.rest.len();
                self.rest = &[];
                return Some(Err(Error::Truncated { len, need: 2 }));
            }
        };
        match body.split_at_checked(len) {
            Some((msg, rest)) => {
                self.rest = rest;
                Some(Ok(msg))
            }
            None => {
                self.rest = &[];
                Some(Err(Error::Truncated {
                    len: body.len(),
                    need: len,
                }))
            }
        }
    }
}

/// Writes `msg` as one BinaryFILE record (`u16` length + message) into the
/// start of `out`; returns the bytes written. Never allocates.
pub fn emit_record(msg: &Message, out: &mut [u8]) -> Result<usize> {
    let len = msg.encoded_len();
    let Some((prefix, body)) = out.split_first_chunk_mut::<2>() else {
        return Err(Error::BufferTooSmall { need: 2 + len });
    };
    if body.len() < len {
        return Err(Error::BufferTooSmall { need: 2 + len });
    }
    let n = msg.emit(body)?;
    *prefix = (n as u16).to_be_bytes();
    Ok(2 + n)
}
