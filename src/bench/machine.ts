/**
 * What a benchmark says about where it ran: the machine (CPU model, cores, memory, OS,
 * Node), the disk under a directory (device, file system, mount options, write cache) and
 * the source (commit, and whether src/ differs from it), plus CPU samples that tell how
 * much of the machine other processes took during a measurement. Linux files (/proc,
 * /sys) are read where they exist; elsewhere the fields say "unknown".
 */

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import os from "node:os";
import { performance } from "node:perf_hooks";

export interface MachineInfo {
  cpu: string;
  logicalCpus: number;
  availableParallelism: number;
  memoryGiB: number;
  platform: string;
  node: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export interface DiskInfo {
  path: string;
  device: string;
  mountPoint: string;
  fsType: string;
  mountOptions: string;
  writeCache: string;
  rotational: string;
}

export function diskInfo(path: string): DiskInfo {
  const real = realpathSync(path);
  let best = { device: "unknown", mountPoint: "", fsType: "unknown", mountOptions: "" };
  try {
    for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
      const [device, mp, fsType, opts] = line.split(" ");
      if (device === undefined || mp === undefined || fsType === undefined) continue;
      const under = real === mp || real.startsWith(mp.endsWith("/") ? mp : mp + "/");
      if (under && mp.length >= best.mountPoint.length) best = { device, mountPoint: mp, fsType, mountOptions: opts ?? "" };
    }
  } catch {
    // Not Linux: the device stays unknown.
  }
  const queue = (file: string): string => {
    const name = basename(best.device);
    for (const dir of [`/sys/class/block/${name}/queue`, `/sys/class/block/${name}/../queue`]) {
      try {
        return readFileSync(join(dir, file), "utf8").trim();
      } catch {
        // A partition keeps its queue in the parent device's folder: try that next.
      }
    }
    return "unknown";
  };
  return { path: real, ...best, writeCache: queue("write_cache"), rotational: queue("rotational") };
}

export interface SourceInfo {
  commit: string;
  /** Files under the paths asked about that differ from the commit. */
  dirty: string[];
}

/** The commit checked out in `root` and which files under `paths` differ from it (read-only: no index refresh). */
export function sourceInfo(root: string, paths: readonly string[] = ["src"]): SourceInfo {
  const run = (...a: string[]): string => execFileSync("git", a, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  try {
    const dirty = run("--no-optional-locks", "status", "--porcelain", "--", ...paths).split("\n").filter((l) => l.length > 3).map((l) => l.slice(3));
    return { commit: run("rev-parse", "--short", "HEAD").trim(), dirty };
  } catch {
    return { commit: "unknown (not a git checkout)", dirty: [] };
  }
}

/** CPU time so far: the whole machine's busy and stolen time (/proc/stat) and this process's. */
export interface CpuSample {
  busyMs: number;
  stealMs: number;
  ownMs: number;
  wallMs: number;
}

/** USER_HZ: the unit of /proc/stat on every Linux Node runs on. */
const CLK_TCK = 100;

export function cpuSample(): CpuSample {
  let busyMs = NaN;
  let stealMs = NaN;
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    busyMs = ((user + nice + system + irq + softirq) * 1000) / CLK_TCK;
    stealMs = (steal * 1000) / CLK_TCK;
  } catch {
    // Not Linux: NaN says unknown.
  }
  const u = process.cpuUsage();
  return { busyMs, stealMs, ownMs: (u.user + u.system) / 1000, wallMs: performance.now() };
}

/** Cores this process, other processes, and the hypervisor (steal) used between two samples. */
export interface CpuUse {
  ownCores: number;
  otherCores: number;
  stealCores: number;
}

export function cpuUse(a: CpuSample, b: CpuSample): CpuUse {
  const wall = b.wallMs - a.wallMs;
  const own = b.ownMs - a.ownMs;
  return { ownCores: own / wall, otherCores: Math.max(0, (b.busyMs - a.busyMs - own) / wall), stealCores: (b.stealMs - a.stealMs) / wall };
}

/** CPU time so far (ms) and name of each thread of this process, by thread id (Linux's /proc/self/task; empty elsewhere). */
export function threadTimes(): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out; // not Linux
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended
    }
    const close = stat.lastIndexOf(")");
    // Fields after the name: state is the first; utime and stime are the 12th and 13th.
    const f = stat.slice(close + 2).split(" ");
    out.set(Number(tid), { name: stat.slice(stat.indexOf("(") + 1, close), ms: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK });
  }
  return out;
}

/**
 * CPU time so far per thread name (threadTimes): the main thread as "main", threads that
 * kept the runtime's name (V8's, libuv's: "node") summed as "other". Threads of one name are
 * summed.
 */
export function threadCpuSample(): Map<string, number> {
  const ms = new Map<string, number>();
  for (const [tid, t] of threadTimes()) {
    const name = tid === process.pid ? "main" : t.name === "node" ? "other" : t.name;
    ms.set(name, (ms.get(name) ?? 0) + t.ms);
  }
  return ms;
}

/** Cores each thread name used between two samples, busiest first (names below 0.005 cores left out). */
export function threadCpuUse(a: Map<string, number>, b: Map<string, number>, wallMs: number): Array<{ name: string; cores: number }> {
  const use: Array<{ name: string; cores: number }> = [];
  for (const [name, t] of b) {
    const cores = (t - (a.get(name) ?? 0)) / wallMs;
    if (cores >= 0.005) use.push({ name, cores });
  }
  return use.sort((x, y) => y.cores - x.cores);
}
