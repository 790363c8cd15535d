//! vhost-user protocol constants, with their spec names: QEMU `docs/interop/vhost-user.rst`
//! ("Header", "Front-end message types", "Protocol features", and the payload sections).
//!
//! Numbers only; what vpmd does with each request is in [`super::message`] (its payload
//! and fd rules) and [`crate::device`] (its effect).

/// Most fds one message carries (8, `SET_MEM_TABLE`); more are refused.
pub const MAX_FDS: usize = 8;

/// Header flags, bits 0-1: protocol version; only 1 exists ("Header").
pub const VERSION: u32 = 0x1;
/// Header flags: mask of the version bits.
pub const VERSION_MASK: u32 = 0x3;
/// Header flags, bit 2: this message is a reply.
pub const REPLY_MASK: u32 = 0x1 << 2;
/// Header flags, bit 3: the sender wants a reply (`REPLY_ACK`).
pub const NEED_REPLY_MASK: u32 = 0x1 << 3;
/// Bytes of the header: request, flags, size (three `u32`).
pub const HEADER_LEN: usize = 12;

/// `SET_VRING_KICK/CALL/ERR` payload, bits 0-7: the vring index.
pub const VRING_IDX_MASK: u64 = 0xff;
/// `SET_VRING_KICK/CALL/ERR` payload, bit 8: no fd attached; poll instead.
pub const VRING_NOFD_MASK: u64 = 0x1 << 8;

/// `SET_VRING_ADDR` flags bit 0 (`VHOST_VRING_F_LOG`): log used-ring writes.
pub const VRING_F_LOG: u32 = 0x1;

/// Most regions in one `SET_MEM_TABLE` ("Multiple Memory regions description": region0 ..
/// region7; QEMU's `VHOST_MEMORY_BASELINE_NREGIONS`).
pub const MEM_TABLE_MAX_REGIONS: usize = 8;

/// `VHOST_F_LOG_ALL`: the front-end may ask for dirty logging (a virtio feature word bit,
/// "Migration"). vpmd does not offer it yet.
pub const VHOST_F_LOG_ALL: u32 = 26;

/// `GET_CONFIG`/`SET_CONFIG` flags: a write of writable fields by the front-end.
pub const CONFIG_FLAG_WRITABLE: u32 = 0;
/// `GET_CONFIG`/`SET_CONFIG` flags: a write for live migration.
pub const CONFIG_FLAG_MIGRATION: u32 = 1;
/// Largest config-space access (DPDK's `VHOST_USER_MAX_CONFIG_SIZE`; QEMU's net config
/// is far smaller).
pub const CONFIG_MAX_SIZE: u32 = 256;

