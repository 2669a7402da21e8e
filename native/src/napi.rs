//! The N-API half of the addon, for src/native/mmap.ts, the only module that loads it. The
//! N-API functions are declared here by hand (no napi-rs crates: crates.io is out of
//! reach); node resolves them when it loads the addon.
//!
//!   map(path: string): ArrayBuffer           the whole file, mapped read-only, zero copy
//!   unmap(buf: ArrayBuffer): boolean         munmap now and detach buf; false if it already was
//!   advise(buf, offset, length, advice): void madvise("normal" | "random" | "sequential" |
//!                                             "willneed" | "dontneed") over those bytes
//!   stats(): { live, bytes }                 live mappings of the whole process
//!   isMapped(path: string): boolean          whether any thread has that file mapped
//!   fallocate(fd, offset, length): void      the range's blocks allocated (map.rs)
//!   writeBack(fd, offset, length, waitOffset, waitLength): void
//!                                            the range's write-out started; the wait range's waited for (map.rs)
//!   syncFileSystem(fd): void                 every file of fd's file system made durable (syncfs, map.rs)
//!   openFileLimit(): { soft, hard }          RLIMIT_NOFILE
//!   niceThisThread(nice): void               the calling thread's nice value (thread.rs)
//!   nameThisThread(name): void               the calling thread's name
//!   sliceThisThread(sliceNs, nice): void     the calling thread's scheduler slice and nice value
//!
//! Ownership: each mapping lives in a `Box<Mapping>` that the ArrayBuffer's finalizer owns
//! and frees; `unmap` finds it through the table of live mappings (map.rs) by the buffer's
//! address and unmaps it early, so the finalizer that runs later only frees the box.
//!
//! Errors: thrown as JS `Error`s whose `code` is the errno name ("ENOENT", "EISDIR", ...);
//! "EINVAL" also for bad arguments. No Rust panic crosses into Node: every entry point runs
//! under `catch_unwind`, and a panic is thrown as code "EPANIC".
//!
//! Threads: each call runs on the JS thread of the env that made it; a worker that loads
//! the addon gets its own exports and maps for itself.

use crate::map::{self, Mapping, OsError};
use crate::thread;
use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

type Env = *mut c_void;
type Value = *mut c_void;
type CallbackInfo = *mut c_void;
type Status = c_int;
type Callback = Option<unsafe extern "C" fn(Env, CallbackInfo) -> Value>;
type Finalize = Option<unsafe extern "C" fn(Env, *mut c_void, *mut c_void)>;

const NAPI_OK: Status = 0;
const NAPI_AUTO_LENGTH: usize = usize::MAX;

extern "C" {
    fn napi_get_cb_info(env: Env, info: CallbackInfo, argc: *mut usize, argv: *mut Value, this: *mut Value, data: *mut *mut c_void) -> Status;
    fn napi_create_function(env: Env, name: *const c_char, length: usize, cb: Callback, data: *mut c_void, result: *mut Value) -> Status;
    fn napi_set_named_property(env: Env, object: Value, name: *const c_char, value: Value) -> Status;
    fn napi_throw_error(env: Env, code: *const c_char, msg: *const c_char) -> Status;
    fn napi_is_exception_pending(env: Env, result: *mut bool) -> Status;
    fn napi_get_value_string_utf8(env: Env, value: Value, buf: *mut c_char, bufsize: usize, result: *mut usize) -> Status;
    fn napi_get_value_double(env: Env, value: Value, result: *mut f64) -> Status;
    fn napi_is_arraybuffer(env: Env, value: Value, result: *mut bool) -> Status;
    fn napi_get_arraybuffer_info(env: Env, arraybuffer: Value, data: *mut *mut c_void, byte_length: *mut usize) -> Status;
    fn napi_create_arraybuffer(env: Env, byte_length: usize, data: *mut *mut c_void, result: *mut Value) -> Status;
    fn napi_create_external_arraybuffer(env: Env, data: *mut c_void, byte_length: usize, finalize: Finalize, hint: *mut c_void, result: *mut Value) -> Status;
    fn napi_detach_arraybuffer(env: Env, arraybuffer: Value) -> Status;
    fn napi_get_boolean(env: Env, value: bool, result: *mut Value) -> Status;
    fn napi_get_undefined(env: Env, result: *mut Value) -> Status;
    fn napi_create_object(env: Env, result: *mut Value) -> Status;
    fn napi_create_double(env: Env, value: f64, result: *mut Value) -> Status;
}

