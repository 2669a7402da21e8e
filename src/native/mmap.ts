/**
 * Read-only files for the event store: the one module that loads the native addon
 * (native/, docs/native.md), and the one owner of its error codes.
 *
 * `openReadOnly(path)` maps the whole file read-only when the addon is loaded and hands
 * out views of the mapping (zero copy). Without the addon it reads with pread
 * (`fs.readSync` at a position) into a fresh array per call. Both return the same bytes,
 * throw the same error classes and keep the same three rules:
 *
 * 1. Never write through a mapping. The pages are mapped PROT_READ, so a write into a
 *    view is a SIGSEGV that ends the process, not an exception. Treat every array that
 *    `bytes()` returns as read-only. (The pread copies could be written without harm, but
 *    code that writes them would crash where the addon is built.)
 * 2. Never truncate a file that is open here: reading a page a truncation removed from a
 *    mapping is a SIGBUS. Code that truncates a file or rewrites it in place calls
 *    `assertNotMapped(path)` first, which throws FileMappedError while a ReadOnlyFile of
 *    this thread has that file open, or while any thread of the process still has it
 *    mapped (the addon keeps that table). Replacing a file by rename, or unlinking it, is
 *    safe: the mapping keeps the old inode, and needs no check.
 * 3. Each thread maps for itself. A mapping cannot reach another thread (postMessage of
 *    its ArrayBuffer copies the bytes; the buffer cannot be transferred). A ReadOnlyFile
 *    records the thread that opened it, and `bytes()` anywhere else throws
 *    WrongThreadError. A worker opens the path itself.
 *
 * Lifetime: `close()` unmaps at once and is idempotent; every view of the mapping then
 * has length 0 (its ArrayBuffer is detached), and any later call throws FileClosedError.
 * A file dropped without `close()` is unmapped, or its descriptor closed, when it is
 * garbage-collected; that is a safety net, not a plan: close what you open.
 *
 * Loading: the first call that needs the addon loads native/venue_native.node. If it is
 * missing or fails to load, one line goes to stderr and every file is read with pread.
 * VENUE_NATIVE=off forces pread (and says so on that line); VENUE_NATIVE=on makes a
 * missing addon an error (NativeAddonError) instead; VENUE_NATIVE_ADDON=path loads the
 * addon from elsewhere.
 *
 * Threads: any. The module state (the loaded addon, the open-file registry) is per thread.
 */

import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { threadId } from "node:worker_threads";
import { VenueError } from "../stdx/errors.ts";

/** madvise hints `advise()` accepts. They change paging, never the bytes read. */
export const ADVICE_KINDS = ["normal", "random", "sequential", "willneed", "dontneed"] as const;
export type AdviceKind = (typeof ADVICE_KINDS)[number];

/** A file opened for reading whole, by mapping (`mapped`) or by pread. */
export interface ReadOnlyFile {
  readonly path: string;
  /** Bytes, as the file was when opened. */
  readonly size: number;
  /** True when `bytes()` returns views of a mapping; false on the pread path. */
  readonly mapped: boolean;
  /**
   * Bytes [offset, offset + length). Mapped: a view of the mapping (no copy), read-only
   * (rule 1), valid until `close()`. Pread: a fresh array per call, the caller's to keep.
   * Throws FileRangeError past the end, FileClosedError after close, WrongThreadError
   * on a thread other than the opener's.
   */
  bytes(offset: number, length: number): Uint8Array;
  /** Hints the kernel how [offset, offset + length) will be read (the whole file by default); nothing on the pread path. */
  advise(kind: AdviceKind, offset?: number, length?: number): void;
  /** Unmaps or closes the descriptor. Idempotent. */
  close(): void;
}

export interface OpenOptions {
  /**
   * true: map, and throw NativeAddonError if the addon is not loaded. false: pread, even
   * where the addon is loaded (for tests and comparisons). Absent: map if the addon is
   * loaded, else pread.
   */
  readonly native?: boolean;
}

export interface NativeStatus {
  loaded: boolean;
  /** Why not, when not loaded. */
  reason?: string;
}

/** Live mappings and the bytes they cover, over every thread of the process. */
export interface MappingStats {
  live: number;
  bytes: number;
}

// ---------------------------------------------------------------------------------------
// Errors: OS faults keep the errno name Node uses ("ENOENT", ...); the module's own
// conditions have names of their own. The path is in every message.

