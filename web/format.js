// SPDX-License-Identifier: Apache-2.0
// Numbers for people: every metric with its unit, money as currency, no exponent notation
// (0.000542, not 5.42e-4), large counts compact (1.2M), powers of ten beyond that (1.5 × 10¹⁸,
// not 1,500,000T), and relative times.

const sig = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
const compact = new Intl.NumberFormat('en-US', {
  notation: 'compact',
  maximumSignificantDigits: 3,
});
const money = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 3,
});

// Beyond the compact suffixes (T) and below a billionth, written out a number would run to
// hundreds of characters: three significant digits times a power of ten, "1.5 × 10¹⁸".
const BIG = 1e15;
const TINY = 1e-9;
function powerOfTen(v) {
  const [m, e] = v.toExponential(2).split('e');
  const sup = [...String(Number(e))].map((c) => '⁻⁰¹²³⁴⁵⁶⁷⁸⁹'['-0123456789'.indexOf(c)]);
  return `${Number(m)} × 10${sup.join('')}`;
}

// A plain number: three significant digits, grouped thousands, compact from a million on.
export function fmtNum(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= BIG || a < TINY) return powerOfTen(v);
  if (a >= 1e6) return compact.format(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  return sig.format(v);
}

export function fmtMoney(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (v !== 0 && (a >= BIG || a < TINY)) return `${v < 0 ? '-' : ''}$${powerOfTen(a)}`;
  return money.format(v);
}

