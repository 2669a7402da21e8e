/**
 * src/native/mmap.ts on both paths: the mapped one (the native addon) and the pread
 * fallback read the same bytes and fail the same way; the mapped path unmaps on close and
 * on garbage collection, faults on a write, and maps per thread; the fallback is used,
 * and said so once, when the addon is off or missing.
 *
 * The addon is part of the install (npm install builds it), so the mapped-path tests fail,
 * not skip, when it is not built.
 */

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADVICE_KINDS,
  FileClosedError,
  FileMappedError,
  FileNotFoundError,
  FileRangeError,
  NotAFileError,
  assertNotMapped,
  mappingStats,
  nativeStatus,
  openReadOnly,
  type MapError,
  type ReadOnlyFile,
} from "../../src/native/mmap.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

const CHILD = join(import.meta.dirname, "mmap_child.ts");
const WORKER = join(import.meta.dirname, "thread_worker.mjs");
const SIZE = 3 * 65536 + 4099; // not a multiple of the page size

let dir: string;
let path: string;
let content: Uint8Array;
let emptyPath: string;

beforeAll(() => {
  const seed = seedFromEnv();
  console.log(`native mmap: seed ${seed} (replay with VENUE_SEED=${seed})`);
  const prng = new Prng(seed);
  dir = mkdtempSync(join(tmpdir(), "venue-mmap-"));
  content = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) content[i] = prng.nextU32() & 0xff;
  path = join(dir, "random.bin");
  writeFileSync(path, content);
  emptyPath = join(dir, "empty.bin");
  writeFileSync(emptyPath, new Uint8Array(0));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error `fn` throws, for its class and code to be checked. */
function thrown(fn: () => unknown): MapError {
  try {
    fn();
  } catch (err) {
    return err as MapError;
  }
  throw new Error("expected an error, none was thrown");
}

/** Runs node with `args` in a child process; VENUE_NATIVE* come only from `env`. */
function child(args: string[], env: Record<string, string | undefined> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, VENUE_NATIVE: undefined, VENUE_NATIVE_ADDON: undefined, ...env } });
}

it("the addon is built and loads (npm install builds it)", () => {
  const status = nativeStatus();
  expect(status, `the native mmap addon is not loaded: ${status.reason ?? ""}. Build it with npm install (or npm run build:native); it needs cargo`).toEqual({ loaded: true });
});