/// Front-end message IDs ("Front-end message types"). Names drop the `VHOST_USER_`
/// prefix; `SET_BACKEND_REQ_FD` was `SET_SLAVE_REQ_FD`.
pub mod req {
    /// Get the virtio feature bits the back-end offers.
    pub const GET_FEATURES: u32 = 1;
    /// Acknowledge virtio feature bits.
    pub const SET_FEATURES: u32 = 2;
    /// Session start.
    pub const SET_OWNER: u32 = 3;
    /// Deprecated: disable all rings.
    pub const RESET_OWNER: u32 = 4;
    /// Replace the memory table (at most 8 regions, one fd each).
    pub const SET_MEM_TABLE: u32 = 5;
    /// Dirty log area (LOG_SHMFD).
    pub const SET_LOG_BASE: u32 = 6;
    /// Dirty log eventfd.
    pub const SET_LOG_FD: u32 = 7;
    /// Ring size.
    pub const SET_VRING_NUM: u32 = 8;
    /// Ring addresses (front-end virtual addresses).
    pub const SET_VRING_ADDR: u32 = 9;
    /// Next avail index to process.
    pub const SET_VRING_BASE: u32 = 10;
    /// Stop a ring and get its next avail index.
    pub const GET_VRING_BASE: u32 = 11;
    /// Kick eventfd (or "poll" flag); the ring starts on it.
    pub const SET_VRING_KICK: u32 = 12;
    /// Call eventfd (interrupt to the guest).
    pub const SET_VRING_CALL: u32 = 13;
    /// Error eventfd.
    pub const SET_VRING_ERR: u32 = 14;
    /// Get the protocol feature bits the back-end offers.
    pub const GET_PROTOCOL_FEATURES: u32 = 15;
    /// Acknowledge protocol feature bits.
    pub const SET_PROTOCOL_FEATURES: u32 = 16;
    /// How many queues (for net: queue pairs) the back-end supports.
    pub const GET_QUEUE_NUM: u32 = 17;
    /// Enable or disable one ring.
    pub const SET_VRING_ENABLE: u32 = 18;
    /// Broadcast a RARP for this MAC (after migration).
    pub const SEND_RARP: u32 = 19;
    /// The MTU the guest sees.
    pub const NET_SET_MTU: u32 = 20;
    /// Back-end request channel.
    pub const SET_BACKEND_REQ_FD: u32 = 21;
    /// IOTLB update/invalidate.
    pub const IOTLB_MSG: u32 = 22;
    /// Legacy ring endianness.
    pub const SET_VRING_ENDIAN: u32 = 23;
    /// Read device config space.
    pub const GET_CONFIG: u32 = 24;
    /// Write device config space.
    pub const SET_CONFIG: u32 = 25;
    /// Crypto.
    pub const CREATE_CRYPTO_SESSION: u32 = 26;
    /// Crypto.
    pub const CLOSE_CRYPTO_SESSION: u32 = 27;
    /// Postcopy migration.
    pub const POSTCOPY_ADVISE: u32 = 28;
    /// Postcopy migration.
    pub const POSTCOPY_LISTEN: u32 = 29;
    /// Postcopy migration.
    pub const POSTCOPY_END: u32 = 30;
    /// Inflight I/O tracking buffer.
    pub const GET_INFLIGHT_FD: u32 = 31;
    /// Inflight I/O tracking buffer.
    pub const SET_INFLIGHT_FD: u32 = 32;
    /// vhost-user-gpu.
    pub const GPU_SET_SOCKET: u32 = 33;
    /// Disable all rings and reset device state.
    pub const RESET_DEVICE: u32 = 34;
    /// In-band kick.
    pub const VRING_KICK: u32 = 35;
    /// How many memory slots the back-end supports.
    pub const GET_MAX_MEM_SLOTS: u32 = 36;
    /// Add one memory region (one fd).
    pub const ADD_MEM_REG: u32 = 37;
    /// Remove one memory region.
    pub const REM_MEM_REG: u32 = 38;
    /// Virtio device status write.
    pub const SET_STATUS: u32 = 39;
    /// Virtio device status read.
    pub const GET_STATUS: u32 = 40;
    /// Shared objects (dma-buf).
    pub const GET_SHARED_OBJECT: u32 = 41;
    /// Device state migration channel.
    pub const SET_DEVICE_STATE_FD: u32 = 42;
    /// Device state migration result.
    pub const CHECK_DEVICE_STATE: u32 = 43;
}

/// The spec name of request `id` (`"SET_MEM_TABLE"`), or `"UNKNOWN"`; for logs.
pub fn request_name(id: u32) -> &'static str {
    use req::*;
    match id {
        GET_FEATURES => "GET_FEATURES",
        SET_FEATURES => "SET_FEATURES",
        SET_OWNER => "SET_OWNER",
        RESET_OWNER => "RESET_OWNER",
        SET_MEM_TABLE => "SET_MEM_TABLE",
        SET_LOG_BASE => "SET_LOG_BASE",
        SET_LOG_FD => "SET_LOG_FD",
        SET_VRING_NUM => "SET_VRING_NUM",
        SET_VRING_ADDR => "SET_VRING_ADDR",
        SET_VRING_BASE => "SET_VRING_BASE",
        GET_VRING_BASE => "GET_VRING_BASE",
        SET_VRING_KICK => "SET_VRING_KICK",
        SET_VRING_CALL => "SET_VRING_CALL",
        SET_VRING_ERR => "SET_VRING_ERR",
        GET_PROTOCOL_FEATURES => "GET_PROTOCOL_FEATURES",
        SET_PROTOCOL_FEATURES => "SET_PROTOCOL_FEATURES",
        GET_QUEUE_NUM => "GET_QUEUE_NUM",
        SET_VRING_ENABLE => "SET_VRING_ENABLE",
        SEND_RARP => "SEND_RARP",
        NET_SET_MTU => "NET_SET_MTU",
        SET_BACKEND_REQ_FD => "SET_BACKEND_REQ_FD",
        IOTLB_MSG => "IOTLB_MSG",
        SET_VRING_ENDIAN => "SET_VRING_ENDIAN",
        GET_CONFIG => "GET_CONFIG",
        SET_CONFIG => "SET_CONFIG",
        CREATE_CRYPTO_SESSION => "CREATE_CRYPTO_SESSION",
        CLOSE_CRYPTO_SESSION => "CLOSE_CRYPTO_SESSION",
        POSTCOPY_ADVISE => "POSTCOPY_ADVISE",
        POSTCOPY_LISTEN => "POSTCOPY_LISTEN",
        POSTCOPY_END => "POSTCOPY_END",
        GET_INFLIGHT_FD => "GET_INFLIGHT_FD",
        SET_INFLIGHT_FD => "SET_INFLIGHT_FD",
        GPU_SET_SOCKET => "GPU_SET_SOCKET",
        RESET_DEVICE => "RESET_DEVICE",
        VRING_KICK => "VRING_KICK",
        GET_MAX_MEM_SLOTS => "GET_MAX_MEM_SLOTS",
        ADD_MEM_REG => "ADD_MEM_REG",
        REM_MEM_REG => "REM_MEM_REG",
        SET_STATUS => "SET_STATUS",
        GET_STATUS => "GET_STATUS",
        GET_SHARED_OBJECT => "GET_SHARED_OBJECT",
        SET_DEVICE_STATE_FD => "SET_DEVICE_STATE_FD",
        CHECK_DEVICE_STATE => "CHECK_DEVICE_STATE",
        _ => "UNKNOWN",
    }
}

