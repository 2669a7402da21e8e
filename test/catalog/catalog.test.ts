/**
 * The catalog's records through its API: users, accounts and instruments are stored,
 * listed and survive close and reopen; every rule rejects its input with a typed error
 * that names the field; a rejected write leaves nothing behind, even when it had already
 * written part of a multi-record change.
 */

import { open } from "lmdb";
import { afterEach, describe, expect, it } from "vitest";
import { Catalog, CatalogError, STATEMENTS_KEPT, seedDemo, type CatalogErrorCode } from "../../src/catalog/catalog.ts";
import { PasswordHasher } from "../../src/catalog/password.ts";
import { DEMO_INSTRUMENTS, type InstrumentInfo } from "../../src/catalog/instrument.ts";
import { fakeRecord, tempDir } from "./catalog_kit.ts";

const opened: Catalog[] = [];

function openCatalog(dir = tempDir(), nowNs?: () => bigint): Catalog {
  const c = Catalog.open(dir, nowNs === undefined ? {} : { nowNs });
  opened.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

async function rejects(p: Promise<unknown>, code: CatalogErrorCode, message: string | RegExp): Promise<void> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  expect((err as CatalogError).code).toBe(code);
  expect((err as CatalogError).message).toMatch(message);
}

const CU = DEMO_INSTRUMENTS[0]!;
const IF = DEMO_INSTRUMENTS[2]!;

