'use strict';
// Summarises V8's `--trace-gc-nvp` lines (one per GC, name=value pairs) by process and GC kind: how
// many, and the median and total of each phase time (ms) and of the byte counts. Reads a log from a
// file or stdin; the lines may be mixed with anything else (apps/bench's workers share its stdout).
// Which phase a slow scavenge spends its time in, and whether it copied or promoted more bytes.
//
//   node --trace-gc-nvp app.js > gc.log; node packages/core/bench/gc-nvp-summary.js gc.log
//   node packages/core/bench/gc-nvp-summary.js gc.log --skip 20   (leave out each process's first 20 GCs)
//   node packages/core/bench/gc-nvp-summary.js gc.log --fields pause,scavenge.roots,promoted
const { readFileSync } = require('node:fs');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({ allowPositionals: true, options: { skip: { type: 'string', default: '0' }, fields: { type: 'string' } } });
const text = readFileSync(positionals[0] ?? 0, 'utf8');
const skip = Number(values.skip);
const wanted = values.fields?.split(',');

/** pid → gc kind → list of { field: number }. */
const byProcess = new Map();
for (const line of text.split('\n')) {
  const at = line.indexOf('pause=');
  if (at < 0) continue;
  const pid = /\[(\d+):/.exec(line)?.[1] ?? '?';
  const record = {};
  let kind = '?';
  for (const pair of line.slice(at).trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (name === 'gc') kind = value;
    else if (/^-?[\d.]+%?$/.test(value)) record[name] = Number(value.replace('%', ''));
  }
  if (!byProcess.has(pid)) byProcess.set(pid, new Map());
  const kinds = byProcess.get(pid);
  if (!kinds.has(kind)) kinds.set(kind, []);
  kinds.get(kind).push(record);
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};
const show = (n) => (Math.abs(n) >= 1000 ? n.toExponential(2) : Number(n.toFixed(2)).toString());

for (const [pid, kinds] of byProcess) {
  for (const [kind, all] of kinds) {
    const records = all.slice(skip);
    if (records.length === 0) continue;
    console.log(`\npid ${pid}, gc=${kind}: ${records.length} GCs (${all.length - records.length} skipped)`);
    const names = wanted ?? [...new Set(records.flatMap((r) => Object.keys(r)))];
    for (const name of names) {
      const list = records.map((r) => r[name]).filter((v) => v !== undefined);
      const total = list.reduce((a, b) => a + b, 0);
      if (list.length === 0 || (wanted === undefined && total === 0)) continue;
      console.log(`  ${name.padEnd(44)} median ${show(median(list)).padStart(10)}   max ${show(Math.max(...list)).padStart(10)}   sum ${show(total).padStart(10)}`);
    }
  }
}