/** Any fault opening or reading a read-only file, mapped or not. */
export class MapError extends VenueError {
  override readonly name: string = "MapError";
  constructor(code: string, readonly path: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** ENOENT, ENOTDIR: no file at that path. */
export class FileNotFoundError extends MapError {
  override readonly name: string = "FileNotFoundError";
}

/** EACCES, EPERM: the process may not read it. */
export class FileAccessError extends MapError {
  override readonly name: string = "FileAccessError";
}

/** EISDIR for a directory, EINVAL for anything else that is not a regular file. */
export class NotAFileError extends MapError {
  override readonly name: string = "NotAFileError";
}

/** READ_OUT_OF_RANGE: a read outside [0, size). */
export class FileRangeError extends MapError {
  override readonly name: string = "FileRangeError";
}

/** FILE_CLOSED: a call after `close()`. */
export class FileClosedError extends MapError {
  override readonly name: string = "FileClosedError";
}

/** WRONG_THREAD: a call from a thread other than the one that opened the file (rule 3). */
export class WrongThreadError extends MapError {
  override readonly name: string = "WrongThreadError";
}

/** FILE_MAPPED: `assertNotMapped` found the file open or mapped (rule 2). */
export class FileMappedError extends MapError {
  override readonly name: string = "FileMappedError";
}

/** NATIVE_ADDON_MISSING: the addon was required (VENUE_NATIVE=on, or `native: true`) and is not loaded; NATIVE_CONFIG_INVALID: VENUE_NATIVE is not on, off or auto. */
export class NativeAddonError extends VenueError {
  override readonly name: string = "NativeAddonError";
}

const OS_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  ENOTDIR: "a component of the path is not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "it is a directory",
  EINVAL: "not a regular file",
  EMFILE: "too many open files in this process",
  ENFILE: "too many open files in the system",
  ENOMEM: "out of memory or address space for the mapping",
  EIO: "the device reported an I/O error",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the path is too long",
};

/** An error from the addon or from `fs`, as this module's class for its code. */
function fileError(err: unknown, path: string, op: string): MapError {
  const raw = (err as { code?: unknown } | null)?.code;
  const code = typeof raw === "string" ? raw : "EUNKNOWN";
  const why = OS_CAUSES[code] ?? (err instanceof Error ? err.message : String(err));
  const message = `cannot ${op} ${path}: ${why} (${code})`;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new FileNotFoundError(code, path, message, { cause: err });
    case "EACCES":
    case "EPERM":
      return new FileAccessError(code, path, message, { cause: err });
    case "EISDIR":
    case "EINVAL":
      return new NotAFileError(code, path, message, { cause: err });
    default:
      return new MapError(code, path, message, { cause: err });
  }
}

function notRegular(path: string, isDirectory: boolean): NotAFileError {
  const code = isDirectory ? "EISDIR" : "EINVAL";
  return new NotAFileError(code, path, `cannot open ${path}: ${OS_CAUSES[code]} (${code})`);
}

function closedError(path: string): FileClosedError {
  return new FileClosedError("FILE_CLOSED", path, `${path} was closed; open it again to read it`);
}

function wrongThread(path: string, opener: number): WrongThreadError {
  return new WrongThreadError(
    "WRONG_THREAD",
    path,
    `${path} was opened on thread ${opener} and cannot be read on thread ${threadId}: each thread opens (maps) the file itself`,
  );
}

function rangeError(path: string, size: number, offset: number, length: number): FileRangeError {
  return new FileRangeError("READ_OUT_OF_RANGE", path, `read of ${length} bytes at ${offset} is outside ${path} (${size} bytes)`);
}

function checkRange(path: string, size: number, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
    throw rangeError(path, size, offset, length);
  }
}

function checkAdvice(kind: AdviceKind): void {
  if (!ADVICE_KINDS.includes(kind)) throw new TypeError(`advice must be one of ${ADVICE_KINDS.join(", ")}, got ${String(kind)}`);
}

// ---------------------------------------------------------------------------------------
// The addon: loaded once per thread, on first need.

interface Addon {
  map(path: string): ArrayBuffer;
  unmap(buffer: ArrayBuffer): boolean;
  advise(buffer: ArrayBuffer, offset: number, length: number, advice: AdviceKind): void;
  stats(): MappingStats;
  isMapped(path: string): boolean;
  /** Absent from builds before it was added: callers fall back. */
  fallocate?(fd: number, offset: number, length: number): void;
  writeBack?(fd: number, offset: number, length: number, waitOffset: number, waitLength: number): void;
  syncFileSystem?(fd: number): void;
  niceThisThread?(nice: number): void;
  nameThisThread?(name: string): void;
  sliceThisThread?(sliceNs: number, nice: number): void;
  openFileLimit?(): { soft: number; hard: number };
}

