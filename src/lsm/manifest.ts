/**
 * The event store's manifest (layout: src/schema/manifest.ts): the durable record of which
 * tables are live. `Manifest.open` reads `CURRENT` and the manifest it names, cutting a
 * torn last edit off; `record` appends an edit and fsyncs it before returning, and only
 * then may its effects be relied on (a table it adds is readable, a table it drops may be
 * deleted). A large manifest is rolled over to a new file that starts with the whole
 * state, and `CURRENT` is switched to it atomically.
 */

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  CURRENT_NAME,
  MANIFEST_EDIT_MAX,
  MANIFEST_FRAME,
  MANIFEST_VERSION,
  manifestName,
  manifestNumber,
  type ManifestEdit,
  type ManifestFileEntry,
} from "../schema/manifest.ts";
import { tableNumber } from "../schema/sstable.ts";
import { VenueError } from "../stdx/errors.ts";
import { REAL_FS, type JournalFile, type JournalFs } from "../wal/file.ts";

/** A live table as the manifest records it. */
export interface LiveFile {
  number: number;
  level: number;
  size: number;
  entries: number;
  deletions: number;
  smallest: Uint8Array;
  largest: Uint8Array;
  maxSeq: number;
}

export interface StoreState {
  files: Map<number, LiveFile>;
  nextFile: number;
  flushedSeq: number;
  mark: unknown;
}

export class ManifestCorruptError extends VenueError {
  override readonly name = "ManifestCorruptError";
  constructor(path: string, offset: number, what: string) {
    super("MANIFEST_CORRUPT", `event store manifest ${path} is damaged at offset ${offset}: ${what}. Stop the node and restore the store directory from a copy, or remove it to rebuild the store from the journal.`);
  }
}

/** A manifest edit could not be made durable: the store must stop taking writes. */
export class ManifestWriteError extends VenueError {
  override readonly name = "ManifestWriteError";
  constructor(path: string, cause: unknown) {
    super("MANIFEST_WRITE", `event store manifest ${path}: an edit could not be made durable (${(cause as Error)?.message ?? cause}); the store stops`, { cause });
  }
}

const ROLL_BYTES = 4 << 20;
/** Bytes of table entries per frame of an edit that spans frames: the rest of the frame's MANIFEST_EDIT_MAX is room for its other fields. */
const ADD_FRAME_BYTES = MANIFEST_EDIT_MAX - (64 << 10);

export class Manifest {
  private file: JournalFile | undefined;
  private position: number;
  private number: number;
  /** Bytes of the file's base edit: the file rolls over after ROLL_BYTES more, however large the base. */
  private baseBytes: number;
  private failed: unknown;

  private constructor(
    readonly dir: string,
    private readonly fs: JournalFs,
    readonly state: StoreState,
    file: JournalFile | undefined,
    number: number,
    position: number,
    baseBytes: number,
  ) {
    this.file = file;
    this.number = number;
    this.position = position;
    this.baseBytes = baseBytes;
  }

  /** Opens the store's manifest in `dir`, or starts one if the directory holds no store. */
  static open(dir: string, fs: JournalFs = REAL_FS, log: (line: string) => void = () => {}): Manifest {
    return Manifest.read(dir, fs, log, false)!;
  }

  /**
   * Reads the manifest without changing anything (a torn last edit is left in place and
   * reported through `log`): for `venue verify`. Undefined when the directory holds no store.
   */
  static inspect(dir: string, log: (line: string) => void = () => {}): StoreState | undefined {
    return Manifest.read(dir, REAL_FS, log, true)?.state;
  }