describe.each([
  { name: "mapped", native: true },
  { name: "pread", native: false },
])("$name path", ({ native }) => {
  const open = (p: string): ReadOnlyFile => openReadOnly(p, { native });

  it("reads the bytes of the file at any offset and length", () => {
    const f = open(path);
    expect([f.path, f.size, f.mapped]).toEqual([path, SIZE, native]);
    const cases: Array<[number, number]> = [
      [0, 0],
      [0, 1],
      [SIZE - 1, 1],
      [SIZE, 0],
      [0, SIZE],
      [4095, 2],
      [4096, 4096],
      [SIZE - 16384, 16384],
    ];
    const prng = new Prng(SIZE);
    for (let i = 0; i < 200; i++) {
      const offset = prng.int(0, SIZE - 1);
      cases.push([offset, prng.int(0, Math.min(16384, SIZE - offset))]);
    }
    for (const [offset, length] of cases) {
      const got = f.bytes(offset, length);
      expect(got.length).toBe(length);
      expect(Buffer.from(got.buffer, got.byteOffset, got.length).equals(content.subarray(offset, offset + length)), `bytes(${offset}, ${length})`).toBe(true);
    }
    f.close();
  });

  it("throws FileRangeError for a read outside the file, and stays usable", () => {
    const f = open(path);
    for (const [offset, length] of [
      [SIZE, 1],
      [SIZE - 1, 2],
      [0, SIZE + 1],
      [-1, 1],
      [0, -1],
      [1.5, 1],
      [Number.NaN, 1],
      [Number.MAX_SAFE_INTEGER, 1],
    ] as const) {
      const err = thrown(() => f.bytes(offset, length));
      expect(err).toBeInstanceOf(FileRangeError);
      expect(err.code).toBe("READ_OUT_OF_RANGE");
      expect(err.message).toContain(path);
    }
    expect(f.bytes(SIZE - 1, 1)[0]).toBe(content[SIZE - 1]);
    f.close();
  });

  it("reports a missing file, a directory and a device with their codes and the path", () => {
    const missing = thrown(() => open(join(dir, "missing.bin")));
    expect(missing).toBeInstanceOf(FileNotFoundError);
    expect([missing.code, missing.path]).toEqual(["ENOENT", join(dir, "missing.bin")]);
    expect(missing.message).toContain(join(dir, "missing.bin"));

    const notDir = thrown(() => open(join(path, "child")));
    expect(notDir).toBeInstanceOf(FileNotFoundError);
    expect(notDir.code).toBe("ENOTDIR");

    const isDir = thrown(() => open(dir));
    expect(isDir).toBeInstanceOf(NotAFileError);
    expect(isDir.code).toBe("EISDIR");
    expect(isDir.message).toContain(dir);

    const device = thrown(() => open("/dev/null"));
    expect(device).toBeInstanceOf(NotAFileError);
    expect(device.code).toBe("EINVAL");
  });

  it("opens an empty file", () => {
    const f = open(emptyPath);
    expect(f.size).toBe(0);
    expect(f.bytes(0, 0).length).toBe(0);
    expect(thrown(() => f.bytes(0, 1))).toBeInstanceOf(FileRangeError);
    f.advise("random");
    f.close();
    f.close();
  });

  it("closes idempotently; any use after close throws FileClosedError", () => {
    const f = open(path);
    f.close();
    f.close();
    for (const use of [() => f.bytes(0, 1), () => f.advise("random")]) {
      const err = thrown(use);
      expect(err).toBeInstanceOf(FileClosedError);
      expect(err.code).toBe("FILE_CLOSED");
      expect(err.message).toContain(path);
    }
  });

  it("takes every advice over the file or a range, and rejects the rest", () => {
    const f = open(path);
    for (const kind of ADVICE_KINDS) {
      f.advise(kind);
      f.advise(kind, 5000, 10000);
    }
    expect(() => f.advise("backwards" as "random")).toThrow(TypeError);
    expect(thrown(() => f.advise("random", SIZE - 10, 11))).toBeInstanceOf(FileRangeError);
    expect(Buffer.from(f.bytes(0, SIZE)).equals(content)).toBe(true); // advice never changes the bytes
    f.close();
  });

  it("assertNotMapped throws while the file is open, under any of its names", () => {
    const link = join(dir, `hard-${String(native)}.bin`);
    const sym = join(dir, `sym-${String(native)}.bin`);
    linkSync(path, link);
    symlinkSync(path, sym);
    const f = open(path);
    for (const name of [path, link, sym]) {
      const err = thrown(() => assertNotMapped(name));
      expect(err).toBeInstanceOf(FileMappedError);
      expect(err.code).toBe("FILE_MAPPED");
      expect(err.message).toContain(name);
    }
    f.close();
    for (const name of [path, link, sym, join(dir, "missing.bin")]) assertNotMapped(name);
    rmSync(link);
    rmSync(sym);
  });
});

describe("mapped path", () => {
  it("returns views of one mapping, and close() unmaps and detaches it", () => {
    const base = mappingStats();
    const f = openReadOnly(path, { native: true });
    expect(mappingStats()).toEqual({ live: base.live + 1, bytes: base.bytes + SIZE });
    const a = f.bytes(0, SIZE);
    const b = f.bytes(100, 10);
    expect(b.buffer).toBe(a.buffer); // zero copy: both are views of the mapping
    expect(a.buffer.byteLength).toBe(SIZE);
    f.close();
    expect(a.buffer.byteLength).toBe(0);
    expect([a.length, b.length, a[0]]).toEqual([0, 0, undefined]);
    expect(mappingStats()).toEqual(base);
    expect(thrown(() => f.bytes(0, 1))).toBeInstanceOf(FileClosedError);
  });

  it("unmaps files that were dropped without close() when they are garbage-collected", () => {
    const r = child(["--expose-gc", "--import", "tsx", CHILD, "gc", path, "200"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { base: { live: number }; before: { live: number; bytes: number }; after: { live: number; bytes: number } };
    console.log(`native mmap: gc child ${JSON.stringify(out)}`);
    expect(out.base.live).toBe(0);
    expect(out.before).toEqual({ live: 200, bytes: 200 * SIZE });
    expect(out.after).toEqual({ live: 0, bytes: 0 });
  });

  it("faults on a write through a mapping (the process dies of SIGSEGV)", () => {
    // ulimit -c 0: the crash is the expected outcome, it leaves no core file.
    const node = JSON.stringify(process.execPath);
    const r = spawnSync("/bin/sh", ["-c", `ulimit -c 0; exec ${node} --import tsx ${JSON.stringify(CHILD)} write ${JSON.stringify(path)}`], {
      encoding: "utf8",
      env: { ...process.env, VENUE_NATIVE: undefined },
    });
    expect(r.stdout).toContain("writing");
    expect(r.stdout).not.toContain("wrote");
    expect(r.signal, r.stderr).toBe("SIGSEGV");
    expect(readFileSync(path).equals(content)).toBe(true);
  });

  it("maps per thread: a worker maps the file itself, and its mapping counts for assertNotMapped", async () => {
    const worker = new Worker(WORKER, { workerData: { path } });
    const messages: Array<Record<string, unknown>> = [];
    const next = (): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        worker.once("message", (m: Record<string, unknown>) => {
          messages.push(m);
          resolve(m);
        });
        worker.once("error", reject);
      });
    try {
      const opened = await next();
      let sum = 0;
      for (const x of content) sum = (sum + x) >>> 0;
      expect([opened["mapped"], opened["sum"]]).toEqual([true, sum]);
      expect(opened["stats"]).toEqual({ live: 1, bytes: SIZE }); // the worker's mapping, seen process-wide
      // The view the worker posted arrived as a copy: the mapping itself never leaves its thread.
      expect(Buffer.from(opened["view"] as Uint8Array).equals(content)).toBe(true);
      // This thread has nothing open, but the worker's mapping still forbids truncation.
      const err = thrown(() => assertNotMapped(path));
      expect(err).toBeInstanceOf(FileMappedError);
      expect(err.message).toContain("mapped by a thread of this process");

      const closing = next();
      worker.postMessage("close");
      expect(await closing).toEqual({ closed: true, stats: { live: 0, bytes: 0 } });
      assertNotMapped(path);
    } finally {
      await worker.terminate();
    }
  });
});

