// Several hosts: three network namespaces (each its own network stack, addresses and host name) joined by a
// bridge in a fourth, with mpirun starting the remote daemons through `ip netns exec` instead of ssh.
// Ranks then talk TCP over the veth links as separate machines would. Needs root and iproute2.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, mpiSkipReason, mpirunPath } from './mpi-env.js';

const HOSTS = 3;
const tag = `cn${process.pid % 100000}`;
const ns = (n: string) => `${tag}-${n}`;
const subnet = `10.${77 + (process.pid % 50)}.0`;
const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });

const skipReason: string | null = mpiSkipReason
  ?? (!isRoot ? 'needs root to create network namespaces'
    : sh('command -v ip').status !== 0 ? 'needs iproute2 (ip)'
      : sh(`ip netns add ${ns('probe')} && ip netns del ${ns('probe')}`).status !== 0 ? 'this kernel/container does not allow network namespaces'
        : null);

const dir = mkdtempSync(join(tmpdir(), 'convnet-hosts-'));
const worker = fileURLToPath(new URL('./workers/train-steps.mjs', import.meta.url));

function setup(): void {
  const cmds = [`ip netns add ${ns('sw')}`, `ip netns exec ${ns('sw')} ip link add br0 type bridge`, `ip netns exec ${ns('sw')} ip link set br0 up`];
  for (let i = 1; i <= HOSTS; i++) {
    const h = ns(`h${i}`);
    cmds.push(`ip netns add ${h}`, `ip link add ${tag}v${i} type veth peer name eth0 netns ${h}`, `ip link set ${tag}v${i} netns ${ns('sw')}`,
      `ip netns exec ${ns('sw')} ip link set ${tag}v${i} master br0 up`, `ip netns exec ${h} ip addr add ${subnet}.${i}/24 dev eth0`,
      `ip netns exec ${h} ip link set eth0 up`, `ip netns exec ${h} ip link set lo up`);
  }
  const r = sh(cmds.join(' && '));
  if (r.status !== 0) throw new Error(`building the namespaces failed: ${r.stderr}`);
  // mpirun's remote-shell agent: "agent HOST COMMAND..." runs COMMAND on that host, as ssh would
  const cases = Array.from({ length: HOSTS }, (_, i) => `  ${subnet}.${i + 1}) ns=${ns(`h${i + 1}`)};;`).join('\n');
  const agent = [
    '#!/bin/sh',
    'host=$1; shift',
    'case "$host" in',
    cases,
    '  *) echo "agent: unknown host $host" >&2; exit 1;;',
    'esac',
    'exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $ns; $*"',
  ];
  writeFileSync(join(dir, 'agent.sh'), `${agent.join('\n')}\n`);
  chmodSync(join(dir, 'agent.sh'), 0o755);
}

function teardown(): void {
  for (const n of ['sw', ...Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`)]) sh(`ip netns del ${ns(n)} 2>/dev/null`);
  rmSync(dir, { recursive: true, force: true });
}

describe.skipIf(skipReason !== null)(`${HOSTS} hosts in network namespaces${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(setup);
  afterAll(teardown);

  it(`${HOSTS} ranks on ${HOSTS} hosts × 4 images = 1 process × 12 images: same weights after 3 steps`, () => {
    const args = ['--steps', '3', '--batch', '12'];
    const one = spawnSync(process.execPath, [worker, ...args, '--out', join(dir, 'one.json')], { env: { ...process.env, CONVNET_NUM_THREADS: '1' }, encoding: 'utf8', timeout: 60_000 });
    expect(one.status, one.stderr).toBe(0);
    const hosts = Array.from({ length: HOSTS }, (_, i) => `${subnet}.${i + 1}:1`).join(',');
    const mpirun = [mpirunPath!, '--allow-run-as-root', '--host', hosts, '-np', String(HOSTS), '--mca', 'plm_rsh_agent', join(dir, 'agent.sh'),
      '--mca', 'plm_rsh_no_tree_spawn', '1', '--mca', 'pml', 'ob1', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', `${subnet}.0/24`,
      '--mca', 'oob_tcp_if_include', `${subnet}.0/24`, '-x', 'CONVNET_NUM_THREADS=1', process.execPath, worker, ...args, '--out', join(dir, 'many.json')];
    const quoted = mpirun.map((a) => `'${a}'`).join(' ');
    const r = spawnSync('ip', ['netns', 'exec', ns('h1'), 'unshare', '--uts', 'sh', '-c', `hostname ${ns('h1')} && exec ${quoted}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // one rank per host, each on its own host name
    const seen = [...r.stdout.matchAll(/rank (\d+)\/3 on host (\S+)/g)].map((m) => `${m[1]}@${m[2]}`).sort();
    expect(seen).toEqual(Array.from({ length: HOSTS }, (_, i) => `${i}@${ns(`h${i + 1}`)}`));
    const a = JSON.parse(readFileSync(join(dir, 'one.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(dir, 'many.json'), 'utf8'));
    expect(b.size).toBe(HOSTS);
    expect(b.sync).toBeNull();
    let worst = 0;
    for (const [name, w1] of Object.entries(a.params as Record<string, number[]>)) {
      const w2 = b.params[name] as number[];
      const scale = w1.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < w1.length; i++) worst = Math.max(worst, Math.abs(w1[i] - w2[i]) / scale);
    }
    expect(worst).toBeLessThan(1e-5); // the same float32 tolerance as on loopback
    const worstText = worst.toExponential(2);
    console.log(`${HOSTS} hosts vs 1 process: largest weight difference ${worstText} of the layer's largest weight`);
  });
});
