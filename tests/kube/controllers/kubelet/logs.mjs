// SPDX-License-Identifier: Apache-2.0
// Container logs in the CRI format pod_runner writes ("TIME STREAM P|F TEXT" per line), read
// back the way `kubectl logs` asks for them: tailLines, sinceSeconds / sinceTime, timestamps,
// limitBytes, previous, follow.

import fs from 'node:fs';

// Complete log records of a file's text: [{ time, stream, text }] (partial P lines joined).
export function parseCri(text) {
  const out = [];
  let pending = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    const c = line.indexOf(' ', b + 1);
    if (a < 0 || b < 0 || c < 0) continue;
    const time = line.slice(0, a);
    const stream = line.slice(a + 1, b);
    const tag = line.slice(b + 1, c);
    const text2 = line.slice(c + 1);
    if (pending && pending.stream === stream) pending.text += text2;
    else pending = { time, stream, text: text2 };
    if (tag === 'F') {
      out.push(pending);
      pending = null;
    }
  }
  return out;
}

function format(rec, timestamps) {
  return `${timestamps ? `${rec.time} ` : ''}${rec.text}\n`;
}

// The selected records of a log file as the text `kubectl logs` prints.
export function renderLog(text, q) {
  let recs = parseCri(text);
  const since = q.sinceTime ? Date.parse(q.sinceTime) : q.sinceSeconds ? Date.now() - Number(q.sinceSeconds) * 1000 : null;
  if (since !== null) recs = recs.filter((r) => Date.parse(r.time) >= since);
  if (q.tailLines !== undefined && q.tailLines !== null && q.tailLines !== '') {
    const n = Math.max(0, Number(q.tailLines));
    recs = n === 0 ? [] : recs.slice(-n);
  }
  let out = recs.map((r) => format(r, q.timestamps)).join('');
  if (q.limitBytes) out = Buffer.from(out).subarray(0, Number(q.limitBytes)).toString('utf8');
  return out;
}

// The last lines of a container's output for FallbackToLogsOnError: at most 80 lines and 2048
// bytes, as the kubelet takes them.
export function logTail(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return ''; }
  const lines = parseCri(text).slice(-80).map((r) => r.text).join('\n');
  const b = Buffer.from(lines);
  return b.length > 2048 ? b.subarray(b.length - 2048).toString('utf8') : lines;
}

// Streams a log file to res: what is there (as renderLog), then, with follow, every record
// appended until done() is true and the file has been read to its end.
export async function streamLog(file, q, res, done) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { /* not written yet */ }
  res.write(renderLog(text, q));
  if (!q.follow) return;
  let offset = Buffer.byteLength(text);
  let carry = '';
  let closed = false;
  res.on('close', () => { closed = true; });
  for (;;) {
    if (closed) return;
    let size = 0;
    try { size = fs.statSync(file).size; } catch { /* not yet */ }
    if (size > offset) {
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      fs.closeSync(fd);
      offset = size;
      const chunk = carry + buf.toString('utf8');
      const cut = chunk.lastIndexOf('\n') + 1;
      carry = chunk.slice(cut);
      for (const r of parseCri(chunk.slice(0, cut))) res.write(format(r, q.timestamps));
    } else if (done()) {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