function fmtBytes(v) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${fmtNum(x)} ${units[i]}`;
}

// What a metric is: {label, unit (shown after the number), kind: num|money|percent|bytes|flag}.
// Names follow the runners' (docs/internals/measure.md): *_ms, *_us, *_rps, cost_*, ...
export function metricInfo(name) {
  const known = {
    throughput_rps: { label: 'Throughput', unit: 'req/s' },
    throughput_rps_uncertainty: { label: 'Throughput uncertainty', unit: 'req/s' },
    capacity_rps: { label: 'Capacity', unit: 'req/s' },
    saturation_rps: { label: 'Saturation', unit: 'req/s' },
    items_per_s: { label: 'Items', unit: 'items/s' },
    cost_per_hour: { label: 'Cost per hour', unit: '/h', kind: 'money' },
    cost_per_million_requests: {
      label: 'Cost per million requests',
      unit: '/M req',
      kind: 'money',
    },
    throughput_per_cost: { label: 'Throughput per cost', unit: 'req/s per $/h' },
    error_rate: { label: 'Error rate', kind: 'percent' },
    late_fraction: { label: 'Late requests', kind: 'percent' },
    lg_cpu_share: { label: 'Load generator CPU share', kind: 'percent' },
    stable: { label: 'Measurement settled', kind: 'flag' },
    pruned: { label: 'Stopped early (pruned)', kind: 'flag' },
    requests: { label: 'Requests sent', unit: '' },
    cpu_seconds: { label: 'CPU time', unit: 's' },
    wall_seconds: { label: 'Wall time', unit: 's' },
    peak_memory_bytes: { label: 'Peak memory', kind: 'bytes' },
    oom_kills: { label: 'OOM kills', unit: '' },
  };
  if (known[name]) return { kind: 'num', ...known[name] };
  let m = /^(p\d+|mean|max|min)_ms(_upper)?$/.exec(name);
  if (m)
    return { label: `${m[1]} latency${m[2] ? ' (upper bound)' : ''}`, unit: 'ms', kind: 'num' };
  m = /^latency_(\w+?)_us(_upper)?$/.exec(name);
  if (m)
    return { label: `${m[1]} latency${m[2] ? ' (upper bound)' : ''}`, unit: 'µs', kind: 'num' };
  if (/_ms$/.test(name)) return { label: name, unit: 'ms', kind: 'num' };
  if (/_us$/.test(name)) return { label: name, unit: 'µs', kind: 'num' };
  if (/_(s|seconds)$/.test(name)) return { label: name, unit: 's', kind: 'num' };
  if (/_rps$/.test(name)) return { label: name, unit: 'req/s', kind: 'num' };
  if (/_bytes$/.test(name)) return { label: name, kind: 'bytes' };
  if (/^cost/.test(name)) return { label: name, unit: '', kind: 'money' };
  if (/_(rate|fraction|share)$/.test(name)) return { label: name, kind: 'percent' };
  return { label: name, unit: '', kind: 'num' };
}

// A metric's value with its unit: "23.4 ms", "$0.0421/h", "1.2 %", "yes".
export function fmtMetric(name, v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const info = metricInfo(name);
  if (info.kind === 'money') return `${fmtMoney(v)}${info.unit || ''}`;
  if (info.kind === 'percent') return `${fmtNum(v * 100)} %`;
  if (info.kind === 'bytes') return fmtBytes(v);
  if (info.kind === 'flag') return v ? 'yes' : 'no';
  return info.unit ? `${fmtNum(v)} ${info.unit}` : fmtNum(v);
}

// A limit the runner recorded (meta.limits.NAME.requested): a number in the metric's unit, or
// text as recorded (a cpuset such as "0-1", a GPU type: they read '–').
export function fmtLimit(name, requested) {
  return typeof requested === 'string' ? requested : fmtMetric(name, requested);
}

// The unit of an axis: "ms", "$/h", "%", "bytes", or '' for none.
export function axisUnit(name) {
  const info = metricInfo(name);
  if (info.kind === 'money') return `$${info.unit || ''}`;
  return { percent: '%', bytes: 'bytes' }[info.kind] || info.unit || '';
}

// An axis label: "p99 latency (ms)".
export function axisLabel(name) {
  const unit = axisUnit(name);
  const { label } = metricInfo(name);
  return unit ? `${label} (${unit})` : label;
}

// Tick values of an axis for metric `name` (percent shown as such; others as plain numbers).
// A tick uPlot leaves unlabelled (null: the minor ticks of a log scale) has no text, not '–'.
export function tickFormat(name) {
  const kind = name ? metricInfo(name).kind : 'num';
  const f = { percent: (v) => fmtNum(v * 100), money: fmtMoney }[kind] || fmtNum;
  return (v) => (v == null ? '' : f(v));
}

// Tick steps of an axis of whole numbers (trial numbers): never a tick between two of them.
export const WHOLE_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

// Stored text (a choice, a failure reason, a metric's name) may hold Unicode bidi controls: a
// right-to-left override (U+202E) in a value reordered the text after it, in the same label or
// line, wherever the value went (tables, headings, chart labels, tooltips). isolate(s) wraps a
// string holding any in first-strong isolates (U+2068 ... U+2069), as <bdi> would, so that it
// stays one unit among the text around it: one more isolate before it per isolate end in it
// without its start, and one more end after it per isolate in it left open, so that no control
// of the value closes the wrapping or leaks past it. A string without controls is returned as is.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
export function isolate(s) {
  if (typeof s !== 'string' || !BIDI.test(s)) return s;
  let open = 0;
  let unmatched = 0;
  for (const c of s) {
    if (c >= '\u2066' && c <= '\u2068') open++;
    else if (c === '\u2069') {
      if (open > 0) open--;
      else unmatched++;
    }
  }
  return `${'\u2068'.repeat(1 + unmatched)}${s}${'\u2069'.repeat(1 + unmatched + open)}`;
}

// Every string of a JSON value, object keys too, isolated (the same key stays the same key).
export function isolateAll(v) {
  if (typeof v === 'string') return isolate(v);
  if (Array.isArray(v)) return v.map(isolateAll);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [isolate(k), isolateAll(x)]));
  }
  return v;
}

// JSON text for people: bidi controls written as escapes (\u202e), the same JSON, so that a
// value's override cannot reorder the line it is on.
export function escapeBidi(text) {
  return text.replace(
    new RegExp(BIDI.source, 'g'),
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// A name cut to `max` characters with an ellipsis (the whole name goes in a tooltip).
export function shorten(text, max) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s;
}

// uPlot axis options for an x that is the index of a choice: ticks at the choices, named, as
// many as fit side by side: every k-th choice of a long list (1,000 names drawn over one another
// made a grey smear), each name at most 24 characters.
export function categoryTicks(values) {
  const longest = values.reduce((m, v) => Math.max(m, Math.min(24, String(v).length)), 1);
  const room = 7 * longest + 12; // pixels a name needs
  return {
    splits: (u) => {
      const ratio = globalThis.devicePixelRatio || 1;
      const width = u && u.bbox ? u.bbox.width / ratio : Infinity;
      const fit = Math.max(1, Math.floor(width / room));
      const step = Math.max(1, Math.ceil(values.length / fit));
      return values.map((_, i) => i).filter((i) => i % step === 0);
    },
    values: (u, ticks) => ticks.map((i) => shorten(values[i] ?? '', 24)),
  };
}

export function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// A parameter value as the spec writes it.
export function fmtParam(v) {
  return String(v);
}