/// Why a call failed; becomes the thrown error.
enum Failure {
    Os(OsError),
    Arg(&'static str),
    Napi(&'static str, Status),
}

type Result<T> = std::result::Result<T, Failure>;

fn ok(status: Status, what: &'static str) -> Result<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(Failure::Napi(what, status))
    }
}

unsafe fn throw(env: Env, code: &str, message: &str) {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending);
    if pending {
        return; // N-API already set one (a failed conversion); keep it
    }
    let code = CString::new(code).unwrap_or_default();
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    napi_throw_error(env, code.as_ptr(), message.as_ptr());
}

unsafe fn throw_failure(env: Env, failure: Failure) {
    match failure {
        Failure::Os(e) => throw(env, e.code(), &e.message()),
        Failure::Arg(why) => throw(env, "EINVAL", why),
        Failure::Napi(what, status) => throw(env, "ENAPI", &format!("{what} failed (napi_status {status})")),
    }
}

/// Runs one entry point: its result, or a thrown error (never an unwinding panic).
unsafe fn entry(env: Env, info: CallbackInfo, f: unsafe fn(Env, &[Value]) -> Result<Value>) -> Value {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut argv: [Value; 5] = [null_mut(); 5];
        let mut argc = argv.len();
        ok(napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), null_mut(), null_mut()), "napi_get_cb_info")?;
        f(env, &argv[..argc.min(argv.len())])
    }));
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => {
            throw_failure(env, failure);
            null_mut()
        }
        Err(_) => {
            throw(env, "EPANIC", "venue_native: internal error (a Rust panic)");
            null_mut()
        }
    }
}

fn arg(args: &[Value], i: usize) -> Result<Value> {
    match args.get(i) {
        Some(v) if !v.is_null() => Ok(*v),
        _ => Err(Failure::Arg("missing argument")),
    }
}

unsafe fn string_arg(env: Env, v: Value, what: &'static str) -> Result<Vec<u8>> {
    let mut len = 0usize;
    if napi_get_value_string_utf8(env, v, null_mut(), 0, &mut len) != NAPI_OK {
        return Err(Failure::Arg(what));
    }
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    ok(napi_get_value_string_utf8(env, v, buf.as_mut_ptr() as *mut c_char, buf.len(), &mut written), "napi_get_value_string_utf8")?;
    buf.truncate(written);
    Ok(buf)
}

unsafe fn path_arg(env: Env, v: Value) -> Result<CString> {
    let bytes = string_arg(env, v, "path must be a string")?;
    CString::new(bytes).map_err(|_| Failure::Arg("path must not contain a NUL character"))
}

/// A non-negative integer that is exact in a double.
unsafe fn index_arg(env: Env, v: Value, what: &'static str) -> Result<usize> {
    let mut x = 0f64;
    if napi_get_value_double(env, v, &mut x) != NAPI_OK || !(x >= 0.0 && x <= 9_007_199_254_740_991.0) || x.fract() != 0.0 {
        return Err(Failure::Arg(what));
    }
    Ok(x as usize)
}

/// The address and length of an ArrayBuffer argument (null and 0 once detached).
unsafe fn buffer_arg(env: Env, v: Value) -> Result<(usize, usize)> {
    let mut is = false;
    ok(napi_is_arraybuffer(env, v, &mut is), "napi_is_arraybuffer")?;
    if !is {
        return Err(Failure::Arg("expected an ArrayBuffer"));
    }
    let mut data: *mut c_void = null_mut();
    let mut len = 0usize;
    ok(napi_get_arraybuffer_info(env, v, &mut data, &mut len), "napi_get_arraybuffer_info")?;
    Ok((data as usize, len))
}

unsafe fn boolean(env: Env, b: bool) -> Result<Value> {
    let mut v = null_mut();
    ok(napi_get_boolean(env, b, &mut v), "napi_get_boolean")?;
    Ok(v)
}

/// Frees a mapping's box when its ArrayBuffer is collected (or its env torn down);
/// dropping the box unmaps it unless `unmap` already did.
unsafe extern "C" fn finalize_mapping(_env: Env, _data: *mut c_void, hint: *mut c_void) {
    if !hint.is_null() {
        drop(Box::from_raw(hint as *mut Mapping));
    }
}

unsafe fn js_map(env: Env, args: &[Value]) -> Result<Value> {
    let path = path_arg(env, arg(args, 0)?)?;
    let mapping = Mapping::open(&path).map_err(Failure::Os)?;
    let mut result = null_mut();
    if !mapping.is_mapped() {
        // An empty file: nothing mapped, an ordinary empty buffer.
        let mut data = null_mut();
        ok(napi_create_arraybuffer(env, 0, &mut data, &mut result), "napi_create_arraybuffer")?;
        return Ok(result);
    }
    let (addr, len) = (mapping.addr() as *mut c_void, mapping.len());
    let raw = Box::into_raw(mapping);
    let status = napi_create_external_arraybuffer(env, addr, len, Some(finalize_mapping), raw as *mut c_void, &mut result);
    if status != NAPI_OK {
        drop(Box::from_raw(raw)); // no buffer, so no finalizer: unmap here
        return Err(Failure::Napi("napi_create_external_arraybuffer", status));
    }
    Ok(result)
}