  private static read(dir: string, fs: JournalFs, log: (line: string) => void, readOnly: boolean): Manifest | undefined {
    const names = readdirSync(dir);
    const currentPath = join(dir, CURRENT_NAME);
    if (!existsSync(currentPath)) {
      const tables = names.filter((n) => tableNumber(n) >= 0);
      if (tables.length > 0) {
        throw new ManifestCorruptError(currentPath, 0, `missing, yet ${tables.length} tables are present`);
      }
      if (readOnly) return undefined;
      // A new store (or one whose creation a crash cut short): start afresh.
      for (const n of names) if (manifestNumber(n) >= 0) fs.unlink(join(dir, n));
      const state: StoreState = { files: new Map(), nextFile: 1, flushedSeq: 0, mark: undefined };
      const m = Manifest.create(dir, fs, state, 1);
      return m;
    }
    const current = readFileSync(currentPath, "utf8");
    const name = current.endsWith("\n") ? current.slice(0, -1) : current;
    const number = manifestNumber(name);
    if (number < 0) throw new ManifestCorruptError(currentPath, 0, `names ${JSON.stringify(name.slice(0, 40))}, not a manifest`);
    const path = join(dir, name);
    if (!existsSync(path)) throw new ManifestCorruptError(currentPath, 0, `names ${name}, which does not exist`);
    const bytes = readFileSync(path);
    const state: StoreState = { files: new Map(), nextFile: 1, flushedSeq: 0, mark: undefined };
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    let edits = 0;
    let baseBytes = 0;
    // An edit spanning frames (`more`): its frames so far, and where its first one starts.
    let group: ManifestEdit | undefined;
    let groupAt = 0;
    // Only the last write can be damaged (each edit is synced before the next is written):
    // it is cut off whole, from its first frame.
    const cutTorn = (from: number, why: string): void => {
      const left = bytes.length - from;
      if (readOnly) {
        log(`event store: ${name} has a torn last edit at offset ${from} (${left} bytes, ${why}), which opening the store cuts off`);
        return;
      }
      log(`event store: cut a torn last edit off ${name} at offset ${from} (${left} bytes, ${why})`);
      const f = fs.open(path);
      try {
        f.ftruncate(from);
        f.fsync();
      } finally {
        f.close();
      }
    };
    while (at < bytes.length) {
      const left = bytes.length - at;
      const ok = validFrame(bytes, dv, at);
      if (!ok) {
        // Torn if it lies within one frame of the end and no whole frame follows.
        if (left <= MANIFEST_EDIT_MAX + MANIFEST_FRAME && edits > 0 && !anyFrameAfter(bytes, dv, at)) {
          if (group !== undefined) at = groupAt; // the edit's whole frames go with its torn one
          cutTorn(at, "a frame fails its checksum or length check");
          group = undefined;
          break;
        }
        throw new ManifestCorruptError(path, at, "an edit fails its checksum or length check with more after it");
      }
      const len = dv.getUint32(at, true);
      let edit: ManifestEdit;
      try {
        edit = JSON.parse(Buffer.from(bytes.subarray(at + MANIFEST_FRAME, at + MANIFEST_FRAME + len)).toString("utf8")) as ManifestEdit;
      } catch {
        throw new ManifestCorruptError(path, at, "edit is not valid JSON despite its checksum");
      }
      if (edit.v !== MANIFEST_VERSION) throw new ManifestCorruptError(path, at, `edit version ${edit.v}, this build reads ${MANIFEST_VERSION}`);
      if (group === undefined) {
        if (edits === 0 && edit.base !== true) throw new ManifestCorruptError(path, at, "the first edit is not a base");
        group = edit;
        groupAt = at;
      } else {
        if (edit.base === true) throw new ManifestCorruptError(path, at, "a base edit inside another edit");
        group = joinFrames(group, edit);
      }
      at += MANIFEST_FRAME + len;
      if (edit.more === true) continue;
      applyEdit(state, group, path, groupAt);
      group = undefined;
      edits++;
      if (edits === 1) baseBytes = at;
    }
    if (group !== undefined) {
      // Every frame whole, but the edit's last one never written.
      if (edits === 0) throw new ManifestCorruptError(path, groupAt, "the base edit stops before its last frame");
      cutTorn(groupAt, "its frames stop before the last");
      at = groupAt;
    }
    if (edits === 0) throw new ManifestCorruptError(path, 0, "holds no edit");
    if (readOnly) return new Manifest(dir, fs, state, undefined, number, at, baseBytes);
    // Manifests CURRENT does not name are left from a roll-over a crash cut short.
    for (const n of names) if (manifestNumber(n) >= 0 && n !== name) fs.unlink(join(dir, n));
    return new Manifest(dir, fs, state, fs.open(path), number, at, baseBytes);
  }

