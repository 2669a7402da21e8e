/**
 * The node's control block: one small SharedArrayBuffer of i32 cells that every thread
 * of the node shares, one 128-byte line per hot cell. Owned here; src/bus/control.ts reads
 * and writes it; docs/formats/ring.md draws it.
 *
 *   line  cell (i32 index)                            written by
 *   0     0 durable seq, low 32 bits                  the journal worker (or the loop when
 *         1 threads parked on it (count)              there is no journal), waiters
 *   1     32 doorbell: bumped by each inbound publish  inbound producers
 *         33 loop parked (count)                      the engine loop
 *   2     64 node status (NodeStatus)                 the main thread
 *         65 slow commit: the last group commit's ms   the journal worker
 *            while commits are slow (0: healthy)
 *   3     96 events published through this seq,       the engine loop, after each batch
 *            low 32 bits (every event of every seq up
 *            to it is on its topic ring)
 *   4+w   heartbeat of worker w (count)               worker w
 */

export const C_DURABLE_LO = 0;
export const C_DURABLE_PARKED = 1;
export const C_DOORBELL = 32;
export const C_LOOP_PARKED = 33;
export const C_STATUS = 64;
export const C_SLOW_COMMIT_MS = 65;
export const C_EVENTS_SEQ_LO = 96;
const C_FIRST_HEARTBEAT_LINE = 4;
export const CONTROL_WORKERS_MAX = 64;
export const CONTROL_BYTES = (C_FIRST_HEARTBEAT_LINE + CONTROL_WORKERS_MAX) * 128;

export function heartbeatCell(worker: number): number {
  return (C_FIRST_HEARTBEAT_LINE + worker) * 32;
}

export const NodeStatus = {
  starting: 0,
  running: 1,
  /** Intake stopped: draining the rings before exit. */
  stopping: 2,
  /** Stopped taking commands after a fault (a stalled critical consumer, a failed commit). */
  fenced: 3,
  stopped: 4,
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];
