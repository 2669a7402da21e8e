//! The calling thread's name and scheduling, for the node's thread roles
//! (src/node/threads.ts): a name that `top -H`, `ps -L` and `perf` show, a nice value
//! for bulk work, and a shorter scheduler slice for the threads an acknowledgement waits on.
//! Linux only, libc declared by hand as in map.rs.

use crate::map::OsError;
use std::ffi::{c_char, c_int, c_long, CStr};

extern "C" {
    fn prctl(option: c_int, arg2: usize, arg3: usize, arg4: usize, arg5: usize) -> c_int;
    fn setpriority(which: c_int, who: c_int, prio: c_int) -> c_int;
    fn syscall(number: c_long, ...) -> c_long;
}

const PR_SET_NAME: c_int = 15;
const PRIO_PROCESS: c_int = 0;
const SCHED_OTHER: u32 = 0;

#[cfg(target_arch = "x86_64")]
const SYS_SCHED_SETATTR: c_long = 314;
#[cfg(target_arch = "aarch64")]
const SYS_SCHED_SETATTR: c_long = 274;

/// The kernel's `struct sched_attr`, first version (48 bytes; SCHED_ATTR_SIZE_VER0).
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Names the calling thread (the kernel keeps the first 15 bytes). Naming the main thread
/// renames the process as `ps` shows it; the node names its workers only.
pub fn name_this_thread(name: &CStr) -> Result<(), OsError> {
    // SAFETY: PR_SET_NAME reads at most 16 bytes of a NUL-terminated string, which `name` is.
    if unsafe { prctl(PR_SET_NAME, name.as_ptr() as *const c_char as usize, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(OsError::last("prctl"))
    }
}

/// Sets the nice value of the calling thread alone (on Linux, PRIO_PROCESS with who 0 names
/// the calling thread): a higher value yields the CPU to the node's other threads. Raising
/// it needs no privilege; lowering it below the current value may fail with EACCES.
pub fn nice_this_thread(nice: c_int) -> Result<(), OsError> {
    // SAFETY: setpriority reads no memory of ours.
    if unsafe { setpriority(PRIO_PROCESS, 0, nice) } == 0 {
        Ok(())
    } else {
        Err(OsError::last("setpriority"))
    }
}

/// Gives the calling thread (normal policy, nice `nice`) a scheduler slice of `slice_ns`
/// (Linux 6.12 and later clamp it to [0.1 ms, 100 ms]; 0 restores the default). Under EEVDF
/// a shorter slice means an earlier virtual deadline, so the thread, once woken, runs
/// before threads with the default slice instead of waiting out theirs. Needs no privilege
/// unless `nice` is below the thread's current value. Kernels before 6.12 accept the call
/// and ignore the slice.
pub fn slice_this_thread(slice_ns: u64, nice: c_int) -> Result<(), OsError> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: SCHED_OTHER,
        flags: 0,
        nice,
        priority: 0,
        runtime: slice_ns,
        deadline: 0,
        period: 0,
    };
    // SAFETY: sched_setattr(pid 0 = this thread, attr, flags 0) reads `size` bytes of attr.
    if unsafe { syscall(SYS_SCHED_SETATTR, 0 as c_int, &attr as *const SchedAttr, 0 as u32) } == 0 {
        Ok(())
    } else {
        Err(OsError::last("sched_setattr"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn own(file: &str) -> String {
        fs::read_to_string(format!("/proc/thread-self/{file}")).unwrap()
    }

    #[test]
    fn names_the_calling_thread_only() {
        std::thread::spawn(|| {
            name_this_thread(c"venue-test-name-long").unwrap();
            assert_eq!(own("comm").trim_end(), "venue-test-name");
        })
        .join()
        .unwrap();
        assert_ne!(own("comm").trim_end(), "venue-test-name");
    }

    #[test]
    fn nice_and_slice_apply_to_the_calling_thread() {
        std::thread::spawn(|| {
            nice_this_thread(5).unwrap();
            // field 19 of stat is the nice value (after the parenthesised name)
            let stat = own("stat");
            let nice: i32 = stat[stat.rfind(')').unwrap() + 2..].split(' ').nth(16).unwrap().parse().unwrap();
            assert_eq!(nice, 5);
            slice_this_thread(200_000, 5).unwrap();
            let sched = own("sched");
            let slice = sched.lines().find(|l| l.starts_with("se.slice")).map(|l| l.split(':').nth(1).unwrap().trim().to_string());
            if let Some(s) = slice {
                assert_eq!(s.parse::<u64>().unwrap(), 200_000);
            }
            // below the current nice needs privilege: EACCES or EPERM unless root
            let _ = slice_this_thread(0, 0);
        })
        .join()
        .unwrap();
    }
}
