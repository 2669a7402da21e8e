//! The libc half of the addon: open a file, map it read-only, unmap it, advise the kernel,
//! and keep the process-wide table of live mappings. No N-API here, so `cargo test` runs
//! all of it without Node.
//!
//! Invariants:
//! - A mapping is PROT_READ and MAP_SHARED: nothing can write through it (a write faults),
//!   and it shows the file's bytes as they are in the page cache.
//! - Every live mapping is in `TABLE`, keyed by its address, from the mmap to the munmap;
//!   the kernel never hands out one address to two live mappings, so the key is unique.
//! - `Mapping::unmap` is idempotent, and `Drop` calls it: a mapping is unmapped exactly once.
//! - Nothing here panics on bad input; errors come back as `OsError` with an errno.
//!
//! Linux only (x86_64 and aarch64): `struct stat` and the flag values are declared by hand.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!("venue_native declares libc by hand for Linux on x86_64 and aarch64 only; elsewhere Venue reads files with pread");

// ---------------------------------------------------------------------------------------
// libc, declared by hand (no `libc` crate: crates.io is out of reach).

/// `struct stat` of glibc on x86_64 (144 bytes).
#[cfg(target_arch = "x86_64")]
#[repr(C)]
pub struct Stat {
    st_dev: u64,
    st_ino: u64,
    st_nlink: u64,
    st_mode: u32,
    st_uid: u32,
    st_gid: u32,
    _pad0: i32,
    st_rdev: u64,
    st_size: i64,
    st_blksize: i64,
    st_blocks: i64,
    st_times: [i64; 6],
    _unused: [i64; 3],
}

/// `struct stat` of glibc on aarch64, the generic layout (128 bytes).
#[cfg(target_arch = "aarch64")]
#[repr(C)]
pub struct Stat {
    st_dev: u64,
    st_ino: u64,
    st_mode: u32,
    st_nlink: u32,
    st_uid: u32,
    st_gid: u32,
    st_rdev: u64,
    _pad1: u64,
    st_size: i64,
    st_blksize: i32,
    _pad2: i32,
    st_blocks: i64,
    st_times: [i64; 6],
    _unused: [i32; 2],
}

extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn fstat(fd: c_int, buf: *mut Stat) -> c_int;
    fn stat(path: *const c_char, buf: *mut Stat) -> c_int;
    fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, offset: i64) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    fn sysconf(name: c_int) -> c_long;
    fn fallocate(fd: c_int, mode: c_int, offset: i64, len: i64) -> c_int;
    fn sync_file_range(fd: c_int, offset: i64, nbytes: i64, flags: u32) -> c_int;
    fn syncfs(fd: c_int) -> c_int;
    fn getrlimit(resource: c_int, rlim: *mut Rlimit) -> c_int;
    fn __errno_location() -> *mut c_int;
}

/// struct rlimit on 64-bit Linux: two rlim_t (u64).
#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

/// RLIMIT_NOFILE on x86_64 and aarch64 Linux.
const RLIMIT_NOFILE: c_int = 7;

// The same values on x86_64 and aarch64 Linux.
const O_RDONLY: c_int = 0;
const O_NONBLOCK: c_int = 0o4000; // a FIFO must not block the open; no effect on a regular file
const O_CLOEXEC: c_int = 0o2000000;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const PROT_READ: c_int = 1;
const MAP_SHARED: c_int = 1;
const SC_PAGESIZE: c_int = 30;

pub const EPERM: c_int = 1;
pub const ENOENT: c_int = 2;
pub const EINTR: c_int = 4;
pub const EIO: c_int = 5;
pub const EBADF: c_int = 9;
pub const EAGAIN: c_int = 11;
pub const ENOMEM: c_int = 12;
pub const EACCES: c_int = 13;
pub const EFAULT: c_int = 14;
pub const EBUSY: c_int = 16;
pub const ENODEV: c_int = 19;
pub const ENOTDIR: c_int = 20;
pub const EISDIR: c_int = 21;
pub const EINVAL: c_int = 22;
pub const ENFILE: c_int = 23;
pub const EMFILE: c_int = 24;
pub const ETXTBSY: c_int = 26;
pub const EFBIG: c_int = 27;
pub const ENAMETOOLONG: c_int = 36;
pub const ELOOP: c_int = 40;
pub const ENOSPC: c_int = 28;
pub const EOVERFLOW: c_int = 75;
pub const EOPNOTSUPP: c_int = 95;
pub const EDQUOT: c_int = 122;

