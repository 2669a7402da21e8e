//! venue_native: maps files read-only for the event store (see docs/native.md).
//!
//! `map` is the libc half (open, fstat, mmap, munmap, madvise, the table of live
//! mappings) and needs no Node, so `cargo test` runs it. `napi` is the N-API glue; it
//! calls functions that only a running node provides, so it is left out of the test
//! build, whose binary would not link with them.

mod map;

#[cfg(not(test))]
mod napi;
