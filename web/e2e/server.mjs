// A real `commonsnet serve` on 127.0.0.1 for the browser tests: started on a free port with its
// own data folder, restarted in place (same port, same data) to drop live connections, stopped.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The binary: $COMMONSNET_BIN, else the debug build in $CARGO_TARGET_DIR (or ../target). */
export function binary() {
  if (process.env.COMMONSNET_BIN) return process.env.COMMONSNET_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(import.meta.dirname, '../../target');
  return join(target, 'debug', 'commonsnet');
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export class Server {
  constructor({ tokens = null } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'commonsnet-e2e-'));
    this.tokens = null;
    if (tokens) {
      this.tokens = join(this.dir, 'tokens.txt');
      writeFileSync(this.tokens, Object.entries(tokens).map(([t, k]) => `${t} ${k}`).join('\n') + '\n');
    }
    this.proc = null;
    this.port = 0;
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const args = ['serve', '--addr', `127.0.0.1:${this.port}`, '--data', join(this.dir, 'data')];
    if (this.tokens) args.push('--tokens', this.tokens);
    this.proc = spawn(binary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.log = '';
    this.proc.stderr.on('data', (d) => {
      this.log = (this.log + d.toString()).slice(-20000);
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`server exited: ${this.log}`);
      try {
        const r = await fetch(`${this.origin}/healthz`);
        if (r.ok) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('server did not come up in 30 s');
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** JSON request to the server, as another client would send it. */
  async api(method, path, body, token) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(this.origin + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}
