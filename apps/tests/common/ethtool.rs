//! Interface offloads through the SIOCETHTOOL ioctl (ethtool is not installed here).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `ethtool -K IF tx off tso off gso off` through the SIOCETHTOOL ioctl (ethtool is not
/// installed here), checked by reading the settings back. Run inside the namespace.
pub fn offloads_off(ifname: &str) {
    const GTXCSUM: u32 = 0x16;
    const STXCSUM: u32 = 0x17;
    const GTSO: u32 = 0x1e;
    const STSO: u32 = 0x1f;
    const GGSO: u32 = 0x23;
    const SGSO: u32 = 0x24;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    // SAFETY: socket has no memory preconditions; the fd is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let ethtool = |cmd: u32, data: u32| -> u32 {
        let mut v = EthtoolValue { cmd, data };
        // SAFETY: ifreq is plain data; zero is a valid start.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
            *d = s as libc::c_char;
        }
        req.ifr_ifru.ifru_data = (&mut v as *mut EthtoolValue).cast();
        // SAFETY: req names the interface and points at v, which outlives the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
        assert_eq!(
            rc,
            0,
            "SIOCETHTOOL {cmd:#x} on {ifname}: {}",
            std::io::Error::last_os_error()
        );
        v.data
    };
    for set in [STSO, SGSO, STXCSUM] {
        ethtool(set, 0);
    }
    for get in [GTXCSUM, GTSO, GGSO] {
        assert_eq!(ethtool(get, 0), 0, "offload {get:#x} still on for {ifname}");
    }
}