unsafe fn js_unmap(env: Env, args: &[Value]) -> Result<Value> {
    let buf = arg(args, 0)?;
    let (addr, len) = buffer_arg(env, buf)?;
    if len == 0 {
        return boolean(env, false); // detached by an earlier unmap, or an empty file
    }
    let mapping = map::find(addr, len).ok_or(Failure::Arg("not a live mapping made by map()"))?;
    // Unmap first, through the box, then detach: detaching may free the box (its finalizer
    // runs once the buffer's memory is released), so the box is not touched after it.
    (*mapping).unmap().map_err(Failure::Os)?;
    ok(napi_detach_arraybuffer(env, buf), "napi_detach_arraybuffer")?;
    boolean(env, true)
}

unsafe fn js_advise(env: Env, args: &[Value]) -> Result<Value> {
    let (addr, len) = buffer_arg(env, arg(args, 0)?)?;
    let offset = index_arg(env, arg(args, 1)?, "offset must be a non-negative integer")?;
    let length = index_arg(env, arg(args, 2)?, "length must be a non-negative integer")?;
    let advice_name = string_arg(env, arg(args, 3)?, "advice must be a string")?;
    let advice = map::advice_of(&advice_name).ok_or(Failure::Arg("advice must be normal, random, sequential, willneed or dontneed"))?;
    if offset.checked_add(length).map_or(true, |end| end > len) {
        return Err(Failure::Arg("advise: range past the end of the buffer"));
    }
    if len > 0 {
        let mapping = map::find(addr, len).ok_or(Failure::Arg("not a live mapping made by map()"))?;
        (*mapping).advise(offset, length, advice).map_err(Failure::Os)?;
    }
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// A plain object of number properties.
unsafe fn numbers_object(env: Env, fields: &[(&std::ffi::CStr, f64)]) -> Result<Value> {
    let mut o = null_mut();
    ok(napi_create_object(env, &mut o), "napi_create_object")?;
    for (name, x) in fields {
        let mut v = null_mut();
        ok(napi_create_double(env, *x, &mut v), "napi_create_double")?;
        ok(napi_set_named_property(env, o, name.as_ptr(), v), "napi_set_named_property")?;
    }
    Ok(o)
}

unsafe fn js_stats(env: Env, _args: &[Value]) -> Result<Value> {
    let (live, bytes) = map::stats();
    numbers_object(env, &[(c"live", live as f64), (c"bytes", bytes as f64)])
}

/// fallocate(fd, offset, length): blocks for the range, the file extended to cover it.
unsafe fn js_fallocate(env: Env, args: &[Value]) -> Result<Value> {
    let fd = index_arg(env, arg(args, 0)?, "fd must be a non-negative integer")?;
    let offset = index_arg(env, arg(args, 1)?, "offset must be a non-negative integer")?;
    let length = index_arg(env, arg(args, 2)?, "length must be a non-negative integer")?;
    if fd > i32::MAX as usize || length == 0 {
        return Err(Failure::Arg("fd must be an open file descriptor and length above 0"));
    }
    map::allocate(fd as i32, offset as i64, length as i64).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// writeBack(fd, offset, length, waitOffset, waitLength): the range's dirty pages on their
/// way to the disk, and the wait range (an earlier one; length 0: none) written out (not durable).
unsafe fn js_write_back(env: Env, args: &[Value]) -> Result<Value> {
    let fd = index_arg(env, arg(args, 0)?, "fd must be a non-negative integer")?;
    let offset = index_arg(env, arg(args, 1)?, "offset must be a non-negative integer")?;
    let length = index_arg(env, arg(args, 2)?, "length must be a non-negative integer")?;
    let wait_offset = index_arg(env, arg(args, 3)?, "waitOffset must be a non-negative integer")?;
    let wait_length = index_arg(env, arg(args, 4)?, "waitLength must be a non-negative integer")?;
    if fd > i32::MAX as usize || length == 0 {
        return Err(Failure::Arg("fd must be an open file descriptor and length above 0"));
    }
    map::write_back(fd as i32, offset as i64, length as i64, wait_offset as i64, wait_length as i64).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// syncFileSystem(fd): syncfs of the file system that holds fd.
unsafe fn js_sync_file_system(env: Env, args: &[Value]) -> Result<Value> {
    let fd = index_arg(env, arg(args, 0)?, "fd must be a non-negative integer")?;
    if fd > i32::MAX as usize {
        return Err(Failure::Arg("fd must be an open file descriptor"));
    }
    map::sync_file_system(fd as i32).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// niceThisThread(nice): the calling thread's nice value (0..19 upward needs no privilege).
unsafe fn js_nice_this_thread(env: Env, args: &[Value]) -> Result<Value> {
    let nice = index_arg(env, arg(args, 0)?, "nice must be an integer from 0 to 19")?;
    if nice > 19 {
        return Err(Failure::Arg("nice must be an integer from 0 to 19"));
    }
    thread::nice_this_thread(nice as i32).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// nameThisThread(name): the calling thread's name (the first 15 bytes), as top -H shows it.
unsafe fn js_name_this_thread(env: Env, args: &[Value]) -> Result<Value> {
    let bytes = string_arg(env, arg(args, 0)?, "name must be a string")?;
    let name = CString::new(bytes).map_err(|_| Failure::Arg("name must not contain a NUL character"))?;
    thread::name_this_thread(&name).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// sliceThisThread(sliceNs, nice): the calling thread's scheduler slice and nice value.
unsafe fn js_slice_this_thread(env: Env, args: &[Value]) -> Result<Value> {
    let slice = index_arg(env, arg(args, 0)?, "slice must be a non-negative integer (ns)")?;
    let nice = index_arg(env, arg(args, 1)?, "nice must be an integer from 0 to 19")?;
    if nice > 19 {
        return Err(Failure::Arg("nice must be an integer from 0 to 19"));
    }
    thread::slice_this_thread(slice as u64, nice as i32).map_err(Failure::Os)?;
    let mut v = null_mut();
    ok(napi_get_undefined(env, &mut v), "napi_get_undefined")?;
    Ok(v)
}

/// openFileLimit(): { soft, hard }: this process's RLIMIT_NOFILE.
unsafe fn js_open_file_limit(env: Env, _args: &[Value]) -> Result<Value> {
    let (soft, hard) = map::open_file_limit().map_err(Failure::Os)?;
    // RLIM_INFINITY (u64::MAX) becomes a double near 1.8e19: "no limit" to any caller.
    numbers_object(env, &[(c"soft", soft as f64), (c"hard", hard as f64)])
}

unsafe fn js_is_mapped(env: Env, args: &[Value]) -> Result<Value> {
    let path = path_arg(env, arg(args, 0)?)?;
    let mapped = map::is_mapped_path(&path).map_err(Failure::Os)?;
    boolean(env, mapped)
}

unsafe extern "C" fn cb_map(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_map)
}
unsafe extern "C" fn cb_unmap(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_unmap)
}
unsafe extern "C" fn cb_advise(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_advise)
}
unsafe extern "C" fn cb_stats(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_stats)
}
unsafe extern "C" fn cb_is_mapped(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_is_mapped)
}
unsafe extern "C" fn cb_fallocate(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_fallocate)
}
unsafe extern "C" fn cb_write_back(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_write_back)
}
unsafe extern "C" fn cb_sync_file_system(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_sync_file_system)
}
unsafe extern "C" fn cb_nice_this_thread(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_nice_this_thread)
}
unsafe extern "C" fn cb_name_this_thread(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_name_this_thread)
}
unsafe extern "C" fn cb_slice_this_thread(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_slice_this_thread)
}
unsafe extern "C" fn cb_open_file_limit(env: Env, info: CallbackInfo) -> Value {
    entry(env, info, js_open_file_limit)
}

