//! The Xen PV network protocol as it sits in pages shared with a guest: the ring
//! header, netif requests and responses, extra info, the control ring, grant-table
//! entries, and the xenbus states (`io/netif.h`, `io/ring.h`, `grant_table.h`,
//! `io/xenbus.h`).
//!
//! Every shared struct is `repr(C)` with its size and field offsets asserted at compile
//! time against ANCHORS 3.1-3.2, and is encoded little-endian (x86 and Arm guests).
//!
//! The panic contract: a guest owns the bytes of its rings and may rewrite them at any
//! time (XSA-155), so the data path copies a slot out of the shared page once, into a
//! fixed-size array, and [`Entry::decode`]s that copy. Decoding never reads shared
//! memory, never fails and never panics; every check is made on the decoded value.
//! Nothing here does I/O or touches guest memory.

pub mod ctrl;
pub mod defs;
pub mod grant;
pub mod netif;
pub mod ring;
pub mod xenbus;

/// A fixed-size little-endian wire struct.
pub trait Entry: Copy {
    /// Size in bytes on the wire (`size_of::<Self>()`).
    const SIZE: usize;
    /// The encoding: `[u8; SIZE]`.
    type Bytes: Copy + Default + AsRef<[u8]> + AsMut<[u8]>;

    /// Decodes a copy taken from shared memory.
    fn decode(b: &Self::Bytes) -> Self;

    /// Encodes for writing into shared memory with one copy.
    fn encode(&self) -> Self::Bytes;
}

/// The little-endian `u16` at byte `AT` of `b` (bounds proven at compile time).
#[inline]
fn get_u16<const N: usize, const AT: usize>(b: &[u8; N]) -> u16 {
    const { assert!(AT + 2 <= N) };
    u16::from_le_bytes([b[AT], b[AT + 1]])
}

/// The little-endian `u32` at byte `AT` of `b`.
#[inline]
fn get_u32<const N: usize, const AT: usize>(b: &[u8; N]) -> u32 {
    const { assert!(AT + 4 <= N) };
    u32::from_le_bytes([b[AT], b[AT + 1], b[AT + 2], b[AT + 3]])
}

/// The `M` bytes at byte `AT` of `b`.
#[inline]
fn get_bytes<const N: usize, const AT: usize, const M: usize>(b: &[u8; N]) -> [u8; M] {
    const { assert!(AT + M <= N) };
    std::array::from_fn(|i| b[AT + i])
}

/// Writes `v` little-endian at byte `AT` of `b`.
#[inline]
fn put_u16<const N: usize, const AT: usize>(b: &mut [u8; N], v: u16) {
    put_bytes::<N, AT, 2>(b, v.to_le_bytes());
}

/// Writes `v` little-endian at byte `AT` of `b`.
#[inline]
fn put_u32<const N: usize, const AT: usize>(b: &mut [u8; N], v: u32) {
    put_bytes::<N, AT, 4>(b, v.to_le_bytes());
}

/// Writes `v` at byte `AT` of `b`.
#[inline]
fn put_bytes<const N: usize, const AT: usize, const M: usize>(b: &mut [u8; N], v: [u8; M]) {
    const { assert!(AT + M <= N) };
    for (i, x) in v.into_iter().enumerate() {
        b[AT + i] = x;
    }
}

/// A `u16` flag set with the usual operations; `Display`-free, `Debug` shows the bits.
macro_rules! flags {
    ($(#[$m:meta])* $name:ident($t:ty) { $($(#[$fm:meta])* $f:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[repr(transparent)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub struct $name(pub $t);

        impl $name {
            $($(#[$fm])* pub const $f: Self = Self($v);)*
            /// No flag set.
            pub const EMPTY: Self = Self(0);
            /// Every flag this type names.
            pub const ALL: Self = Self(0 $(| $v)*);

            /// Whether every flag of `other` is set.
            #[inline]
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// The set bits this type does not name (a guest may set anything).
            #[inline]
            pub const fn unknown(self) -> $t {
                self.0 & !Self::ALL.0
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            #[inline]
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            #[inline]
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }
    };
}
use flags;

/// Asserts at compile time that `$t` is `$size` bytes with each field at its offset.
macro_rules! assert_layout {
    ($t:ty, $size:expr, { $($f:ident: $off:expr),* $(,)? }) => {
        const _: () = {
            assert!(std::mem::size_of::<$t>() == $size);
            $(assert!(std::mem::offset_of!($t, $f) == $off);)*
        };
    };
}
use assert_layout;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_helpers_are_little_endian() {
        let mut b = [0xa5u8; 8];
        put_u16::<8, 1>(&mut b, 0x1234);
        put_u32::<8, 3>(&mut b, 0xdead_beef);
        assert_eq!(b, [0xa5, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0xa5]);
        assert_eq!(get_u16::<8, 1>(&b), 0x1234);
        assert_eq!(get_u32::<8, 3>(&b), 0xdead_beef);
        assert_eq!(get_bytes::<8, 6, 2>(&b), [0xde, 0xa5]);
    }
}
