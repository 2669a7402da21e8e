/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests: it throws
 * on anything a scraper would refuse or that breaks the format's rules, and returns the
 * families with their samples.
 *
 * Checked: every sample line is `name{label="value",...} value`, with a valid name, valid
 * label names, properly escaped label values and a float value; every sample belongs to a
 * family that has a TYPE line before it (a histogram's `_bucket`, `_sum` and `_count`
 * belong to it); a family's TYPE and HELP appear at most once and its samples are
 * contiguous; no series appears twice; histogram buckets are cumulative, end in
 * le="+Inf", and that bucket equals `_count`.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value ${JSON.stringify(text)} in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in: ${line}`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === "\\") {
        const n = text[j + 1];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else throw new Error(`bad escape in a label value in: ${line}`);
        j += 2;
        continue;
      }
      if (c === "\n") throw new Error(`raw newline in a label value in: ${line}`);
      value += c;
      j++;
    }
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ",") throw new Error(`labels not separated by commas in: ${line}`);
      i++;
    }
  }
  return labels;
}

/** The family a sample name belongs to, given the families declared. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f !== undefined && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return f;
  }
  return undefined;
}

export function parsePrometheus(text: string): Map<string, Family> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: Family | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === "HELP") {
        if (helps.has(name)) throw new Error(`HELP for ${name} twice`);
        helps.set(name, rest);
        const f = families.get(name);
        if (f !== undefined) f.help = rest;
        continue;
      }
      if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
      if (families.has(name)) throw new Error(`TYPE for ${name} twice`);
      if (current !== undefined) closed.add(current.name);
      current = { name, type: rest, help: helps.get(name), samples: [] };
      families.set(name, current);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const family = familyOf(name, families);
    if (family === undefined) throw new Error(`sample ${name} has no TYPE before it`);
    if (family !== current || closed.has(family.name)) throw new Error(`samples of ${family.name} are not contiguous`);
    const labels = labelText === undefined || labelText === "" ? {} : parseLabels(labelText, line);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
    if (series.has(key)) throw new Error(`series ${key} twice`);
    series.add(key);
    family.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (samples.find((s) => s.name === `${f.name}_sum`) === undefined || count === undefined) throw new Error(`${f.name}: a series without _sum or _count`);
    if (buckets.length === 0 || buckets[buckets.length - 1]!.labels["le"] !== "+Inf") throw new Error(`${f.name}: the last bucket must be le="+Inf"`);
    let prevLe = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels["le"] ?? "", `${f.name} le`);
      if (!(le > prevLe)) throw new Error(`${f.name}: bucket bounds must rise`);
      if (b.value < prev) throw new Error(`${f.name}: buckets must be cumulative`);
      prevLe = le;
      prev = b.value;
    }
    if (prev !== count.value) throw new Error(`${f.name}: the +Inf bucket (${prev}) must equal _count (${count.value})`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  throw new Error(`no sample ${name} with ${JSON.stringify(labels)}`);
}