const ADDON_PATH = fileURLToPath(new URL("../../native/venue_native.node", import.meta.url));
const BUILD_HINT = "run npm install (or npm run build:native) to build it";

interface Loaded {
  addon: Addon | null;
  reason: string;
  required: boolean;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded !== undefined) return loaded;
  const mode = process.env["VENUE_NATIVE"] ?? "auto";
  const path = process.env["VENUE_NATIVE_ADDON"] ?? ADDON_PATH;
  if (mode !== "auto" && mode !== "on" && mode !== "off") {
    throw new NativeAddonError("NATIVE_CONFIG_INVALID", `VENUE_NATIVE must be on, off or auto, not "${mode}"`);
  }
  let addon: Addon | null = null;
  let reason = "";
  if (mode === "off") {
    reason = "VENUE_NATIVE=off";
  } else {
    try {
      const exports = createRequire(import.meta.url)(path) as Partial<Addon>;
      const missing = (["map", "unmap", "advise", "stats", "isMapped"] as const).filter((f) => typeof exports[f] !== "function");
      if (missing.length > 0) reason = `${path} lacks ${missing.join(", ")}: ${BUILD_HINT}`;
      else addon = exports as Addon;
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const first = String(err instanceof Error ? err.message : err).split("\n")[0];
      reason = code === "MODULE_NOT_FOUND" ? `${path} not found: ${BUILD_HINT}` : `${path}: ${first}`;
    }
  }
  if (addon === null) process.stderr.write(`venue: native mmap addon not loaded (${reason}); reading files with pread\n`);
  loaded = { addon, reason, required: mode === "on" };
  return loaded;
}

function requireAddon(state: Loaded): Addon {
  if (state.addon === null) throw new NativeAddonError("NATIVE_ADDON_MISSING", `the native mmap addon is required but not loaded: ${state.reason}`);
  return state.addon;
}

/** Whether this thread reads files through the addon, and if not, why. Loads it if not yet tried. */
export function nativeStatus(): NativeStatus {
  const state = load();
  return state.addon !== null ? { loaded: true } : { loaded: false, reason: state.reason };
}

/**
 * Allocates the blocks of bytes [offset, offset + length) of an open file and extends the
 * file to cover them (Linux fallocate, through the addon), so that writes into the range
 * cannot fail for want of space: a full disk shows when the file is made, not in the middle
 * of its use. Returns false where that cannot be done here (no addon, or a file system
 * without fallocate): the caller falls back. Throws the OS error otherwise (`code` ENOSPC
 * when the disk is full).
 */
export function preallocate(fd: number, offset: number, length: number): boolean {
  const addon = load().addon;
  if (addon === null || addon.fallocate === undefined) return false;
  try {
    addon.fallocate(fd, offset, length);
    return true;
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === "ENOTSUP") return false;
    throw err;
  }
}

/**
 * Starts writing bytes [offset, offset + length) of the open file `fd` from the page cache
 * to the disk and returns without waiting for them (Linux sync_file_range, through the
 * addon), after waiting until bytes [waitOffset, waitOffset + waitLength) are written out
 * (an earlier range; length 0: none). It makes nothing durable (only fdatasync does: it
 * also flushes the device's write cache); it lets a large file leave the page cache in
 * small pieces as it is written, with the writer held to about two pieces ahead of the
 * disk. Returns false where it cannot be done (no addon): the caller syncs instead. Throws
 * the OS error otherwise (`code` EIO, EBADF, ...).
 */
export function writeBack(fd: number, offset: number, length: number, waitOffset = 0, waitLength = 0): boolean {
  const addon = load().addon;
  if (addon === null || addon.writeBack === undefined) return false;
  addon.writeBack(fd, offset, length, waitOffset, waitLength);
  return true;
}

/** Whether `syncFileSystem` can be done here (the addon is loaded and has it). */
export function canSyncFileSystem(): boolean {
  const addon = load().addon;
  return addon !== null && addon.syncFileSystem !== undefined;
}

/**
 * Makes every file of the file system that holds the open file `fd` durable, data and
 * metadata, with one flush of the device's cache (Linux syncfs, through the addon): for a
 * job that wrote many files, where an fsync each would flush the cache once per file. It
 * reports the write-out errors the file system met since `fd` was opened, so open `fd`
 * before writing the files. Returns false where it cannot be done (no addon): the caller
 * fsyncs each file instead. Throws the OS error otherwise (`code` EIO, ...).
 */
