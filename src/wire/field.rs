//! Fixed-offset big-endian field access on fixed-size arrays, for the
//! hand-written decoders of this module.
//!
//! A message is length-checked once, as `&[u8; LEN]`; the offsets here are
//! const generics, asserted against `LEN` at compile time, so each read is a
//! single load (plus a byte swap) with no runtime bounds check and no panic.

use crate::types::Side;
use crate::wire::{Error, Result};

/// The `L` bytes at offset `O` of `a`.
#[inline(always)]
pub(crate) fn arr_at<const N: usize, const O: usize, const L: usize>(a: &[u8; N]) -> &[u8; L] {
    const { assert!(O + L <= N, "field runs past the message") };
    let (_, rest) = a.split_at(O);
    match rest.first_chunk::<L>() {
        Some(x) => x,
        // The const assertion above proves `O + L <= N`.
        None => unreachable!(),
    }
}

/// Mutable form of [`arr_at`].
#[inline(always)]
pub(crate) fn arr_at_mut<const N: usize, const O: usize, const L: usize>(
    a: &mut [u8; N],
) -> &mut [u8; L] {
    const { assert!(O + L <= N, "field runs past the message") };
    let (_, rest) = a.split_at_mut(O);
    match rest.first_chunk_mut::<L>() {
        Some(x) => x,
        // The const assertion above proves `O + L <= N`.
        None => unreachable!(),
    }
}

/// One byte at offset `O`.
#[inline(always)]
pub(crate) fn u8_at<const N: usize, const O: usize>(a: &[u8; N]) -> u8 {
    arr_at::<N, O, 1>(a)[0]
}

/// Big-endian u16 at offset `O`.
#[inline(always)]
pub(crate) fn u16_at<const N: usize, const O: usize>(a: &[u8; N]) -> u16 {
    u16::from_be_bytes(*arr_at::<N, O, 2>(a))
}

/// Big-endian u32 at offset `O`.
#[inline(always)]
pub(crate) fn u32_at<const N: usize, const O: usize>(a: &[u8; N]) -> u32 {
    u32::from_be_bytes(*arr_at::<N, O, 4>(a))
}

/// Big-endian u64 at offset `O`.
#[inline(always)]
pub(crate) fn u64_at<const N: usize, const O: usize>(a: &[u8; N]) -> u64 {
    u64::from_be_bytes(*arr_at::<N, O, 8>(a))
}

/// A checked side byte at offset `O`: `B` or `S`, else [`Error::BadValue`].
#[inline(always)]
pub(crate) fn side_at<const N: usize, const O: usize>(a: &[u8; N]) -> Result<Side> {
    let b = u8_at::<N, O>(a);
    match Side::from_byte(b) {
        Some(s) => Ok(s),
        None => Err(Error::BadValue {
            field: "side",
            value: b,
        }),
    }
}

/// Writes one byte at offset `O`.
#[inline(always)]
pub(crate) fn put_u8<const N: usize, const O: usize>(a: &mut [u8; N], v: u8) {
    arr_at_mut::<N, O, 1>(a)[0] = v;
}

/// Writes a big-endian u16 at offset `O`.
#[inline(always)]
pub(crate) fn put_u16<const N: usize, const O: usize>(a: &mut [u8; N], v: u16) {
    *arr_at_mut::<N, O, 2>(a) = v.to_be_bytes();
}

/// Writes a big-endian u32 at offset `O`.
#[inline(always)]
pub(crate) fn put_u32<const N: usize, const O: usize>(a: &mut [u8; N], v: u32) {
    *arr_at_mut::<N, O, 4>(a) = v.to_be_bytes();
}

/// Writes a big-endian u64 at offset `O`.
#[inline(always)]
pub(crate) fn put_u64<const N: usize, const O: usize>(a: &mut [u8; N], v: u64) {
    *arr_at_mut::<N, O, 8>(a) = v.to_be_bytes();
}

/// Writes `L` raw bytes at offset `O`.
#[inline(always)]
pub(crate) fn put_arr<const N: usize, const O: usize, const L: usize>(
    a: &mut [u8; N],
    v: &[u8; L],
) {
    *arr_at_mut::<N, O, L>(a) = *v;
}

/// The first `N` bytes of a view's buffer.
///
/// # Panics
/// If `b` is shorter than `N`: only possible for a view made with
/// `new_unchecked` over a short buffer (as with smoltcp's views).
#[inline(always)]
#[track_caller]
pub(crate) fn view_array<const N: usize>(b: &[u8]) -> &[u8; N] {
    match b.first_chunk::<N>() {
        Some(a) => a,
        None => short_view(b.len(), N),
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn short_view(len: usize, need: usize) -> ! {
    panic!("view over {len} bytes, the message needs {need}: use new_checked")
}
