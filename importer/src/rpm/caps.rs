//! File capabilities: the libcap text form in FILECAPS (`cap_net_raw,cap_net_admin=ep`) to the
//! binary `security.capability` xattr rpm writes: `vfs_cap_data` revision 2, little-endian,
//! `magic_etc ‖ permitted[0] ‖ inheritable[0] ‖ permitted[1] ‖ inheritable[1]` (20 bytes),
//! with the effective flag in `magic_etc` (rpm-format.md §1.6).

use super::error::{RpmError, RpmResult};

/// Capability names in kernel number order (`linux/capability.h`).
const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x1;

fn capability_number(name: &str) -> RpmResult<u32> {
    let bad = || RpmError::new("file capabilities", format!("unknown capability {name:?}"));
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").ok_or_else(bad)?;
    if let Some(index) = NAMES.iter().position(|n| *n == bare) {
        return Ok(index as u32);
    }
    bare.parse::<u32>().ok().filter(|n| *n < 64).ok_or_else(bad)
}

/// Converts FILECAPS text to the xattr value, or None when it grants nothing.
pub fn caps_to_xattr(text: &str) -> RpmResult<Option<Vec<u8>>> {
    let (mut permitted, mut inheritable, mut effective) = (0u64, 0u64, 0u64);
    for clause in text.split_whitespace() {
        let split = clause
            .find(['=', '+', '-'])
            .ok_or_else(|| RpmError::new("file capabilities", format!("clause {clause:?} has no operator")))?;
        let (list, mut actions) = clause.split_at(split);
        let mask = if list.is_empty() || list.eq_ignore_ascii_case("all") {
            u64::MAX >> (64 - NAMES.len())
        } else {
            list.split(',').try_fold(0u64, |mask, name| Ok::<_, RpmError>(mask | (1u64 << capability_number(name)?)))?
        };
        while let Some(op) = actions.chars().next() {
            let rest = &actions[1..];
            let flags_end = rest.find(['=', '+', '-']).unwrap_or(rest.len());
            let (flags, next) = rest.split_at(flags_end);
            if op == '=' {
                permitted &= !mask;
                inheritable &= !mask;
                effective &= !mask;
            }
            for flag in flags.chars() {
                let set = match flag {
                    'p' => &mut permitted,
                    'i' => &mut inheritable,
                    'e' => &mut effective,
                    other => {
                        return Err(RpmError::new("file capabilities", format!("unknown flag {other:?} in {clause:?}")))
                    }
                };
                if op == '-' {
                    *set &= !mask;
                } else {
                    *set |= mask;
                }
            }
            actions = next;
        }
    }
    if permitted == 0 && inheritable == 0 && effective == 0 {
        return Ok(None);
    }
    let magic = VFS_CAP_REVISION_2 | if effective != 0 { VFS_CAP_FLAGS_EFFECTIVE } else { 0 };
    let mut out = Vec::with_capacity(20);
    for word in [magic, permitted as u32, inheritable as u32, (permitted >> 32) as u32, (inheritable >> 32) as u32] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_writes_net_raw_ep_like_this() {
        // rpm-format.md §1.6, verified with `rpm -i --root` and getxattr.
        let value = caps_to_xattr("cap_net_raw=ep").unwrap().unwrap();
        assert_eq!(hex::encode(value), "0100000200200000000000000000000000000000");
    }

    #[test]
    fn lists_operators_and_errors() {
        let both = caps_to_xattr("cap_net_raw,cap_net_admin=ep").unwrap().unwrap();
        assert_eq!(&both[4..8], &((1u32 << 13) | (1 << 12)).to_le_bytes());
        let no_effective = caps_to_xattr("cap_setuid+p").unwrap().unwrap();
        assert_eq!(&no_effective[..4], &0x0200_0000u32.to_le_bytes());
        let high = caps_to_xattr("cap_checkpoint_restore=p").unwrap().unwrap();
        assert_eq!(&high[12..16], &(1u32 << 8).to_le_bytes());
        assert_eq!(caps_to_xattr("").unwrap(), None);
        assert_eq!(caps_to_xattr("cap_chown+p cap_chown-p").unwrap(), None);
        assert!(caps_to_xattr("cap_bogus=ep").is_err());
        assert!(caps_to_xattr("cap_chown").is_err());
        assert!(caps_to_xattr("cap_chown=x").is_err());
    }
}
