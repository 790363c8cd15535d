//! Xenbus device states (`io/xenbus.h` `enum xenbus_state`, ANCHORS 3.4), as each end
//! writes them to its `state` key in xenstore: a decimal number.

/// The state of one end of a split device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum XenbusState {
    /// `XenbusStateUnknown`.
    Unknown = 0,
    /// `XenbusStateInitialising`.
    Initialising = 1,
    /// `XenbusStateInitWait`: finished early initialisation, waiting for the peer's
    /// details.
    InitWait = 2,
    /// `XenbusStateInitialised`: ready to connect.
    Initialised = 3,
    /// `XenbusStateConnected`.
    Connected = 4,
    /// `XenbusStateClosing`: the device is being closed.
    Closing = 5,
    /// `XenbusStateClosed`.
    Closed = 6,
    /// `XenbusStateReconfiguring`.
    Reconfiguring = 7,
    /// `XenbusStateReconfigured`.
    Reconfigured = 8,
}

impl XenbusState {
    /// Every state, by number.
    pub const ALL: [Self; 9] = [
        Self::Unknown,
        Self::Initialising,
        Self::InitWait,
        Self::Initialised,
        Self::Connected,
        Self::Closing,
        Self::Closed,
        Self::Reconfiguring,
        Self::Reconfigured,
    ];

    /// The state a `state` key's value names: decimal digits, optionally surrounded by
    /// ASCII whitespace or NULs. `None` for anything else (a peer may write garbage).
    pub fn parse(value: &[u8]) -> Option<Self> {
        let v = value.trim_ascii();
        let v = v.strip_suffix(b"\0").unwrap_or(v);
        if v.is_empty() || v.len() > 3 || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = v.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        Self::ALL.get(n).copied()
    }

    /// The value written to a `state` key.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "0",
            Self::Initialising => "1",
            Self::InitWait => "2",
            Self::Initialised => "3",
            Self::Connected => "4",
            Self::Closing => "5",
            Self::Closed => "6",
            Self::Reconfiguring => "7",
            Self::Reconfigured => "8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_and_print() {
        for s in XenbusState::ALL {
            assert_eq!(XenbusState::parse(s.as_str().as_bytes()), Some(s));
            assert_eq!(s.as_str().parse::<u8>().unwrap(), s as u8);
        }
        assert_eq!(XenbusState::parse(b" 4\n"), Some(XenbusState::Connected));
        assert_eq!(XenbusState::parse(b"004"), Some(XenbusState::Connected));
        for bad in [
            &b""[..],
            b"9",
            b"-1",
            b"4x",
            b"99999999999999999999",
            b"\xff",
        ] {
            assert_eq!(XenbusState::parse(bad), None, "{bad:?}");
        }
    }
}
