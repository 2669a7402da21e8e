/**
 * TESTING.md §G 30: the authentication and authorisation bypass matrix, against a real
 * node (journal, loop, gateway worker with its catalog) over real HTTP and WebSockets.
 * Every case must be refused with a generic error, leave nothing changed, and be in the
 * audit log (and the audit file); a disabled user's open socket is closed. The matrix is printed.
 */

import { afterAll, beforeAll, expect, test } from "vitest";
import { randomBytes } from "node:crypto";
import { auditLines, auditMessages } from "../node/audit_lines.ts";
import { join } from "node:path";
import { DiffClient } from "./diff_client.ts";
import { startGatewayNode, type GatewayNode } from "./node_kit.ts";
import { until } from "../until.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";

const TTL_MS = 3_000;
let gw: GatewayNode;
let base: string;
let http: string;
const logs: string[] = [];
const matrix: Array<{ case: string; expected: string; got: string; pass: boolean }> = [];

beforeAll(async () => {
  gw = await startGatewayNode({
    prefix: "venue-authz-",
    users: [["boss", ["admin"], "boss-secret"], ["deputy", ["admin"], "deputy-secret"], ["t1", ["trader"], "t1-secret"], ["t2", ["trader"], "t2-secret"], ["ro", ["readonly"], "ro-secret"]],
    funded: ["t1", "t2"],
    log: (l) => logs.push(l),
    admin: { tokenTtlMs: TTL_MS },
  });
  base = gw.ws;
  http = gw.http;
}, 60_000);

afterAll(async () => {
  console.log("auth matrix (TESTING.md 30):\n" + matrix.map((m) => `  ${m.pass ? "PASS" : "FAIL"}  ${m.case}: expected ${m.expected}, got ${m.got}`).join("\n"));
  await gw?.close();
}, 60_000);

function record(name: string, expected: string, got: string): void {
  matrix.push({ case: name, expected, got, pass: expected === got });
  expect(got, name).toBe(expected);
}

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${http}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === "" ? undefined : JSON.parse(text) };
}

async function adminLogin(user: string, password: string): Promise<{ status: number; token?: string; body: unknown }> {
  const r = await call("POST", "/admin/login", undefined, { user_name: user, password });
  return { status: r.status, body: r.body, ...(r.status === 200 ? { token: (r.body as { token: string }).token } : {}) };
}

async function login(user: string, password: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${base}/trade`);
  c.send({ aid: "req_login", bid: "VENUE", user_name: user, password });
  await c.until(`${user}'s login answer`, () => c.notifies.some((n) => n.code === 401 || n.code === 403));
  return c;
}

const refusedAdmin = (r: { status: number; body: unknown }): string => `${r.status} ${JSON.stringify(r.body)}`;
const GENERIC_401 = `401 ${JSON.stringify({ error: "not authorised" })}`;
/** Waits for an audit line (it comes from the gateway worker as a message, so it may trail the client's answer). */
const audited = async (pattern: RegExp): Promise<boolean> => {
  await until(() => logs.some((l) => pattern.test(l)), `an audit line ${pattern}`);
  return true;
};

test("admin API: no token, a forged token, an expired token, a revoked token and a non-admin all get the same 401", async () => {
  record("admin API without a token", GENERIC_401, refusedAdmin(await call("GET", "/admin/users")));
  record("admin API with a forged token", GENERIC_401, refusedAdmin(await call("GET", "/admin/users", randomBytes(32).toString("base64url"))));
  record("admin API with a malformed Authorization header", GENERIC_401, refusedAdmin(await call("GET", "/admin/users", "x".repeat(5000))));

  const boss = await adminLogin("boss", "boss-secret");
  expect(boss.status).toBe(200);
  const users = await call("GET", "/admin/users", boss.token);
  expect(users.status).toBe(200);
  expect((users.body as Array<{ name: string }>).map((u) => u.name)).toContain("t1");

  // Logout revokes; replaying the old token afterwards is refused.
  const again = await adminLogin("boss", "boss-secret");
  expect((await call("POST", "/admin/logout", again.token)).status).toBe(200);
  record("admin API with a logged-out (revoked) token replayed", GENERIC_401, refusedAdmin(await call("GET", "/admin/users", again.token)));

  // A trader's and a read-only user's right passwords do not open the admin API.
  record("admin login by a trader (right password)", GENERIC_401, refusedAdmin(await adminLogin("t1", "t1-secret")));
  record("admin login by a read-only user (right password)", GENERIC_401, refusedAdmin(await adminLogin("ro", "ro-secret")));
  record("admin login with a wrong password", GENERIC_401, refusedAdmin(await adminLogin("boss", "wrong-password")));
  record("admin login of an unknown user", GENERIC_401, refusedAdmin(await adminLogin("nobody", "whatever-pass")));

  // Taking the admin role away ends that user's tokens at once. (Tokens live TTL_MS here,
  // about the time of a few logins on a busy machine: each step takes a fresh one.)
  const deputy = await adminLogin("deputy", "deputy-secret");
  const boss2 = await adminLogin("boss", "boss-secret");
  expect((await call("POST", "/admin/users/deputy/roles", boss2.token, { roles: ["trader"] })).status).toBe(200);
  record("admin API with the token of a user whose admin role was removed", GENERIC_401, refusedAdmin(await call("GET", "/admin/users", deputy.token)));

  // Expiry.
  const short = await adminLogin("boss", "boss-secret");
  await new Promise((r) => setTimeout(r, TTL_MS + 300));
  record("admin API with an expired token", GENERIC_401, refusedAdmin(await call("GET", "/admin/users", short.token)));
  expect(await audited(/audit: admin - from .*GET \/admin\/users -> 401/)).toBe(true);
  expect(await audited(/audit: admin t1 from .*POST \/admin\/login -> 401/)).toBe(true);
}, 60_000);

