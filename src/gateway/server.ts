/**
 * The gateway's sockets: one HTTP server with the DIFF WebSocket endpoints (`/md` for
 * market data, `/trade` for trading; both accept every DIFF command) and, beside them,
 * `GET /health`, `GET /metrics` (Prometheus text) and the admin API under `/admin/`
 * (admin.ts).
 *
 * Limits, all configurable: a frame size cap (16 KiB; `ws` closes a larger message with
 * 1009 without buffering it), compression off, an Origin allowlist for browsers, a cap on
 * connections in all and per remote address, a rate of new connections per remote address
 * (refused with 429 before any handshake), a ping every `pingMs` with the connection dropped if no pong came back,
 * handshake and header timeouts (slow handshakes), and the per-session caps in Session.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Gateway, RefusedReason } from "./gateway.ts";
import { TokenBucket } from "./session.ts";

/** Remote addresses whose connection rate is tracked at once (past it, a new address is not limited until full buckets are forgotten). */
const MAX_RATE_TRACKED = 100_000;

export interface ServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  maxPayload: number;
  maxConnections: number;
  /** Open connections from one remote address at most. */
  maxConnectionsPerIp: number;
  /** New connections a second from one remote address (bursts of twice that); more are refused with 429 before any handshake. */
  connectionsPerSecondPerIp: number;
  /**
   * Origins a browser may connect from (exact, like "http://localhost:8080", or with a
   * port wildcard, "http://localhost:*"; "*" allows any). Clients that send no Origin
   * (SDKs, not browsers) are not affected.
   */
  allowedOrigins: readonly string[];
  pingMs: number;
  /** Handshake (HTTP headers) timeout. */
  headersTimeoutMs: number;
}

export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  host: "127.0.0.1",
  port: 7788,
  maxPayload: 16 * 1024,
  maxConnections: 1000,
  maxConnectionsPerIp: 256,
  connectionsPerSecondPerIp: 100,
  allowedOrigins: ["http://localhost:*", "http://127.0.0.1:*"],
  pingMs: 20_000,
  headersTimeoutMs: 10_000,
};

export interface RunningServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  for (const a of allowed) {
    if (a === "*" || a === origin) return true;
    if (a.endsWith(":*") && origin.startsWith(a.slice(0, -1)) && /^\d+$/.test(origin.slice(a.length - 1))) return true;
  }
  return false;
}