/// Node calls this once per env (the main thread and each worker) that loads the addon.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: Env, exports: Value) -> Value {
    let functions: [(&std::ffi::CStr, Callback); 12] = [
        (c"map", Some(cb_map)),
        (c"unmap", Some(cb_unmap)),
        (c"advise", Some(cb_advise)),
        (c"stats", Some(cb_stats)),
        (c"isMapped", Some(cb_is_mapped)),
        (c"fallocate", Some(cb_fallocate)),
        (c"writeBack", Some(cb_write_back)),
        (c"syncFileSystem", Some(cb_sync_file_system)),
        (c"niceThisThread", Some(cb_nice_this_thread)),
        (c"openFileLimit", Some(cb_open_file_limit)),
        (c"nameThisThread", Some(cb_name_this_thread)),
        (c"sliceThisThread", Some(cb_slice_this_thread)),
    ];
    for (name, cb) in functions {
        let mut f = null_mut();
        if napi_create_function(env, name.as_ptr(), NAPI_AUTO_LENGTH, cb, null_mut(), &mut f) != NAPI_OK
            || napi_set_named_property(env, exports, name.as_ptr(), f) != NAPI_OK
        {
            throw(env, "ENAPI", "venue_native: could not register its functions");
            return null_mut();
        }
    }
    exports
}

/// The Node-API version the addon is written against (8: Node >= 12.22; detach needs 7).
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