  private static create(dir: string, fs: JournalFs, state: StoreState, number: number): Manifest {
    const path = join(dir, manifestName(number));
    fs.unlink(path);
    const file = fs.create(path);
    const frames = encode(baseEdit(state)); // one frame, or several for a base of many thousand tables
    writeAll(file, frames, 0);
    file.fsync();
    // The new manifest's name is durable before CURRENT can name it.
    fs.fsyncDir(dir);
    const tmp = join(dir, `${CURRENT_NAME}.tmp`);
    fs.unlink(tmp);
    const c = fs.create(tmp);
    try {
      const text = Buffer.from(`${manifestName(number)}\n`, "utf8");
      writeAll(c, text, 0);
      c.fsync();
    } finally {
      c.close();
    }
    fs.rename(tmp, join(dir, CURRENT_NAME));
    fs.fsyncDir(dir);
    return new Manifest(dir, fs, state, file, number, frames.length, frames.length);
  }

  get path(): string {
    return join(this.dir, manifestName(this.number));
  }

  /** Appends `edit`, makes it durable, then applies it to `state`. */
  record(edit: Omit<ManifestEdit, "v">): void {
    if (this.failed !== undefined) throw new ManifestWriteError(this.path, this.failed);
    const full: ManifestEdit = { v: MANIFEST_VERSION, ...edit };
    try {
      if (this.position - this.baseBytes > ROLL_BYTES) {
        const next: StoreState = { files: new Map(this.state.files), nextFile: this.state.nextFile, flushedSeq: this.state.flushedSeq, mark: this.state.mark };
        applyEdit(next, full, "(new edit)", 0);
        const old = this.path;
        const m = Manifest.create(this.dir, this.fs, next, this.number + 1);
        this.file!.close();
        this.file = m.file;
        this.number = m.number;
        this.position = m.position;
        this.baseBytes = m.baseBytes;
        this.fs.unlink(old);
        applyEdit(this.state, full, "(new edit)", 0);
        return;
      }
      const frame = encode(full);
      writeAll(this.file!, frame, this.position);
      this.file!.fdatasync();
      this.position += frame.length;
    } catch (e) {
      this.failed = e;
      throw new ManifestWriteError(this.path, e);
    }
    applyEdit(this.state, full, "(new edit)", 0);
  }

  close(): void {
    this.file?.close();
  }
}

export function toEntry(f: LiveFile): ManifestFileEntry {
  return {
    n: f.number,
    level: f.level,
    size: f.size,
    entries: f.entries,
    deletions: f.deletions,
    smallest: Buffer.from(f.smallest).toString("hex"),
    largest: Buffer.from(f.largest).toString("hex"),
    maxSeq: f.maxSeq,
  };
}

function baseEdit(state: StoreState): ManifestEdit {
  return { v: MANIFEST_VERSION, base: true, add: [...state.files.values()].map(toEntry), nextFile: state.nextFile, flushedSeq: state.flushedSeq, ...(state.mark !== undefined ? { mark: state.mark } : {}) };
}