/// The errno name Node uses for the same failure (`err.code` of `fs`), so the two paths
/// of src/native/mmap.ts report one code per cause.
pub fn errno_name(errno: c_int) -> &'static str {
    match errno {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EIO => "EIO",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        ENODEV => "ENODEV",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        ETXTBSY => "ETXTBSY",
        EFBIG => "EFBIG",
        ENAMETOOLONG => "ENAMETOOLONG",
        ELOOP => "ELOOP",
        ENOSPC => "ENOSPC",
        EOVERFLOW => "EOVERFLOW",
        EOPNOTSUPP => "ENOTSUP",
        EDQUOT => "EDQUOT",
        _ => "EUNKNOWN",
    }
}

fn errno() -> c_int {
    // SAFETY: glibc returns this thread's errno slot, valid for the thread's life.
    unsafe { *__errno_location() }
}

/// A failed system call: which step failed and the errno it set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsError {
    pub errno: c_int,
    pub op: &'static str,
}

impl OsError {
    pub(crate) fn last(op: &'static str) -> OsError {
        OsError { errno: errno(), op }
    }
    pub fn new(errno: c_int, op: &'static str) -> OsError {
        OsError { errno, op }
    }
    pub fn code(&self) -> &'static str {
        errno_name(self.errno)
    }
    /// "open: No such file or directory (os error 2)".
    pub fn message(&self) -> String {
        format!("{}: {}", self.op, std::io::Error::from_raw_os_error(self.errno))
    }
}

/// The page size, read once.
pub fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { sysconf(SC_PAGESIZE) };
    let page = if n > 0 && (n as usize).is_power_of_two() { n as usize } else { 4096 };
    PAGE.store(page, Ordering::Relaxed);
    page
}

/// `offset` rounded down to a multiple of `page` (a power of two).
pub fn align_down(offset: usize, page: usize) -> usize {
    offset & !(page - 1)
}

/// The page-aligned range madvise needs to cover bytes [offset, offset + length) of a
/// mapping that starts on a page boundary: (aligned start, length from there).
pub fn advise_range(offset: usize, length: usize, page: usize) -> (usize, usize) {
    let start = align_down(offset, page);
    (start, offset - start + length)
}

// ---------------------------------------------------------------------------------------
// The table of live mappings, shared by every thread of the process.

struct Live {
    len: usize,
    dev: u64,
    ino: u64,
    /// The `Mapping` that owns this entry (a heap address; see `find`).
    owner: usize,
}

static TABLE: Mutex<BTreeMap<usize, Live>> = Mutex::new(BTreeMap::new());

fn table() -> MutexGuard<'static, BTreeMap<usize, Live>> {
    // A panic while holding the lock cannot leave the map half-updated (each change is
    // one insert or remove), so a poisoned lock is still consistent.
    TABLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Live mappings and the bytes they cover, over the whole process.
pub fn stats() -> (usize, usize) {
    let t = table();
    (t.len(), t.values().map(|l| l.len).sum())
}

/// Whether any thread of the process has the file at `path` mapped (matched by device and
/// inode, so another name for the same file counts). A missing file is not mapped.
pub fn is_mapped_path(path: &CStr) -> Result<bool, OsError> {
    let mut st = std::mem::MaybeUninit::<Stat>::zeroed();
    // SAFETY: path is NUL-terminated; st is large enough for the kernel's struct stat.
    if unsafe { stat(path.as_ptr(), st.as_mut_ptr()) } != 0 {
        let e = OsError::last("stat");
        return if e.errno == ENOENT || e.errno == ENOTDIR { Ok(false) } else { Err(e) };
    }
    // SAFETY: stat succeeded and filled it.
    let st = unsafe { st.assume_init() };
    Ok(table().values().any(|l| l.dev == st.st_dev && l.ino == st.st_ino))
}

/// The size and identity of an open file, or why it cannot be mapped.
fn regular_file_facts(fd: c_int) -> Result<(usize, u64, u64), OsError> {
    let mut st = std::mem::MaybeUninit::<Stat>::zeroed();
    // SAFETY: fd is open; st is large enough for the kernel's struct stat.
    if unsafe { fstat(fd, st.as_mut_ptr()) } != 0 {
        return Err(OsError::last("fstat"));
    }
    // SAFETY: fstat succeeded and filled it.
    let st = unsafe { st.assume_init() };
    match st.st_mode & S_IFMT {
        S_IFREG => {}
        S_IFDIR => return Err(OsError::new(EISDIR, "map")),
        _ => return Err(OsError::new(EINVAL, "map (not a regular file)")),
    }
    if st.st_size < 0 || st.st_size as u64 > isize::MAX as u64 {
        return Err(OsError::new(EFBIG, "map"));
    }
    Ok((st.st_size as usize, st.st_dev, st.st_ino))
}

