/**
 * Every limit and default of the market-data model, named once. Options passed to
 * `MarketData` may choose other values within the hard bounds here; the bounds keep
 * memory per instrument known and every number a safe integer.
 */

/** Bars kept per (instrument, duration) series by default. DIFF charts ask for at most 10,000. */
export const BARS_PER_SERIES_DEFAULT = 10_000;
/** Hard bound on bars kept per series (six float64 per bar: 48 MB per series at the bound). */
export const BARS_PER_SERIES_MAX = 1_000_000;
/** Ticks kept per instrument by default. */
export const TICKS_PER_INSTRUMENT_DEFAULT = 10_000;
export const TICKS_PER_INSTRUMENT_MAX = 1_000_000;
/** L2 updates kept per instrument for consumers catching up (`L2Feed.updates`) by default. */
export const L2_UPDATES_KEPT_DEFAULT = 4_096;
export const L2_UPDATES_KEPT_MAX = 1 << 20;
/** Bar series per instrument (tracked from the start plus opened on demand). */
export const SERIES_PER_INSTRUMENT_DEFAULT = 32;
export const SERIES_PER_INSTRUMENT_MAX = 256;

/** Book levels per side in the DIFF quote (DIFF clients read 1..5; the real server sends up to 10). */
export const QUOTE_LEVELS_DEFAULT = 5;
export const QUOTE_LEVELS_MAX = 10;
/** Book levels per side in a DIFF tick (the tick fields are ask/bid 1..5). */
export const TICK_LEVELS = 5;

export const NS_PER_SECOND = 1_000_000_000;
export const SECONDS_PER_DAY = 86_400;
/**
 * The longest bar: 28 days. Durations are counted in ns as JS numbers, and 28 days of ns
 * (2.4e15) is well inside the safe-integer range (9.0e15); weekly bars fit.
 */
export const BAR_DURATION_MAX_NS = 28 * SECONDS_PER_DAY * NS_PER_SECOND;

/**
 * Series every instrument tracks from its definition (ns): 1 s, 1 min, 5 min, 15 min,
 * 30 min, 1 h, 1 day. A series opened later for another duration is rebuilt from the
 * coarsest of these that divides it (see bars.ts), so 1 s and 1 min make every multiple of
 * a second or a minute available with history.
 */
export const BAR_DURATIONS_DEFAULT_NS: readonly number[] = [
  1, 60, 300, 900, 1_800, 3_600, SECONDS_PER_DAY,
].map((s) => s * NS_PER_SECOND);

/** China time (UTC+8), in which DIFF writes quote datetimes and starts trading days. */
export const CHINA_UTC_OFFSET_SECONDS = 8 * 3_600;
