/**
 * Every limit of the node, named once. Configuration may lower a limit; nothing may
 * exceed the hard ones here, because they size fields in the binary layouts or bound
 * memory.
 */

/** Resting orders across all books (each costs ~60 bytes in the book plus its id entry). */
export const ORDERS_MAX = 1 << 24;
/** Initial capacity of the order pool; it doubles on demand up to the configured maximum. */
export const ORDERS_INITIAL = 1 << 14;
export const INSTRUMENTS_MAX = 1 << 16;
export const ACCOUNTS_MAX = 1 << 22;
/** Client order ids remembered at once (live orders plus finished ones of the trading day). */
export const ORDER_IDS_MAX = 1 << 25;
/** Price levels per book side kept in one sorted array before it must grow (it grows by doubling). */
export const BOOK_SIDE_INITIAL_LEVELS = 64;