// ---------------------------------------------------------------------------------------
// One mapping.

/// A whole file mapped read-only. Lives in a Box (its heap address is its identity in the
/// table) until dropped; dropping it unmaps it if `unmap` was not called.
pub struct Mapping {
    addr: usize,
    len: usize,
    mapped: bool,
}

pub const ADVICE_NORMAL: c_int = 0;
pub const ADVICE_RANDOM: c_int = 1;
pub const ADVICE_SEQUENTIAL: c_int = 2;
pub const ADVICE_WILLNEED: c_int = 3;
pub const ADVICE_DONTNEED: c_int = 4;

/// The madvise value for an advice name of src/native/mmap.ts.
pub fn advice_of(name: &[u8]) -> Option<c_int> {
    match name {
        b"normal" => Some(ADVICE_NORMAL),
        b"random" => Some(ADVICE_RANDOM),
        b"sequential" => Some(ADVICE_SEQUENTIAL),
        b"willneed" => Some(ADVICE_WILLNEED),
        b"dontneed" => Some(ADVICE_DONTNEED),
        _ => None,
    }
}

impl Mapping {
    /// Opens `path` read-only, maps all of it, and closes the descriptor (the mapping keeps
    /// the file alive). An empty file gives an empty, unmapped `Mapping`: mmap of zero
    /// bytes is EINVAL, and there is nothing to read.
    pub fn open(path: &CStr) -> Result<Box<Mapping>, OsError> {
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { open(path.as_ptr(), O_RDONLY | O_CLOEXEC | O_NONBLOCK) };
        if fd < 0 {
            return Err(OsError::last("open"));
        }
        let result = Self::map_fd(fd);
        // Closing a descriptor opened read-only loses nothing whatever close returns, and
        // the mapping (if any) stays valid without it.
        // SAFETY: fd is ours and open.
        unsafe { close(fd) };
        result
    }

    fn map_fd(fd: c_int) -> Result<Box<Mapping>, OsError> {
        let (len, dev, ino) = regular_file_facts(fd)?;
        if len == 0 {
            return Ok(Box::new(Mapping { addr: 0, len: 0, mapped: false }));
        }
        // SAFETY: a fresh read-only shared mapping of an open regular file; no address hint.
        let p = unsafe { mmap(std::ptr::null_mut(), len, PROT_READ, MAP_SHARED, fd, 0) };
        if p as isize == -1 || p.is_null() {
            return Err(OsError::last("mmap"));
        }
        let mapping = Box::new(Mapping { addr: p as usize, len, mapped: true });
        let owner = &*mapping as *const Mapping as usize;
        table().insert(p as usize, Live { len, dev, ino, owner });
        Ok(mapping)
    }

    pub fn addr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    /// Unmaps now. Returns false (and does nothing) if it was never mapped or is already
    /// unmapped, so a second call, or the drop after an explicit call, is harmless.
    pub fn unmap(&mut self) -> Result<bool, OsError> {
        if !self.mapped {
            return Ok(false);
        }
        let mut t = table();
        // SAFETY: addr/len are exactly what mmap returned, and still mapped (`mapped`).
        if unsafe { munmap(self.addr as *mut c_void, self.len) } != 0 {
            // Only EINVAL is possible for a range mmap gave us: a broken invariant. Keep the
            // entry so the table still tells the truth.
            return Err(OsError::last("munmap"));
        }
        t.remove(&self.addr);
        self.mapped = false;
        Ok(true)
    }

