//! venue_native: maps files read-only for the event store, helps the node's writers
//! (fallocate, sync_file_range, syncfs), and names and schedules the node's threads (see
//! docs/native.md).
//!
//! `map` is the libc half for files (open, fstat, mmap, munmap, madvise, the table of live
//! mappings), `thread` the one for threads (prctl, setpriority, sched_setattr); neither
//! needs Node, so `cargo test` runs them. `napi` is the N-API glue; it
//! calls functions that only a running node provides, so it is left out of the test
//! build, whose binary would not link with them.

mod map;
mod thread;

#[cfg(not(test))]
mod napi;