test("BFLA: admin operations (halting an instrument, transfers) are refused to traders, and work for an admin", async () => {
  const t1 = await login("t1", "t1-secret");
  t1.send({ aid: "req_transfer", future_account: "t1", future_password: "", bank_id: "", bank_password: "", currency: "CNY", amount: 1_000 });
  await t1.until("the refusal", () => t1.notifies.some((n) => n.content === "transfers need the admin role"));
  record("DIFF req_transfer by a trader", "refused", "refused");
  expect(await audited(/audit: refused req_transfer by t1: not an admin/)).toBe(true);

  const boss = await adminLogin("boss", "boss-secret");
  const halt = await call("POST", "/admin/instruments/SHFE.cu2601/state", boss.token, { state: "halted" });
  expect(halt.status).toBe(202);
  t1.send({ aid: "insert_order", user_id: "t1", order_id: "h1", exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: 70_000, volume_condition: "ANY", time_condition: "GFD" });
  await t1.until("h1 refused", () => ((t1.trade("t1")["orders"] as JsonObject)["h1"] as JsonObject | undefined)?.["last_msg"] === "instrument halted");
  expect((await call("POST", "/admin/instruments/SHFE.cu2601/state", boss.token, { state: "open" })).status).toBe(202);
  record("halting an instrument without an admin token", GENERIC_401, refusedAdmin(await call("POST", "/admin/instruments/SHFE.cu2601/state", undefined, { state: "halted" })));
  // Bad admin input is a 400 that names the problem, not a crash.
  expect((await call("POST", "/admin/instruments/SHFE.cu2601/state", boss.token, { state: "sideways" })).status).toBe(400);
  expect((await call("POST", "/admin/users", boss.token, { name: "x", password: 5 })).status).toBe(400);
  expect((await call("POST", "/admin/users", boss.token, { name: "__proto__", password: "long-enough-1" })).status).toBe(400);
  t1.close();
}, 60_000);

