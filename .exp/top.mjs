import { readFileSync, readdirSync } from 'node:fs';
const f = readdirSync('.').find((x) => x.endsWith('.cpuprofile'));
const p = JSON.parse(readFileSync(f));
const self = new Map(); const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0;
for (const n of p.nodes) { const t = (dt.get(n.id) ?? 0) / 1000; total += t; const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); }
const byFile = new Map(); for (const n of p.nodes) { const t = (dt.get(n.id) ?? 0) / 1000; const k = n.callFrame.url.split('/').slice(-3).join('/') || n.callFrame.functionName; byFile.set(k, (byFile.get(k) ?? 0) + t); }
console.log('total ms', total.toFixed(0));
console.log([...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${v.toFixed(0).padStart(6)} ${k}`).join('\n'));
console.log('--- by file');
console.log([...byFile.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(0).padStart(6)} ${k}`).join('\n'));
