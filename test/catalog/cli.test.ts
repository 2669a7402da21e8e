/**
 * `venue user|account|instrument ...` as an operator runs them: real child processes through
 * bin/venue.js on a temporary data directory. Checks exit codes (0 done, 1 refused by the
 * catalog's state, 2 usage or a broken rule), that messages name the problem, that no
 * password record is ever printed, and that a process holding the catalog open sees the
 * commands' changes.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Catalog } from "../../src/catalog/catalog.ts";
import { PasswordHasher } from "../../src/catalog/password.ts";
import { tempDir } from "./catalog_kit.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "venue.js");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking this process's event loop (so an open catalog here can refresh its view). */
function venue(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

describe("venue user, account, instrument", () => {
  const data = tempDir("venue-cli-catalog-");
  const hasher = new PasswordHasher();
  afterAll(() => hasher.close());
  const d = ["--data", data];

  it("lists an absent catalog as empty without creating it, and says on stderr that there is none", async () => {
    const r = await venue(["user", "list", ...d]);
    expect(r).toMatchObject({ status: 0, stdout: "no users\n" });
    expect(r.stderr).toBe(`venue: no catalog in ${join(data, "catalog")} yet (nothing added there, or not the data folder meant)\n`);
    expect(existsSync(join(data, "catalog"))).toBe(false);
  });

  it("adds users from stdin and from an environment variable; a reader sees them; passwords verify", async () => {
    const a = await venue(["user", "add", "alice", "--password-stdin", ...d], { input: "alice pw\n" });
    expect(a).toMatchObject({ status: 0, stdout: "added user alice (trader) with its default account alice\n" });
    const catalog = Catalog.open(join(data, "catalog"));
    try {
      expect(catalog.getUser("alice")!.roles).toEqual(["trader"]);
      const b = await venue(["user", "add", "bob", "--role", "admin", "--role", "trader", "--password-env", "BOB_PW", ...d], { env: { BOB_PW: "bob pw" } });
      expect(b).toMatchObject({ status: 0, stdout: "added user bob (trader, admin) with its default account bob\n" });
      expect(catalog.getUser("bob")!.roles).toEqual(["trader", "admin"]);
      expect(await hasher.verify(catalog.getUser("alice")!.password, "alice pw")).toBe(true); // one trailing newline dropped

      const dis = await venue(["user", "disable", "alice", ...d]);
      expect(dis).toMatchObject({ status: 0, stdout: "disabled user alice\n" });
      expect(catalog.getUser("alice")!.disabled).toBe(true);
    } finally {
      await catalog.close();
    }
  });

  it("changes roles and passwords; lists users with password parameters but never the record", async () => {
    expect(await venue(["user", "role", "alice", "--role", "readonly", ...d])).toMatchObject({ status: 0, stdout: "alice now has roles readonly\n" });
    expect(await venue(["user", "passwd", "bob", "--password-stdin", ...d], { input: "bob pw 2" })).toMatchObject({ status: 0, stdout: "changed the password of bob\n" });
    const list = await venue(["user", "list", ...d]);
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME +ROLES +STATUS +CREATED +PASSWORD +ACCOUNTS$/);
    expect(lines[1]).toMatch(/^alice +readonly +disabled +\d{4}-\d\d-\d\dT[\d:.]+Z +scrypt N=2\^17 r=8 p=1 +alice$/);
    expect(lines[2]).toMatch(/^bob +trader,admin +enabled .* scrypt N=2\^17 r=8 p=1 +bob$/);
    expect(list.stdout).not.toContain("scrypt$");
    const catalog = Catalog.open(join(data, "catalog"));
    try {
      const record = catalog.getUser("bob")!.password;
      for (const part of record.split("$").slice(4)) expect(list.stdout).not.toContain(part);
      expect(await hasher.verify(record, "bob pw 2")).toBe(true);
    } finally {
      await catalog.close();
    }
  });

  it("refuses bad input with exit code 2 and a message naming the rule", async () => {
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [["user", "add", "bad name", "--password-stdin"], "pw", /user name "bad name" contains " "/],
      [["user", "add", "carol"], undefined, /exactly one of --password-stdin or --password-env VAR/],
      [["user", "add", "carol", "--password-env", "NOT_SET_ANYWHERE"], undefined, /environment variable NOT_SET_ANYWHERE is not set/],
      [["user", "add", "carol", "--password-stdin"], "\n", /password must be 1 to 64 characters, not 0/],
      [["account", "add", "bob.x", "--owner", "alice"], undefined, /must be the owner's name "alice" or "alice.UNIT"/],
      [["instrument", "add", "X.Y", "--tick", "1", "--decs", "0", "--multiple", "ten"], undefined, /--multiple must be a number, not "ten"/],
      [["instrument", "add", "X.Y", "--tick", "0.25", "--decs", "1", "--multiple", "10"], undefined, /X.Y: price_tick 0.25 is not a whole number/],
    ];
    const runs = await Promise.all(cases.map(([args, input]) => venue([...args, ...d], input === undefined ? {} : { input })));
    runs.forEach((r, i) => {
      expect(r.status, cases[i]![0].join(" ")).toBe(2);
      expect(r.stderr).toMatch(cases[i]![2]);
    });
    const unknown = await venue(["user", "list", "--colour", "red", ...d]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--colour");
  });

  it("refuses what the catalog's state forbids with exit code 1", async () => {
    const taken = await venue(["user", "add", "bob", "--password-stdin", ...d], { input: "pw" });
    expect(taken).toMatchObject({ status: 1, stderr: 'venue user add: user "bob" already exists\n' });
    const missing = await venue(["user", "passwd", "nobody", "--password-stdin", ...d], { input: "pw" });
    expect(missing).toMatchObject({ status: 1, stderr: 'venue user passwd: no user "nobody"\n' });
    expect((await venue(["account", "add", "nobody.x", "--owner", "nobody", ...d])).stderr).toMatch(/no user "nobody" to own account "nobody.x"/);
  });

  it("adds and lists accounts", async () => {
    expect(await venue(["account", "add", "bob.hedge", "--owner", "bob", ...d])).toMatchObject({ status: 0, stdout: "added account bob.hedge owned by bob\n" });
    expect((await venue(["account", "list", ...d])).stdout).toBe("ID         OWNER\nalice      alice\nbob        bob\nbob.hedge  bob\n");
    expect((await venue(["account", "list", "--owner", "bob", ...d])).stdout).toBe("ID         OWNER\nbob        bob\nbob.hedge  bob\n");
  });

  it("adds instruments in DIFF units, refuses a listed symbol unless --replace, and lists them", async () => {
    const cu = ["instrument", "add", "SHFE.cu2601", "--tick", "10", "--decs", "0", "--multiple", "5", "--margin-rate-bp", "1000", "--commission", "10", "--lower", "70000", "--upper", "90000", "--close-today-distinct", "--name", "copper 2601", ...d];
    expect(await venue(cu)).toMatchObject({ status: 0, stdout: "added instrument SHFE.cu2601\n" });
    expect(await venue(cu)).toMatchObject({ status: 1, stderr: "venue instrument add: instrument SHFE.cu2601 already exists\n" });
    expect(await venue([...cu, "--replace"])).toMatchObject({ status: 0, stdout: "stored instrument SHFE.cu2601\n" });
    expect((await venue(["instrument", "add", "CFFEX.IF2603", "--tick", "0.2", "--decs", "1", "--multiple", "300", "--commission-rate-bp", "1", ...d])).status).toBe(0);
    const list = await venue(["instrument", "list", ...d]);
    expect(list.stdout.split("\n").slice(1, 3)).toEqual([
      expect.stringMatching(/^CFFEX.IF2603 +FUTURE +0.2 +1 +300 +CNY +0\+0bp +0\+1bp +0.2\.\.200000000 +1\.\.1000 +IF2603$/),
      expect.stringMatching(/^SHFE.cu2601 +FUTURE +10 +0 +5 +CNY +0\+1000bp +10\+0bp +70000\.\.90000 +1\.\.1000 +copper 2601$/),
    ]);
    const catalog = Catalog.open(join(data, "catalog"));
    try {
      expect(catalog.getInstrument("SHFE.cu2601")).toMatchObject({ exchangeId: "SHFE", insId: "cu2601", productId: "cu", closeTodayDistinct: true, marginRateBp: 1000, commissionPerLot: 10 });
    } finally {
      await catalog.close();
    }
  });

  it("shows the catalog commands in the usage text", async () => {
    const help = await venue(["help"]);
    for (const c of ["user add NAME", "user list", "user passwd NAME", "account add ID --owner USER", "instrument add SYMBOL", "instrument list"]) expect(help.stdout).toContain(c);
  });
});