function applyEdit(state: StoreState, e: ManifestEdit, path: string, at: number): void {
  for (const n of e.del ?? []) {
    if (!state.files.delete(n)) throw new ManifestCorruptError(path, at, `an edit drops table ${n}, which is not live`);
  }
  for (const a of e.add ?? []) {
    if (state.files.has(a.n)) throw new ManifestCorruptError(path, at, `an edit adds table ${a.n} twice`);
    state.files.set(a.n, {
      number: a.n,
      level: a.level,
      size: a.size,
      entries: a.entries,
      deletions: a.deletions,
      smallest: new Uint8Array(Buffer.from(a.smallest, "hex")),
      largest: new Uint8Array(Buffer.from(a.largest, "hex")),
      maxSeq: a.maxSeq,
    });
    if (a.n >= state.nextFile) state.nextFile = a.n + 1;
  }
  if (e.nextFile !== undefined) state.nextFile = Math.max(state.nextFile, e.nextFile);
  if (e.flushedSeq !== undefined) state.flushedSeq = e.flushedSeq;
  if (e.mark !== undefined) state.mark = e.mark;
}

/** Whether a whole edit (non-empty payload, matching CRC) starts at `at`. */
function validFrame(bytes: Uint8Array, dv: DataView, at: number): boolean {
  const left = bytes.length - at;
  if (left < MANIFEST_FRAME) return false;
  const len = dv.getUint32(at, true);
  if (len === 0 || len > MANIFEST_EDIT_MAX || len > left - MANIFEST_FRAME) return false;
  return crc32(bytes.subarray(at + MANIFEST_FRAME, at + MANIFEST_FRAME + len)) === dv.getUint32(at + 4, true);
}

function anyFrameAfter(bytes: Uint8Array, dv: DataView, at: number): boolean {
  for (let p = at + 1; p + MANIFEST_FRAME < bytes.length; p++) if (validFrame(bytes, dv, p)) return true;
  return false;
}

/** The frames of one edit, back to back: one, or (an `add` list too large for one) several joined by `more`. */
function encode(edit: ManifestEdit): Uint8Array {
  const whole = Buffer.from(JSON.stringify(edit), "utf8");
  if (whole.length <= MANIFEST_EDIT_MAX) return frameOf(whole);
  // The adds go over frames of at most ADD_FRAME_BYTES of entries each; the last frame
  // holds the rest of the edit (its deletions, counters and mark) and the last adds.
  const { add = [], base, more: _more, ...rest } = edit;
  const payloads: Buffer[] = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < add.length; i++) {
    const n = JSON.stringify(add[i]).length + 1;
    if (bytes + n > ADD_FRAME_BYTES && i > from) {
      const part: ManifestEdit = { v: edit.v, ...(payloads.length === 0 && base ? { base } : {}), add: add.slice(from, i), more: true };
      payloads.push(Buffer.from(JSON.stringify(part), "utf8"));
      from = i;
      bytes = 0;
    }
    bytes += n;
  }
  const last: ManifestEdit = { ...rest, ...(payloads.length === 0 && base ? { base } : {}), add: add.slice(from) };
  payloads.push(Buffer.from(JSON.stringify(last), "utf8"));
  for (const p of payloads) {
    if (p.length > MANIFEST_EDIT_MAX) throw new VenueError("MANIFEST_EDIT_TOO_LARGE", `a manifest edit frame of ${p.length} bytes exceeds ${MANIFEST_EDIT_MAX}`);
  }
  return Buffer.concat(payloads.map(frameOf));
}

function frameOf(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(MANIFEST_FRAME + payload.length);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, payload.length, true);
  dv.setUint32(4, crc32(payload), true);
  frame.set(payload, MANIFEST_FRAME);
  return frame;
}

/** The edit so far (its earlier frames) and its next frame: the adds joined, the other fields the later frame's. */
function joinFrames(sofar: ManifestEdit, next: ManifestEdit): ManifestEdit {
  const { add, more, ...rest } = next;
  return { ...rest, ...(sofar.base ? { base: sofar.base } : {}), add: [...(sofar.add ?? []), ...(add ?? [])], ...(more ? { more } : {}) };
}

function writeAll(file: JournalFile, bytes: Uint8Array, position: number): void {
  let at = 0;
  while (at < bytes.length) {
    const n = file.pwrite(bytes, at, bytes.length - at, position + at);
    if (n <= 0) throw new Error("a write made no progress");
    at += n;
  }
}
