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

export class Manifest {
  private file: JournalFile | undefined;
  private position: number;
  private number: number;
  private failed: unknown;

  private constructor(
    readonly dir: string,
    private readonly fs: JournalFs,
    readonly state: StoreState,
    file: JournalFile | undefined,
    number: number,
    position: number,
  ) {
    this.file = file;
    this.number = number;
    this.position = position;
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
    while (at < bytes.length) {
      const left = bytes.length - at;
      const ok = validFrame(bytes, dv, at);
      if (!ok) {
        // Only the last write can be damaged (each edit is synced before the next is
        // written): torn if it lies within one edit of the end and no whole edit follows.
        if (left <= MANIFEST_EDIT_MAX + MANIFEST_FRAME && edits > 0 && !anyFrameAfter(bytes, dv, at)) {
          if (readOnly) {
            log(`event store: ${name} has a torn last edit at offset ${at} (${left} bytes), which opening the store cuts off`);
            break;
          }
          log(`event store: cut a torn last edit off ${name} at offset ${at} (${left} bytes)`);
          const f = fs.open(path);
          try {
            f.ftruncate(at);
            f.fsync();
          } finally {
            f.close();
          }
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
      if (edits === 0 && edit.base !== true) throw new ManifestCorruptError(path, at, "the first edit is not a base");
      applyEdit(state, edit, path, at);
      edits++;
      at += MANIFEST_FRAME + len;
    }
    if (edits === 0) throw new ManifestCorruptError(path, 0, "holds no edit");
    if (readOnly) return new Manifest(dir, fs, state, undefined, number, at);
    // Manifests CURRENT does not name are left from a roll-over a crash cut short.
    for (const n of names) if (manifestNumber(n) >= 0 && n !== name) fs.unlink(join(dir, n));
    return new Manifest(dir, fs, state, fs.open(path), number, at);
  }

  private static create(dir: string, fs: JournalFs, state: StoreState, number: number): Manifest {
    const path = join(dir, manifestName(number));
    fs.unlink(path);
    const file = fs.create(path);
    const frame = encode(baseEdit(state));
    writeAll(file, frame, 0);
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
    return new Manifest(dir, fs, state, file, number, frame.length);
  }

  get path(): string {
    return join(this.dir, manifestName(this.number));
  }

  /** Appends `edit`, makes it durable, then applies it to `state`. */
  record(edit: Omit<ManifestEdit, "v">): void {
    if (this.failed !== undefined) throw new ManifestWriteError(this.path, this.failed);
    const full: ManifestEdit = { v: MANIFEST_VERSION, ...edit };
    try {
      if (this.position > ROLL_BYTES) {
        const next: StoreState = { files: new Map(this.state.files), nextFile: this.state.nextFile, flushedSeq: this.state.flushedSeq, mark: this.state.mark };
        applyEdit(next, full, "(new edit)", 0);
        const old = this.path;
        const m = Manifest.create(this.dir, this.fs, next, this.number + 1);
        this.file!.close();
        this.file = m.file;
        this.number = m.number;
        this.position = m.position;
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

function encode(edit: ManifestEdit): Uint8Array {
  const payload = Buffer.from(JSON.stringify(edit), "utf8");
  if (payload.length > MANIFEST_EDIT_MAX) throw new VenueError("MANIFEST_EDIT_TOO_LARGE", `a manifest edit of ${payload.length} bytes exceeds ${MANIFEST_EDIT_MAX}`);
  const frame = new Uint8Array(MANIFEST_FRAME + payload.length);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, payload.length, true);
  dv.setUint32(4, crc32(payload), true);
  frame.set(payload, MANIFEST_FRAME);
  return frame;
}

function writeAll(file: JournalFile, bytes: Uint8Array, position: number): void {
  let at = 0;
  while (at < bytes.length) {
    const n = file.pwrite(bytes, at, bytes.length - at, position + at);
    if (n <= 0) throw new Error("a write made no progress");
    at += n;
  }
}