export function syncFileSystem(fd: number): boolean {
  const addon = load().addon;
  if (addon === null || addon.syncFileSystem === undefined) return false;
  addon.syncFileSystem(fd);
  return true;
}

/**
 * Lowers the priority of the calling thread alone (its nice value, 0 to 19), so that the
 * scheduler prefers the node's other threads when they compete: for bulk work such as
 * password hashing. Returns false where that cannot be done (no addon).
 */
export function niceThisThread(nice: number): boolean {
  const addon = load().addon;
  if (addon === null || addon.niceThisThread === undefined) return false;
  addon.niceThisThread(nice);
  return true;
}

/**
 * Names the calling thread (the kernel keeps 15 bytes), as `top -H`, `ps -L` and `perf`
 * show it. Returns false where that cannot be done (no addon).
 */
export function nameThisThread(name: string): boolean {
  const addon = load().addon;
  if (addon === null || addon.nameThisThread === undefined) return false;
  addon.nameThisThread(name);
  return true;
}

/**
 * Gives the calling thread a scheduler slice of `sliceNs` (Linux 6.12 and later: under
 * EEVDF a shorter slice lets a woken thread run before threads with the default one; 0
 * restores the default; older kernels ignore it) at nice `nice` (0 to 19; below the
 * thread's current value needs privilege). Returns false where that cannot be done (no
 * addon); throws the OS error otherwise.
 */
export function sliceThisThread(sliceNs: number, nice: number): boolean {
  const addon = load().addon;
  if (addon === null || addon.sliceThisThread === undefined) return false;
  addon.sliceThisThread(sliceNs, nice);
  return true;
}

/**
 * The process's open-file limits (RLIMIT_NOFILE; 2^64 - 1 means none), or undefined where
 * they cannot be read (no addon). Node raises the soft limit to the hard one as it starts.
 */
export function openFileLimit(): { soft: number; hard: number } | undefined {
  const addon = load().addon;
  if (addon === null || addon.openFileLimit === undefined) return undefined;
  return addon.openFileLimit();
}

/** Live mappings of the whole process (zeros without the addon). */
export function mappingStats(): MappingStats {
  const addon = load().addon;
  return addon === null ? { live: 0, bytes: 0 } : addon.stats();
}

// ---------------------------------------------------------------------------------------
// Rule 2: the files this thread has open, by device and inode (so any name of the file
// counts), and the check that truncation calls.

const openFiles = new Map<string, number>();

function identity(path: string): string | undefined {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : `${st.dev}:${st.ino}`;
}

function track(key: string | undefined): void {
  if (key !== undefined) openFiles.set(key, (openFiles.get(key) ?? 0) + 1);
}

function untrack(key: string | undefined): void {
  if (key === undefined) return;
  const n = openFiles.get(key) ?? 0;
  if (n <= 1) openFiles.delete(key);
  else openFiles.set(key, n - 1);
}

interface Dropped {
  key: string | undefined;
  fd: number;
}

/** The safety net for files dropped without close(); the mapping's own finalizer unmaps it. */
const dropped = new FinalizationRegistry<Dropped>((held) => {
  untrack(held.key);
  if (held.fd >= 0) closeSync(held.fd);
});

/**
 * Throws FileMappedError if the file at `path` is open through this module on this
 * thread, or mapped by any thread of the process. Call it before truncating a file or
 * writing into it in place. A missing file passes.
 */