/// Protocol feature bit numbers ("Protocol features"; `VHOST_USER_PROTOCOL_F_*`).
pub mod proto {
    /// Multiple queues; `GET_QUEUE_NUM`.
    pub const MQ: u32 = 0;
    /// Dirty log in shared memory.
    pub const LOG_SHMFD: u32 = 1;
    /// `SEND_RARP`.
    pub const RARP: u32 = 2;
    /// `need_reply` acknowledgements.
    pub const REPLY_ACK: u32 = 3;
    /// `NET_SET_MTU` (the spec's `VHOST_USER_PROTOCOL_F_MTU`).
    pub const NET_MTU: u32 = 4;
    /// Back-end -> front-end request channel.
    pub const BACKEND_REQ: u32 = 5;
    /// Legacy cross-endian rings.
    pub const CROSS_ENDIAN: u32 = 6;
    /// Crypto sessions.
    pub const CRYPTO_SESSION: u32 = 7;
    /// Postcopy userfaultfd.
    pub const PAGEFAULT: u32 = 8;
    /// `GET_CONFIG`/`SET_CONFIG`.
    pub const CONFIG: u32 = 9;
    /// Fds on the back-end channel.
    pub const BACKEND_SEND_FD: u32 = 10;
    /// Host notifiers.
    pub const HOST_NOTIFIER: u32 = 11;
    /// Inflight tracking.
    pub const INFLIGHT_SHMFD: u32 = 12;
    /// `RESET_DEVICE`.
    pub const RESET_DEVICE: u32 = 13;
    /// In-band kicks and calls.
    pub const INBAND_NOTIFICATIONS: u32 = 14;
    /// `GET_MAX_MEM_SLOTS`, `ADD_MEM_REG`, `REM_MEM_REG`.
    pub const CONFIGURE_MEM_SLOTS: u32 = 15;
    /// `SET_STATUS`/`GET_STATUS`.
    pub const STATUS: u32 = 16;
    /// Xen foreign/grant mappings in region descriptions.
    pub const XEN_MMAP: u32 = 17;
    /// Shared objects.
    pub const SHARED_OBJECT: u32 = 18;
    /// Device state migration.
    pub const DEVICE_STATE: u32 = 19;
}

/// Virtio device status bits (virtio 1.2, 2.1 "Device Status Field"), for `SET_STATUS`.
pub mod status {
    /// The guest found the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest knows how to drive it.
    pub const DRIVER: u8 = 2;
    /// The driver is set up and ready.
    pub const DRIVER_OK: u8 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u8 = 8;
    /// The device hit an error it cannot recover from.
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    /// The guest gave up on the device.
    pub const FAILED: u8 = 128;
}

/// virtio-net config space `status` bit: link up (virtio 1.2, 5.1.4).
pub const NET_S_LINK_UP: u16 = 1;
/// Smallest MTU a virtio-net device accepts (`VIRTIO_MIN_MTU`, as DPDK checks).
pub const NET_MIN_MTU: u64 = 68;
/// Largest MTU (`VIRTIO_MAX_MTU`).
pub const NET_MAX_MTU: u64 = 65535;