test("DIFF: a message before login, another account's user_id, another account's order, a replayed login and a cross-origin handshake are refused", async () => {
  const anon = await DiffClient.connect(`${base}/trade`);
  anon.send({ aid: "insert_order", user_id: "t1", order_id: "sneak", exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: 70_000, volume_condition: "ANY", time_condition: "GFD" });
  await anon.until("the refusal", () => anon.notifies.some((n) => n.content === "log in first"));
  record("DIFF order before login", "refused", "refused");
  expect(await audited(/audit: refused insert_order before login/)).toBe(true);
  anon.close();

  const t1 = await login("t1", "t1-secret");
  const t2 = await login("t2", "t2-secret");
  t2.send({ aid: "insert_order", user_id: "t2", order_id: "mine", exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: 70_000, volume_condition: "ANY", time_condition: "GFD" });
  await t2.until("t2's order alive", () => ((t2.trade("t2")["orders"] as JsonObject)["mine"] as JsonObject | undefined)?.["status"] === "ALIVE");

  // BOLA: t1 names t2's account, or cancels t2's order id as its own.
  t1.send({ aid: "cancel_order", user_id: "t2", order_id: "mine" });
  t1.send({ aid: "insert_order", user_id: "t2", order_id: "x1", exchange_id: "SHFE", instrument_id: "cu2601", direction: "SELL", offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: 70_000, volume_condition: "ANY", time_condition: "GFD" });
  await t1.until("two refusals", () => t1.notifies.filter((n) => n.content === "user_id is not the account this connection logged in as").length === 2);
  t1.send({ aid: "cancel_order", user_id: "t1", order_id: "mine" });
  await t1.until("the refusal", () => t1.notifies.some((n) => n.content === "order mine is not an alive order of this account"));
  await new Promise((r) => setTimeout(r, 200));
  const alive = ((t2.trade("t2")["orders"] as JsonObject)["mine"] as JsonObject)["status"];
  record("BOLA: cancelling another account's order", "ALIVE", String(alive));
  record("BOLA: an order for another account", "absent", (t2.trade("t2")["orders"] as JsonObject)["x1"] === undefined ? "absent" : "present");
  expect(await audited(/audit: refused cancel_order by t1 for user_id "t2"/)).toBe(true);

  // A second req_login on a logged-in socket changes nothing.
  t1.send({ aid: "req_login", bid: "VENUE", user_name: "t2", password: "t2-secret" });
  await t1.until("the refusal", () => t1.notifies.some((n) => n.content === "already logged in on this connection"));
  t1.send({ aid: "cancel_order", user_id: "t2", order_id: "mine" });
  await t1.until("still t1", () => t1.notifies.filter((n) => n.content === "user_id is not the account this connection logged in as").length === 3);
  record("DIFF login replayed on a logged-in socket", "refused", "refused");

  // Refused DIFF logins look the same whatever the cause.
  const why = async (u: string, p: string): Promise<string> => {
    const c = await login(u, p);
    const n = c.notifies.find((x) => x.code === 403)?.content ?? "accepted";
    c.close();
    return n;
  };
  const generic = await why("t1", "wrong-password");
  record("DIFF login of an unknown user", generic, await why("nobody", "wrong-password"));

  await expect(DiffClient.connect(`${base}/trade`, { headers: { Origin: "https://evil.example" } })).rejects.toThrow(/403/);
  record("cross-origin handshake", "403", "403");
  expect(await audited(/refused a connection from origin "https:\/\/evil.example"/)).toBe(true);
  t1.close();
  t2.close();
}, 60_000);

test("disabling a user closes its open sockets and refuses its next login", async () => {
  const t2 = await login("t2", "t2-secret");
  const boss = await adminLogin("boss", "boss-secret");
  const r = await call("POST", "/admin/users/t2/disable", boss.token);
  expect(r.status).toBe(200);
  expect((r.body as { sessionsClosed: number }).sessionsClosed).toBeGreaterThanOrEqual(1);
  await t2.until("the close", () => t2.closed !== undefined);
  record("a disabled user's open socket", "closed 4001", `closed ${t2.closed!.code}`);
  const again = await login("t2", "t2-secret");
  record("a disabled user's next login", "refused", again.notifies.some((n) => n.code === 403) ? "refused" : "accepted");
  again.close();
  expect(await audited(/audit: closing the sessions of t2: user disabled/)).toBe(true);
  expect((await call("POST", "/admin/users/t2/enable", boss.token)).status).toBe(200);
}, 60_000);

// Last: it locks this address out of logins for a while.
test("guessing passwords meets the back-off after a few tries (TESTING 31)", async () => {
  const answers: string[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await login("ro", `guess-${i}`);
    answers.push(c.notifies.find((n) => n.code === 403)?.content ?? "accepted");
    c.close();
  }
  const checked = answers.filter((a) => a === "login refused: wrong user name or password").length;
  const backedOff = answers.filter((a) => a.startsWith("too many failed logins")).length;
  console.log(`brute force at the gateway: 8 guesses, ${checked} checked, ${backedOff} backed off`);
  record("password guessing", "backed off", backedOff > 0 && checked <= 5 && checked + backedOff === 8 ? "backed off" : `checked ${checked}, backed off ${backedOff}`);
  expect(await audited(/audit: DIFF login refused for "ro"/)).toBe(true);
}, 60_000);

test("every audit line is also in DATA/audit/audit.log, one JSON object a line, in order", async () => {
  const path = join(gw.dir, "data", "audit", "audit.log");
  const audited = (): string[] => logs.filter((l) => l.startsWith("audit:"));
  const filed = (): string[] => {
    try {
      return auditMessages(path);
    } catch {
      return [];
    }
  };
  expect(audited().length).toBeGreaterThan(10);
  await until(() => filed().length >= audited().length, "the audit file to catch up", () => `${filed().length} of ${audited().length}`);
  expect(filed()).toEqual(audited());
  expect(filed().some((m) => /^audit: DIFF login refused for "t1"/.test(m))).toBe(true);
  const first = auditLines(path)[0]!;
  expect(Number.isNaN(Date.parse(first.time))).toBe(false);
});