describe("fallback", () => {
  const logLines = (stderr: string): string[] => stderr.split("\n").filter((l) => l.startsWith("venue: native mmap addon not loaded"));

  it("maps by default, with nothing on stderr", () => {
    const r = child(["--import", "tsx", CHILD, "status", path]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ mapped: [true, true], status: { loaded: true } });
    expect(logLines(r.stderr)).toEqual([]);
  });

  it("preallocates a journal file's blocks through the addon, and falls back to a sparse file without it", () => {
    const withAddon = child(["--import", "tsx", CHILD, "preallocate", join(dir, "prealloc-on")]);
    expect(withAddon.status, withAddon.stderr).toBe(0);
    const on = JSON.parse(withAddon.stdout) as { size: number; allocatedBytes: number };
    expect(on.size).toBe(1 << 20);
    expect(on.allocatedBytes).toBeGreaterThanOrEqual(1 << 20);
    const without = child(["--import", "tsx", CHILD, "preallocate", join(dir, "prealloc-off")], { VENUE_NATIVE: "off" });
    expect(without.status, without.stderr).toBe(0);
    const off = JSON.parse(without.stdout) as { size: number; allocatedBytes: number };
    expect(off.size).toBe(1 << 20);
    expect(off.allocatedBytes).toBeLessThan(1 << 20); // sparse: blocks come as writes land
  });

  it("starts a file's write-out and syncs a file system through the addon, and says it cannot without it", () => {
    const withAddon = child(["--import", "tsx", CHILD, "writeback", join(dir, "writeback-on")]);
    expect(withAddon.status, withAddon.stderr).toBe(0);
    expect(JSON.parse(withAddon.stdout)).toEqual({ started: true, empty: "EINVAL", closed: "EINVAL", batch: true });
    const without = child(["--import", "tsx", CHILD, "writeback", join(dir, "writeback-off")], { VENUE_NATIVE: "off" });
    expect(without.status, without.stderr).toBe(0);
    expect(JSON.parse(without.stdout)).toEqual({ started: false, empty: false, closed: false, batch: false });
  });

  it("reads with pread when VENUE_NATIVE=off, and says so in one line", () => {
    const r = child(["--import", "tsx", CHILD, "status", path], { VENUE_NATIVE: "off" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ mapped: [false, false], status: { loaded: false, reason: "VENUE_NATIVE=off" } });
    expect(logLines(r.stderr)).toEqual(["venue: native mmap addon not loaded (VENUE_NATIVE=off); reading files with pread"]);
  });

  it("reads with pread when the addon is missing, and says how to build it", () => {
    const r = child(["--import", "tsx", CHILD, "status", path], { VENUE_NATIVE_ADDON: join(dir, "missing.node") });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mapped: [false, false], status: { loaded: false } });
    const lines = logLines(r.stderr);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("not found: run npm install");
  });

  it("reads with pread when the addon fails to load", () => {
    const bad = join(dir, "bad.node");
    writeFileSync(bad, "not an ELF file");
    const r = child(["--import", "tsx", CHILD, "status", path], { VENUE_NATIVE_ADDON: bad });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mapped: [false, false], status: { loaded: false } });
    expect(logLines(r.stderr).length).toBe(1);
  });

  it("fails with NativeAddonError when VENUE_NATIVE=on and the addon is missing", () => {
    const r = child(["--import", "tsx", CHILD, "status", path], { VENUE_NATIVE: "on", VENUE_NATIVE_ADDON: join(dir, "missing.node") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("NativeAddonError");
    expect(r.stderr).toContain("the native mmap addon is required but not loaded");
  });
});