    /// madvise over the pages that hold bytes [offset, offset + length).
    pub fn advise(&self, offset: usize, length: usize, advice: c_int) -> Result<(), OsError> {
        let end = offset.checked_add(length).ok_or(OsError::new(EINVAL, "advise"))?;
        if end > self.len {
            return Err(OsError::new(EINVAL, "advise (range past the end of the mapping)"));
        }
        if length == 0 || !self.mapped {
            return Ok(());
        }
        let (start, span) = advise_range(offset, length, page_size());
        // SAFETY: [addr + start, addr + start + span) lies inside the live mapping: start is
        // offset rounded down to a page, and start + span == end <= len.
        if unsafe { madvise((self.addr + start) as *mut c_void, span, advice) } != 0 {
            return Err(OsError::last("madvise"));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // A munmap that fails leaves the pages mapped (a leak), which beats a panic here.
        let _ = self.unmap();
    }
}

/// The live `Mapping` at exactly this address and length, if there is one. The pointer is
/// valid while the mapping stays mapped: its owner removes the entry before it unmaps or
/// is freed, and both happen on the owner's thread, the thread that calls this.
pub fn find(addr: usize, len: usize) -> Option<*mut Mapping> {
    match table().get(&addr) {
        Some(l) if l.len == len => Some(l.owner as *mut Mapping),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------

/// This process's open-file limits (RLIMIT_NOFILE): (soft, hard). Node raises the soft one
/// to the hard one as it starts, so under Node they are equal.
pub fn open_file_limit() -> Result<(u64, u64), OsError> {
    let mut r = Rlimit { cur: 0, max: 0 };
    // SAFETY: getrlimit writes one struct rlimit, which `r` is.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(OsError::last("getrlimit"));
    }
    Ok((r.cur, r.max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io::Write;
    use std::sync::atomic::AtomicU32;

    // The table is process-wide and the harness runs tests on several threads: the tests
    // that count mappings take this lock.
    static SERIAL: Mutex<()> = Mutex::new(());
    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[test]
    fn reads_the_open_file_limits() {
        let (soft, hard) = open_file_limit().expect("getrlimit");
        assert!(soft >= 3 && soft <= hard);
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("venue-native-{}-{}-{}", std::process::id(), n, name))
    }

    fn temp_file(name: &str, bytes: &[u8]) -> (std::path::PathBuf, CString) {
        let p = temp_path(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(bytes).unwrap();
        let c = CString::new(p.to_str().unwrap()).unwrap();
        (p, c)
    }

    fn content(n: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn allocate_reserves_the_blocks_and_extends_the_file() {
        let (p, c) = temp_file("alloc", b"");
        let fd = unsafe { open(c.as_ptr(), 2 | O_CLOEXEC) }; // O_RDWR
        assert!(fd >= 0);
        allocate(fd, 0, 1 << 20).unwrap();
        assert_eq!(allocate(fd, 0, 0).unwrap_err().errno, EINVAL);
        unsafe { close(fd) };
        assert_eq!(allocate(fd, 0, 4096).unwrap_err().errno, EBADF);
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.len(), 1 << 20);
        assert!(meta.blocks() * 512 >= 1 << 20);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn stat_layout_matches_the_platform() {
        let expected = if cfg!(target_arch = "x86_64") { 144 } else { 128 };
        assert_eq!(std::mem::size_of::<Stat>(), expected);
        let (p, c) = temp_file("stat", &content(12345));
        let fd = unsafe { open(c.as_ptr(), O_RDONLY | O_CLOEXEC) };
        assert!(fd >= 0);
        let (len, dev, ino) = regular_file_facts(fd).unwrap();
        unsafe { close(fd) };
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!((len as u64, dev, ino), (meta.len(), meta.dev(), meta.ino()));
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn maps_the_bytes_of_the_file() {
        let _s = serial();
        let bytes = content(3 * page_size() + 17);
        let (p, c) = temp_file("bytes", &bytes);
        let before = stats();
        let mut m = Mapping::open(&c).unwrap();
        assert!(m.is_mapped());
        assert_eq!(m.len(), bytes.len());
        assert_eq!(m.addr() as usize % page_size(), 0);
        let seen = unsafe { std::slice::from_raw_parts(m.addr(), m.len()) };
        assert_eq!(seen, &bytes[..]);
        assert_eq!(stats(), (before.0 + 1, before.1 + bytes.len()));
        assert!(is_mapped_path(&c).unwrap());
        assert_eq!(find(m.addr() as usize, m.len()), Some(&mut *m as *mut Mapping));
        assert_eq!(find(m.addr() as usize, m.len() - 1), None);

        assert_eq!(m.unmap(), Ok(true));
        assert_eq!(m.unmap(), Ok(false), "a second unmap does nothing");
        assert_eq!(stats(), before);
        assert!(!is_mapped_path(&c).unwrap());
        assert_eq!(find(m.addr() as usize, m.len()), None);
        drop(m); // the drop after an explicit unmap must not unmap again
        assert_eq!(stats(), before);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn drop_unmaps() {
        let _s = serial();
        let (p, c) = temp_file("drop", &content(100));
        let before = stats();
        let maps: Vec<_> = (0..10).map(|_| Mapping::open(&c).unwrap()).collect();
        assert_eq!(stats().0, before.0 + 10);
        drop(maps);
        assert_eq!(stats(), before);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_mapping_outlives_the_unlinked_file() {
        let _s = serial();
        let bytes = content(5000);
        let (p, c) = temp_file("unlinked", &bytes);
        let m = Mapping::open(&c).unwrap();
        std::fs::remove_file(&p).unwrap();
        let seen = unsafe { std::slice::from_raw_parts(m.addr(), m.len()) };
        assert_eq!(seen, &bytes[..]);
    }

    #[test]
    fn an_empty_file_maps_to_nothing() {
        let _s = serial();
        let (p, c) = temp_file("empty", &[]);
        let before = stats();
        let mut m = Mapping::open(&c).unwrap();
        assert_eq!((m.len(), m.is_mapped()), (0, false));
        assert_eq!(stats(), before);
        assert_eq!(m.advise(0, 0, ADVICE_RANDOM), Ok(()));
        assert_eq!(m.unmap(), Ok(false));
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn errors_carry_the_errno_name() {
        let missing = CString::new(temp_path("missing").to_str().unwrap()).unwrap();
        let e = Mapping::open(&missing).err().unwrap();
        assert_eq!((e.code(), e.op), ("ENOENT", "open"));
        assert!(e.message().contains("No such file"), "{}", e.message());

        let dir = CString::new(std::env::temp_dir().to_str().unwrap()).unwrap();
        assert_eq!(Mapping::open(&dir).err().unwrap().code(), "EISDIR");

        let devnull = CString::new("/dev/null").unwrap();
        assert_eq!(Mapping::open(&devnull).err().unwrap().code(), "EINVAL");

        let (p, c) = temp_file("notdir", b"x");
        let under = CString::new(format!("{}/child", p.to_str().unwrap())).unwrap();
        assert_eq!(Mapping::open(&under).err().unwrap().code(), "ENOTDIR");
        assert!(!is_mapped_path(&under).unwrap());
        std::fs::remove_file(p).unwrap();
        let _ = c;

        assert_eq!(errno_name(EACCES), "EACCES");
        assert_eq!(errno_name(9999), "EUNKNOWN");
    }

    #[test]
    fn advise_aligns_the_start_down_to_a_page() {
        assert_eq!(align_down(0, 4096), 0);
        assert_eq!(align_down(4095, 4096), 0);
        assert_eq!(align_down(4096, 4096), 4096);
        assert_eq!(align_down(10_000, 4096), 8192);
        assert_eq!(advise_range(10_000, 100, 4096), (8192, 1908));
        assert_eq!(advise_range(8192, 4096, 4096), (8192, 4096));
        assert_eq!(advice_of(b"random"), Some(ADVICE_RANDOM));
        assert_eq!(advice_of(b"willneed"), Some(ADVICE_WILLNEED));
        assert_eq!(advice_of(b"Random"), None);

        let _s = serial();
        let (p, c) = temp_file("advise", &content(5 * page_size()));
        let m = Mapping::open(&c).unwrap();
        for advice in [ADVICE_RANDOM, ADVICE_SEQUENTIAL, ADVICE_WILLNEED, ADVICE_DONTNEED, ADVICE_NORMAL] {
            assert_eq!(m.advise(123, 2 * page_size(), advice), Ok(()));
        }
        assert_eq!(m.advise(0, m.len(), ADVICE_DONTNEED), Ok(()));
        // After DONTNEED a shared file mapping reads the file again, unchanged.
        let seen = unsafe { std::slice::from_raw_parts(m.addr(), m.len()) };
        assert_eq!(seen, &content(5 * page_size())[..]);
        assert_eq!(m.advise(1, m.len(), ADVICE_RANDOM).err().unwrap().code(), "EINVAL");
        assert_eq!(m.advise(usize::MAX, 2, ADVICE_RANDOM).err().unwrap().code(), "EINVAL");
        std::fs::remove_file(p).unwrap();
    }
}

/// Allocates blocks for bytes [offset, offset + len) of the open file `fd` and extends its
/// size to cover them (Linux fallocate, mode 0): writes into the range cannot fail for want
/// of space. EOPNOTSUPP where the file system cannot (the caller falls back); ENOSPC and
/// EDQUOT when the disk or the quota is full.
pub fn allocate(fd: c_int, offset: i64, len: i64) -> Result<(), OsError> {
    if offset < 0 || len <= 0 {
        return Err(OsError::new(EINVAL, "fallocate"));
    }
    loop {
        // SAFETY: fallocate reads no memory of ours; a bad fd is an EBADF, not UB.
        if unsafe { fallocate(fd, 0, offset, len) } == 0 {
            return Ok(());
        }
        let e = errno();
        if e != EINTR {
            return Err(OsError::new(e, "fallocate"));
        }
    }
}

// sync_file_range flags.
const SYNC_FILE_RANGE_WAIT_BEFORE: u32 = 1;
const SYNC_FILE_RANGE_WRITE: u32 = 2;
const SYNC_FILE_RANGE_WAIT_AFTER: u32 = 4;

/// Starts the write-out of bytes [offset, offset + len) of the open file `fd` to the disk
/// without waiting for it (Linux sync_file_range, SYNC_FILE_RANGE_WRITE), then, when
/// `wait_len` > 0, waits until bytes [wait_offset, wait_offset + wait_len) (an earlier
/// range) are written out (WAIT_BEFORE | WRITE | WAIT_AFTER). Makes nothing durable: no
/// metadata, and no flush of the device's write cache; only a later fdatasync or fsync
/// does that. What it buys is that a large file leaves the page cache in small pieces as
/// it is written, at most about two pieces ahead of the disk, instead of in one burst at
/// that sync.
pub fn write_back(fd: c_int, offset: i64, len: i64, wait_offset: i64, wait_len: i64) -> Result<(), OsError> {
    if offset < 0 || len <= 0 || wait_offset < 0 || wait_len < 0 {
        return Err(OsError::new(EINVAL, "sync_file_range"));
    }
    file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE)?;
    if wait_len > 0 {
        file_range(fd, wait_offset, wait_len, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)?;
    }
    Ok(())
}

fn file_range(fd: c_int, offset: i64, len: i64, flags: u32) -> Result<(), OsError> {
    loop {
        // SAFETY: sync_file_range reads no memory of ours; a bad fd is an EBADF, not UB.
        if unsafe { sync_file_range(fd, offset, len, flags) } == 0 {
            return Ok(());
        }
        let e = errno();
        if e != EINTR {
            return Err(OsError::new(e, "sync_file_range"));
        }
    }
}

/// Makes every file of the file system that holds the open file `fd` durable, data and
/// metadata, with one device cache flush (Linux syncfs). Reports the write-out errors the
/// file system met since `fd` was opened (Linux 5.8 and later), so a caller opens `fd`
/// before it writes the files it means to sync.
pub fn sync_file_system(fd: c_int) -> Result<(), OsError> {
    loop {
        // SAFETY: syncfs reads no memory of ours; a bad fd is an EBADF, not UB.
        if unsafe { syncfs(fd) } == 0 {
            return Ok(());
        }
        let e = errno();
        if e != EINTR {
            return Err(OsError::new(e, "syncfs"));
        }
    }
}

#[cfg(test)]
mod write_back_tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn starts_the_write_out_of_a_range() {
        let p = std::env::temp_dir().join(format!("venue-native-wb-{}", std::process::id()));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(&vec![7u8; 1 << 16]).unwrap();
        write_back(f.as_raw_fd(), 0, 1 << 15, 0, 0).unwrap();
        write_back(f.as_raw_fd(), 1 << 15, 1 << 15, 0, 1 << 15).unwrap();
        assert_eq!(write_back(f.as_raw_fd(), 0, 0, 0, 0).err().unwrap().code(), "EINVAL");
        assert_eq!(write_back(f.as_raw_fd(), 0, 10, 0, -1).err().unwrap().code(), "EINVAL");
        assert_eq!(write_back(-1, 0, 10, 0, 0).err().unwrap().code(), "EBADF");
        sync_file_system(f.as_raw_fd()).unwrap();
        assert_eq!(sync_file_system(-1).err().unwrap().code(), "EBADF");
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), vec![7u8; 1 << 16]);
        std::fs::remove_file(p).unwrap();
    }
}