export async function startServer(
  gw: Gateway,
  options: Partial<ServerOptions>,
  health: () => { ok: boolean; status: string; degraded?: string },
  metrics: () => string | Promise<string>,
  log: (line: string) => void,
  admin?: { handle(req: IncomingMessage, res: ServerResponse): boolean },
): Promise<RunningServer> {
  const o = { ...DEFAULT_SERVER_OPTIONS, ...options };
  // Node checks the header and request timeouts only every `connectionsCheckingInterval`
  // (30 s by default), so a slow handshake would outlive headersTimeoutMs by up to that much.
  const connectionsCheckingInterval = Math.max(50, Math.min(1_000, Math.floor(o.headersTimeoutMs / 4)));
  const http: Server = createServer({ connectionsCheckingInterval }, (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/health") {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: h.status, ...(h.degraded === undefined ? {} : { degraded: h.degraded }), connections: gw.sessions.size }));
      return;
    }
    if (req.method === "GET" && url === "/metrics") {
      Promise.resolve()
        .then(metrics)
        .then(
          (text) => {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(text);
          },
          (err: unknown) => {
            log(`gateway: GET /metrics failed: ${String(err)}`);
            res.writeHead(500, { "content-type": "text/plain" });
            res.end("metrics failed\n");
          },
        );
      return;
    }
    if (admin?.handle(req, res) === true) return;
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: the DIFF endpoints are ws://HOST/md and ws://HOST/trade, the L2 feed ws://HOST/l2\n");
  });
  http.headersTimeout = o.headersTimeoutMs;
  http.requestTimeout = o.headersTimeoutMs;
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayload, perMessageDeflate: false, clientTracking: true });
  const alive = new WeakMap<WebSocket, boolean>();
  /** Open connections (and handshakes under way) by remote address. */
  const perIp = new Map<string, number>();
  /** New-connection buckets by remote address; full ones are forgotten (every 10 s, or when there are too many). */
  const connectRate = new Map<string, TokenBucket>();
  const forgetFull = (now: number): void => {
    for (const [ip, b] of connectRate) if (b.full(now)) connectRate.delete(ip);
  };
  const forgetting = setInterval(() => forgetFull(Date.now()), 10_000);
  forgetting.unref();

  const refuse = (socket: Duplex, status: number, text: string, reason: RefusedReason): void => {
    gw.stats.refused[reason]++;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  // A handshake that times out or is not HTTP: answered as Node does by default, and counted.
  http.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") refuse(socket, 408, "Request Timeout", "timeout");
    else if (err.code === "HPE_HEADER_OVERFLOW") refuse(socket, 431, "Request Header Fields Too Large", "bad_request");
    else refuse(socket, 400, "Bad Request", "bad_request");
    socket.destroy();
  });

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "").split("?")[0];
    const kind = path === "/md" ? "md" : path === "/trade" ? "trade" : path === "/l2" ? "l2" : undefined;
    if (kind === undefined) return refuse(socket, 404, "Not Found", "path");
    if (!originAllowed(req.headers.origin, o.allowedOrigins)) {
      log(`gateway: refused a connection from origin ${JSON.stringify(req.headers.origin)?.slice(0, 100)}`);
      return refuse(socket, 403, "Forbidden", "origin");
    }
    const ip = req.socket.remoteAddress ?? "?";
    const now = Date.now();
    let bucket = connectRate.get(ip);
    if (bucket === undefined) {
      if (connectRate.size >= MAX_RATE_TRACKED) forgetFull(now);
      bucket = new TokenBucket(o.connectionsPerSecondPerIp, 2 * o.connectionsPerSecondPerIp, now);
      if (connectRate.size < MAX_RATE_TRACKED) connectRate.set(ip, bucket);
    }
    if (!bucket.take(now)) return refuse(socket, 429, "Too Many Requests", "rate");
    if (wss.clients.size >= o.maxConnections) return refuse(socket, 503, "Service Unavailable", "capacity");
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= o.maxConnectionsPerIp) {
      log(`gateway: refused a connection from ${ip}: ${fromIp} open from there already`);
      return refuse(socket, 503, "Service Unavailable", "per_ip");
    }
    perIp.set(ip, fromIp + 1);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    };
    socket.once("close", uncount);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`;
      alive.set(ws, true);
      ws.on("pong", () => alive.set(ws, true));
      const session = gw.open(
        {
          send: (text) => ws.send(text),
          close: (code, reason) => {
            ws.close(code, reason);
            // A client that does not read may not complete the closing handshake either.
            setTimeout(() => ws.terminate(), 2_000).unref();
          },
          get bufferedAmount() {
            return ws.bufferedAmount;
          },
        },
        kind,
        remote,
      );
      ws.on("message", (data, isBinary) => {
        try {
          gw.message(session, data as Buffer, isBinary);
        } catch (err) {
          // The gateway never throws for input; if it did, the connection goes, not the node.
          log(`gateway: session ${session.id} failed on a message and was closed: ${String(err)}`);
          ws.terminate();
        }
      });
      ws.on("close", () => gw.closed(session));
      ws.on("error", () => ws.terminate());
    });
  });

  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, o.pingMs);
  pinger.unref();

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(o.port, o.host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const addr = http.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : o.port;
  return {
    port,
    host: o.host,
    close: async () => {
      clearInterval(pinger);
      clearInterval(forgetting);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
