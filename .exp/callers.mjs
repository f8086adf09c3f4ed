import { readFileSync, readdirSync } from 'node:fs';
const name = process.argv[2];
const f = readdirSync('.').find((x) => x.endsWith('.cpuprofile'));
const p = JSON.parse(readFileSync(f));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const stacks = new Map();
for (const n of p.nodes) { if (n.callFrame.functionName !== name) continue; const t = (dt.get(n.id) ?? 0) / 1000; let s = []; let q = parent.get(n.id); for (let i = 0; q && i < 14; i++, q = parent.get(q.id)) s.push(`${q.callFrame.functionName}@${q.callFrame.url.split('/').slice(-1)[0]}:${q.callFrame.lineNumber}`); const k = s.join(' < '); stacks.set(k, (stacks.get(k) ?? 0) + t); }
console.log([...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${v.toFixed(0)} ${k}`).join('\n'));