describe("users", () => {
  it("adds a user with its default account, stamped by the clock, and lists users in name order", async () => {
    const c = openCatalog(tempDir(), () => 1_790_000_000_123_456_789n);
    const alice = await c.addUser("alice", ["admin", "trader"], fakeRecord(1));
    expect(alice).toEqual({ name: "alice", roles: ["trader", "admin"], password: fakeRecord(1), createdNs: 1_790_000_000_123_456_789n, disabled: false, version: 1 });
    expect(c.getUser("alice")).toEqual(alice);
    expect(c.accountsOf("alice")).toEqual([{ id: "alice", owner: "alice" }]);
    await c.addUser("Bob", ["readonly"], fakeRecord(2));
    expect(c.listUsers().map((u) => u.name)).toEqual(["Bob", "alice"]);
    expect(c.hasUsers()).toBe(true);
    expect(c.getUser("carol")).toBeUndefined();
  });

  it("changes roles, password and status, counting versions; an unchanged value writes nothing", async () => {
    const c = openCatalog();
    await c.addUser("u", ["trader"], fakeRecord(1));
    expect((await c.setRoles("u", ["readonly"])).roles).toEqual(["readonly"]);
    expect((await c.setPassword("u", fakeRecord(2))).password).toBe(fakeRecord(2));
    expect((await c.disableUser("u")).disabled).toBe(true);
    expect(c.getUser("u")).toMatchObject({ roles: ["readonly"], password: fakeRecord(2), disabled: true, version: 4 });
    expect((await c.disableUser("u")).version).toBe(4);
    expect((await c.enableUser("u"))).toMatchObject({ disabled: false, version: 5 });
  });

  it.each([
    ["", /1 to 64 characters/],
    ["x".repeat(65), /1 to 64 characters/],
    ["é".repeat(33), /at most 64 bytes/],
    ["a b", /contains " "/],
    ["a\tb", /contains "\\t"/],
    ["a\u0000b", /contains "\\u0000"/],
    ["a\u200bb", /contains/],
    ...["=", "#", "|", ";", "/", "."].map((ch) => [`a${ch}b`, new RegExp(`contains "\\${ch}"`)] as [string, RegExp]),
    ["_system", /must not start with "_"/],
  ])("rejects the user name %j", async (name, message) => {
    const c = openCatalog();
    await rejects(c.addUser(name, ["trader"], fakeRecord()), "invalid", message);
    expect(c.listUsers()).toEqual([]);
    expect(c.getUser(name)).toBeUndefined();
  });

  it("rejects bad roles: none, unknown, readonly with trader", async () => {
    const c = openCatalog();
    await rejects(c.addUser("u", [], fakeRecord()), "invalid", /at least one of trader, readonly, admin/);
    await rejects(c.addUser("u", ["root" as "admin"], fakeRecord()), "invalid", /unknown role "root"/);
    await rejects(c.addUser("u", ["readonly", "trader"], fakeRecord()), "invalid", /readonly and trader exclude each other/);
    await c.addUser("u", ["trader"], fakeRecord());
    await rejects(c.setRoles("u", []), "invalid", /at least one/);
    expect(c.getUser("u")!.roles).toEqual(["trader"]);
  });

  it("rejects password records that do not parse or whose parameters are out of bounds", async () => {
    const c = openCatalog();
    const salt = Buffer.alloc(16, 1).toString("base64");
    const key = Buffer.alloc(32).toString("base64");
    for (const [record, message] of [
      ["hunter2", /not of the form scrypt\$/],
      [`scrypt$9$8$1$${salt}$${key}`, /out of bounds: N=2\^9/],
      [`scrypt$19$8$1$${salt}$${key}`, /needs more than 268435456 bytes/],
      [`scrypt$17$8$1$${Buffer.alloc(8).toString("base64")}$${key}`, /salt must be 16 to 64 bytes/],
      [`scrypt$17$8$1$${salt}$${Buffer.alloc(8).toString("base64")}`, /key must be 16 to 64 bytes/],
      [`scrypt$17$8$1$${salt}$${key.slice(0, -1)}`, /key must be/],
    ] as const) {
      await rejects(c.addUser("u", ["trader"], record), "invalid", message);
    }
    await c.addUser("u", ["trader"], fakeRecord());
    await rejects(c.setPassword("u", "plain"), "invalid", /not of the form/);
  });

  it("refuses a taken name and changes to a user that does not exist", async () => {
    const c = openCatalog();
    await c.addUser("u", ["trader"], fakeRecord(1));
    await rejects(c.addUser("u", ["admin"], fakeRecord(2)), "exists", /user "u" already exists/);
    expect(c.getUser("u")!.roles).toEqual(["trader"]);
    await rejects(c.setRoles("v", ["trader"]), "not-found", /no user "v"/);
    await rejects(c.setPassword("v", fakeRecord()), "not-found", /no user "v"/);
    await rejects(c.disableUser("v"), "not-found", /no user "v"/);
    expect(c.listUsers().map((u) => u.name)).toEqual(["u"]);
  });

  it("keeps writes of one batch apart: a rejected one does not take the others down", async () => {
    const c = openCatalog();
    await c.addUser("taken", ["trader"], fakeRecord());
    const results = await Promise.allSettled([c.addUser("a", ["trader"], fakeRecord()), c.addUser("taken", ["trader"], fakeRecord()), c.addUser("b", ["trader"], fakeRecord())]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(c.listUsers().map((u) => u.name)).toEqual(["a", "b", "taken"]);
  });
});

describe("accounts", () => {
  it("adds user.unit accounts; accountsOf, ownerOf and listAccounts see exactly the owner's", async () => {
    const c = openCatalog();
    for (const name of ["alice", "alic", "alice-b"]) await c.addUser(name, ["trader"], fakeRecord());
    await c.addAccount("alice.x", "alice");
    await c.addAccount("alice.ü", "alice");
    await c.addAccount("alic.z", "alic");
    expect(c.accountsOf("alice").map((a) => a.id)).toEqual(["alice", "alice.x", "alice.ü"]);
    expect(c.accountsOf("alic").map((a) => a.id)).toEqual(["alic", "alic.z"]);
    expect(c.accountsOf("alice-b").map((a) => a.id)).toEqual(["alice-b"]);
    expect(c.accountsOf("nobody")).toEqual([]);
    expect(c.ownerOf("alice.x")).toBe("alice");
    expect(c.ownerOf("alice.nope")).toBeUndefined();
    expect(c.ownerOf("x".repeat(100))).toBeUndefined();
    expect(c.listAccounts().map((a) => a.id)).toEqual(["alic", "alic.z", "alice", "alice-b", "alice.x", "alice.ü"]);
  });

  it("rejects ids that are not owner.unit, bad units, ids over 64 bytes, missing owners and taken ids", async () => {
    const c = openCatalog();
    await c.addUser("alice", ["trader"], fakeRecord());
    await rejects(c.addAccount("bob.x", "alice"), "invalid", /must be the owner's name "alice" or "alice.UNIT"/);
    await rejects(c.addAccount("alicex", "alice"), "invalid", /must be the owner's name/);
    await rejects(c.addAccount("alice.", "alice"), "invalid", /account unit must be 1 to 64/);
    await rejects(c.addAccount("alice.a.b", "alice"), "invalid", /account unit "a.b" contains "."/);
    await rejects(c.addAccount("alice.a b", "alice"), "invalid", /contains " "/);
    await rejects(c.addAccount("alice._x", "alice"), "invalid", /must not start with "_"/);
    await rejects(c.addAccount(`alice.${"u".repeat(59)}`, "alice"), "invalid", /longer than 64 bytes/);
    await rejects(c.addAccount("bob.x", "bob"), "not-found", /no user "bob" to own account "bob.x"/);
    await rejects(c.addAccount("alice", "alice"), "exists", /account "alice" already exists/);
    await c.addAccount(`alice.${"u".repeat(58)}`, "alice");
    await rejects(c.addAccount(`alice.${"u".repeat(58)}`, "alice"), "exists", /already exists/);
    expect(c.accountsOf("alice")).toHaveLength(2);
  });

  it("canUse: an enabled owner only; canTrade also needs the trader role", async () => {
    const c = openCatalog();
    await c.addUser("t", ["trader"], fakeRecord());
    await c.addUser("r", ["readonly"], fakeRecord());
    await c.addUser("adm", ["admin"], fakeRecord());
    await c.addAccount("t.2", "t");
    expect([c.canUse("t", "t"), c.canUse("t", "t.2"), c.canTrade("t", "t.2")]).toEqual([true, true, true]);
    expect([c.canUse("r", "r"), c.canTrade("r", "r")]).toEqual([true, false]);
    expect([c.canUse("t", "r"), c.canUse("adm", "t"), c.canUse("nobody", "t"), c.canUse("t", "t.nope")]).toEqual([false, false, false, false]);
    await c.disableUser("t");
    expect([c.canUse("t", "t"), c.canTrade("t", "t")]).toEqual([false, false]);
  });
});

describe("instruments", () => {
  it("stores the demo instruments as given and lists them by symbol", async () => {
    const c = openCatalog();
    for (const i of DEMO_INSTRUMENTS) expect(await c.putInstrument(i, "insert")).toEqual(i);
    expect(c.getInstrument("CFFEX.IF2603")).toEqual(IF);
    expect(c.listInstruments().map((i) => i.symbol)).toEqual(["CFFEX.IF2603", "CZCE.SR605", "DCE.m2605", "SHFE.cu2601"]);
    expect(c.getInstrument("X.NOPE")).toBeUndefined();
  });

  it("insert refuses a listed symbol; upsert replaces it", async () => {
    const c = openCatalog();
    await c.putInstrument(CU);
    await rejects(c.putInstrument({ ...CU, name: "other" }, "insert"), "exists", /SHFE.cu2601 already exists/);
    await c.putInstrument({ ...CU, name: "copper, renamed" });
    expect(c.getInstrument(CU.symbol)!.name).toBe("copper, renamed");
  });

  const bad: Array<[string, Partial<InstrumentInfo> | Record<string, unknown>, RegExp]> = [
    ["symbol not exchange.insId", { symbol: "SHFE.cu2602" }, /symbol "SHFE.cu2602" must be exchangeId.insId/],
    ["symbol malformed", { symbol: "shfe cu" }, /symbol must be EXCHANGE.CODE/],
    ["exchangeId lower case", { exchangeId: "shfe" }, /exchangeId must be 1 to 16 capital letters/],
    ["insId empty", { insId: "" }, /insId must be 1 to 31/],
    ["productId missing", { productId: undefined }, /productId must be/],
    ["name with a newline", { name: "a\nb" }, /name must be 1 to 64 characters with no control/],
    ["insClass unknown", { insClass: "SWAP" }, /insClass must be one of FUTURE/],
    ["priceTick zero", { priceTick: 0 }, /priceTick must be a finite number > 0/],
    ["priceTick off the decimal grid", { priceTick: 10.5 }, /price_tick 10.5 is not a whole number/],
    ["priceDecs too large", { priceDecs: 9 }, /priceDecs must be a whole number from 0 to 8/],
    ["priceDecs fractional", { priceDecs: 0.5 }, /priceDecs must be a whole number/],
    ["volumeMultiple negative", { volumeMultiple: -5 }, /volumeMultiple must be a finite number > 0/],
    ["multiplier not whole", { volumeMultiple: 0.001 }, /volume_multiple x 10\^2 \/ 10\^price_decs/],
    ["currency lower case", { currency: "cny" }, /currency must be a three-letter currency code/],
    ["margin negative", { marginPerLot: -1 }, /marginPerLot must be a finite number >= 0/],
    ["margin finer than a fen", { marginPerLot: 0.001 }, /margin 0.001 is not a whole number/],
    ["margin rate over 100%", { marginRateBp: 10_001 }, /marginRateBp must be a whole number from 0 to 10000/],
    ["commission NaN", { commissionPerLot: Number.NaN }, /commissionPerLot must be a finite number/],
    ["commission rate fractional", { commissionRateBp: 1.5 }, /commissionRateBp must be a whole number/],
    ["position limit negative", { positionLimit: -1 }, /positionLimit must be a whole number from 0/],
    ["lower limit zero", { lowerLimit: 0 }, /lowerLimit must be a finite number > 0/],
    ["limits crossed", { lowerLimit: 90_000, upperLimit: 70_000 }, /0 < lower_limit <= upper_limit/],
    ["min volume zero", { minOrderVolume: 0 }, /minOrderVolume must be a whole number from 1/],
    ["max below min", { minOrderVolume: 10, maxOrderVolume: 5 }, /1 <= min <= max/],
    ["closeTodayDistinct not boolean", { closeTodayDistinct: "yes" }, /closeTodayDistinct must be true or false/],
    ["tradingTime missing", { tradingTime: undefined }, /tradingTime must be \{day/],
    ["tradingTime bad clock", { tradingTime: { day: [["9:00", "10:00:00"]], night: [] } }, /tradingTime.day\[0\] must be/],
    ["tradingTime reversed", { tradingTime: { day: [], night: [["23:00:00", "21:00:00"]] } }, /tradingTime.night\[0\] .* start < end/],
    ["unknown field", { colour: "red" }, /unknown field "colour"/],
  ];
  it.each(bad)("rejects an instrument with %s, naming the field", async (_, change, message) => {
    const c = openCatalog();
    await rejects(c.putInstrument({ ...CU, ...change } as InstrumentInfo), "invalid", message);
    expect(c.listInstruments()).toEqual([]);
  });
});

describe("persistence and lifetime", () => {
  it("keeps every record across close and reopen", async () => {
    const dir = tempDir();
    const c = openCatalog(dir, () => 5n);
    await c.addUser("alice", ["trader", "admin"], fakeRecord(3));
    await c.addAccount("alice.b", "alice");
    await c.disableUser("alice");
    for (const i of DEMO_INSTRUMENTS) await c.putInstrument(i);
    const before = { users: c.listUsers(), accounts: c.listAccounts(), instruments: c.listInstruments() };
    await c.close();
    const d = openCatalog(dir);
    expect({ users: d.listUsers(), accounts: d.listAccounts(), instruments: d.listInstruments() }).toEqual(before);
    expect(d.getUser("alice")!.createdNs).toBe(5n);
  });

  it("refuses every call after close", async () => {
    const c = openCatalog();
    await c.close();
    expect(() => c.getUser("a")).toThrow(CatalogError);
    expect(() => c.listInstruments()).toThrow(/the catalog is closed/);
    await rejects(c.addUser("a", ["trader"], fakeRecord()), "closed", /closed/);
    await c.close();
  });

  it("refuses a catalog of another format, and reports a damaged record as corrupt", async () => {
    const dir = tempDir();
    const c = openCatalog(dir);
    await c.addUser("alice", ["trader"], fakeRecord());
    await c.close();
    const raw = open({ path: dir, maxDbs: 8, encoding: "json" });
    const users = raw.openDB<unknown, string>("users", { encoding: "json" });
    await users.put("alice", { name: "alice", roles: ["trader"], password: "plain", createdNs: "1", disabled: false, version: 1 });
    await users.put("bob", { name: "mallory" });
    await raw.close();
    const d = openCatalog(dir);
    expect(() => d.getUser("alice")).toThrow(/stored user "alice" does not decode/);
    expect(() => d.getUser("bob")).toThrow(CatalogError);
    await d.close();
    const raw2 = open({ path: dir, maxDbs: 8, encoding: "json" });
    await raw2.openDB<number, string>("meta", { encoding: "json" }).put("format", 2);
    await raw2.close();
    expect(() => Catalog.open(dir)).toThrow(/has format 2; this build reads format 1/);
  });
});

describe("seed", () => {
  it("adds users, default accounts and missing instruments only into an empty catalog", async () => {
    const c = openCatalog();
    await c.putInstrument({ ...CU, name: "kept" });
    const added = await c.seed([{ name: "a", roles: ["trader"], password: fakeRecord() }], DEMO_INSTRUMENTS);
    expect(added!.users.map((u) => u.name)).toEqual(["a"]);
    expect(added!.instruments.map((i) => i.symbol)).toEqual(["DCE.m2605", "CFFEX.IF2603", "CZCE.SR605"]);
    expect(c.getInstrument(CU.symbol)!.name).toBe("kept");
    expect(c.accountsOf("a")).toEqual([{ id: "a", owner: "a" }]);
    expect(await c.seed([{ name: "b", roles: ["trader"], password: fakeRecord() }], [])).toBeUndefined();
    expect(c.getUser("b")).toBeUndefined();
  });

  it("writes nothing when it fails halfway through its transaction", async () => {
    const c = openCatalog();
    // The second "a" is refused inside the transaction, after the first "a" and its account were written.
    await rejects(c.seed([{ name: "a", roles: ["trader"], password: fakeRecord() }, { name: "a", roles: ["trader"], password: fakeRecord() }], DEMO_INSTRUMENTS), "exists", /user "a" already exists/);
    expect(c.listUsers()).toEqual([]);
    expect(c.listAccounts()).toEqual([]);
    expect(c.listInstruments()).toEqual([]);
    expect(c.hasUsers()).toBe(false);
  });
});

describe("seedDemo", () => {
  it("seeds admin, demo1 and demo2 with real password records and the demo instruments, once", async () => {
    const hasher = new PasswordHasher();
    try {
      const c = openCatalog();
      const added = await seedDemo(c, hasher);
      expect(added.users).toEqual([
        { name: "admin", roles: ["trader", "admin"], password: "admin-pass", account: "admin" },
        { name: "demo1", roles: ["trader"], password: "demo1-pass", account: "demo1" },
        { name: "demo2", roles: ["trader"], password: "demo2-pass", account: "demo2" },
      ]);
      expect(added.instruments).toEqual(DEMO_INSTRUMENTS.map((i) => i.symbol));
      expect(c.accountsOf("demo1")).toEqual([{ id: "demo1", owner: "demo1" }]);
      expect(await hasher.verify(c.getUser("demo1")!.password, "demo1-pass")).toBe(true);
      const hashed = hasher.completedCount;
      expect(await seedDemo(c, hasher)).toEqual({ users: [], instruments: [] });
      expect(hasher.completedCount).toBe(hashed);
    } finally {
      await hasher.close();
    }
  });
});

describe("settlement statements", () => {
  it("keeps each account's newest statements by day, replaces a day's, survives reopening, and refuses bad days", async () => {
    const dir = tempDir();
    const c = openCatalog(dir);
    await c.addUser("alice", ["trader"], fakeRecord(1));
    await c.addAccount("alice.b", "alice");
    await c.putStatement("alice", 20261124, "day one");
    await c.putStatement("alice.b", 20261124, "other account");
    await c.putStatement("alice", 20261124, "day one, again");
    expect(c.getStatement("alice", 20261124)).toBe("day one, again");
    expect(c.getStatement("alice.b", 20261124)).toBe("other account");
    expect(c.getStatement("alice", 20261125)).toBeUndefined();
    expect(c.getStatement("alice", 2026112)).toBeUndefined();
    // Past STATEMENTS_KEPT days, the oldest go (this account's only).
    const days: number[] = [];
    for (let d = new Date(Date.UTC(2027, 0, 1)); days.length < STATEMENTS_KEPT + 5; d = new Date(d.getTime() + 86_400_000)) {
      days.push(Number(d.toISOString().slice(0, 10).replaceAll("-", "")));
    }
    for (const day of days) await c.putStatement("alice", day, `statement ${day}`);
    expect(c.getStatement("alice", 20261124)).toBeUndefined();
    for (const day of days.slice(0, 5)) expect(c.getStatement("alice", day)).toBeUndefined();
    for (const day of days.slice(5)) expect(c.getStatement("alice", day)).toBe(`statement ${day}`);
    expect(c.getStatement("alice.b", 20261124)).toBe("other account");
    await rejects(c.putStatement("alice", 20261332, "x"), "invalid", /bad trading day/);
    await rejects(c.putStatement("alice", 1.5, "x"), "invalid", /bad trading day/);
    await rejects(c.putStatement("no one", 20261124, "x"), "invalid", /bad account id/);
    await c.close();
    const again = openCatalog(dir);
    expect(again.getStatement("alice", days.at(-1)!)).toBe(`statement ${days.at(-1)}`);
    expect(again.getStatement("alice.b", 20261124)).toBe("other account");
  });
});