export function assertNotMapped(path: string): void {
  let key: string | undefined;
  try {
    key = identity(path);
  } catch (err) {
    throw fileError(err, path, "stat");
  }
  if (key === undefined) return;
  if ((openFiles.get(key) ?? 0) > 0) {
    throw new FileMappedError("FILE_MAPPED", path, `${path} is open for reading on this thread; close it before truncating or rewriting it`);
  }
  const addon = load().addon;
  let mapped = false;
  if (addon !== null) {
    try {
      mapped = addon.isMapped(path);
    } catch (err) {
      throw fileError(err, path, "stat");
    }
  }
  if (mapped) {
    throw new FileMappedError(
      "FILE_MAPPED",
      path,
      `${path} is still mapped by a thread of this process (open, or dropped but not yet garbage-collected); close it before truncating or rewriting it`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// The two implementations.

class MappedFile implements ReadOnlyFile {
  readonly mapped = true;
  readonly size: number;
  private readonly thread = threadId;
  private buffer: ArrayBuffer | null;

  constructor(
    private readonly addon: Addon,
    readonly path: string,
    buffer: ArrayBuffer,
    private readonly key: string | undefined,
  ) {
    this.buffer = buffer;
    this.size = buffer.byteLength;
  }

  bytes(offset: number, length: number): Uint8Array {
    const buffer = this.live();
    checkRange(this.path, buffer.byteLength, offset, length);
    return new Uint8Array(buffer, offset, length);
  }

  advise(kind: AdviceKind, offset = 0, length?: number): void {
    const buffer = this.live();
    checkAdvice(kind);
    const len = length ?? buffer.byteLength - offset;
    checkRange(this.path, buffer.byteLength, offset, len);
    try {
      this.addon.advise(buffer, offset, len, kind);
    } catch (err) {
      throw fileError(err, this.path, "advise");
    }
  }

  close(): void {
    const buffer = this.buffer;
    if (buffer === null) return;
    this.buffer = null;
    dropped.unregister(this);
    untrack(this.key);
    this.addon.unmap(buffer);
  }

  private live(): ArrayBuffer {
    if (this.buffer === null) throw closedError(this.path);
    if (threadId !== this.thread) throw wrongThread(this.path, this.thread);
    return this.buffer;
  }
}

class PreadFile implements ReadOnlyFile {
  readonly mapped = false;
  private readonly thread = threadId;

  constructor(
    readonly path: string,
    readonly size: number,
    private fd: number,
    private readonly key: string | undefined,
  ) {}

  bytes(offset: number, length: number): Uint8Array {
    const fd = this.live();
    checkRange(this.path, this.size, offset, length);
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      let n: number;
      try {
        n = readSync(fd, out, at, length - at, offset + at);
      } catch (err) {
        throw fileError(err, this.path, "read");
      }
      if (n === 0) {
        throw new MapError("FILE_TRUNCATED", this.path, `${this.path} ended at ${offset + at}, before its size when opened (${this.size}): it was truncated while open`);
      }
      at += n;
    }
    return out;
  }

  advise(kind: AdviceKind, offset = 0, length?: number): void {
    this.live();
    checkAdvice(kind);
    checkRange(this.path, this.size, offset, length ?? this.size - offset);
    // Node has no posix_fadvise; the kernel's own readahead applies.
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    dropped.unregister(this);
    untrack(this.key);
    closeSync(fd);
  }

  private live(): number {
    if (this.fd < 0) throw closedError(this.path);
    if (threadId !== this.thread) throw wrongThread(this.path, this.thread);
    return this.fd;
  }
}

function openMapped(addon: Addon, path: string): ReadOnlyFile {
  let buffer: ArrayBuffer;
  let key: string | undefined;
  try {
    buffer = addon.map(path);
  } catch (err) {
    throw fileError(err, path, "open");
  }
  try {
    key = identity(path);
  } catch (err) {
    addon.unmap(buffer);
    throw fileError(err, path, "stat");
  }
  const file = new MappedFile(addon, path, buffer, key);
  track(key);
  dropped.register(file, { key, fd: -1 }, file);
  return file;
}

const PREAD_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK; // a FIFO must not block the open

function openPread(path: string): ReadOnlyFile {
  let fd: number;
  try {
    fd = openSync(path, PREAD_FLAGS);
  } catch (err) {
    throw fileError(err, path, "open");
  }
  let key: string;
  let size: number;
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw notRegular(path, st.isDirectory());
    key = `${st.dev}:${st.ino}`;
    size = Number(st.size);
  } catch (err) {
    closeSync(fd);
    throw err instanceof MapError ? err : fileError(err, path, "stat");
  }
  const file = new PreadFile(path, size, fd, key);
  track(key);
  dropped.register(file, { key, fd }, file);
  return file;
}

/**
 * Opens `path` for reading, mapped when the addon is loaded (see OpenOptions). Throws
 * FileNotFoundError, FileAccessError, NotAFileError or MapError, each with the errno
 * name as its code; NativeAddonError when the addon is required and missing.
 */
export function openReadOnly(path: string, opts: OpenOptions = {}): ReadOnlyFile {
  if (opts.native === false) return openPread(path);
  const state = load();
  if (opts.native === true || state.required) return openMapped(requireAddon(state), path);
  return state.addon !== null ? openMapped(state.addon, path) : openPread(path);
}
