// Starts a real parleyd for tests: port 0 (or a given one), a temporary data dir, fast
// Argon2id, rate limits out of the way. The port is read from its "listening on" line.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The parleyd to test: $PARLEYD, else the sanitizer build, else the release one. */
export function parleydPath() {
  const candidates = [process.env.PARLEYD, `${root}/build-asan/parleyd`, `${root}/build/parleyd`]
    .filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no parleyd found (tried ${candidates.join(', ')}); set PARLEYD`);
  return found;
}

export const repoRoot = root;

/**
 * @param {{dataDir?: string, port?: number, webRoot?: string, args?: string[]}} [options]
 */
export async function startParleyd(options = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'parley-js-'));
  const ownsDataDir = !options.dataDir;
  const args = [
    '--listen', `127.0.0.1:${options.port ?? 0}`,
    '--data-dir', dataDir,
    '--durability', 'normal',
    '--argon2-ops-limit', '2', '--argon2-mem-limit', '19922944',
    '--rate-auth-ip-per-min', '100000', '--rate-auth-ip-burst', '100000',
    '--rate-auth-user-per-min', '100000', '--rate-auth-user-burst', '100000',
    '--rate-send-per-min', '100000', '--rate-send-burst', '100000',
    '--rate-typing-per-min', '100000', '--rate-typing-burst', '100000',
    '--threads', '2',
    ...(options.webRoot ? ['--web-root', options.webRoot] : []),
    ...(options.args ?? []),
  ];
  const child = spawn(parleydPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`parleyd did not start:\n${stderr}`)), 30_000);
    lines.on('line', (line) => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`parleyd exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
  child.stdout.resume();

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    get stderr() {
      return stderr;
    },
    /** SIGTERM (drain) and wait for the exit. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    /** SIGKILL: a crash. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    /** Stops and removes the data dir (when this call made it). */
    async dispose() {
      await this.stop();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves when `check()` is truthy, re-checking on each `emitter` event (no polling
 * sleeps); rejects after `timeoutMs` with `what`.
 * @param {{on(name: string, fn: Function): () => void}[]} emitters
 * @param {() => any} check
 * @param {string} what
 */
export function waitFor(emitters, check, what, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const offs = [];
    const done = (fn, value) => {
      clearTimeout(timer);
      for (const off of offs) off();
      fn(value);
    };
    const test = () => {
      let value;
      try {
        value = check();
      } catch (error) {
        done(reject, error);
        return;
      }
      if (value) done(resolve, value);
    };
    const timer = setTimeout(() => done(reject, new Error(`timed out waiting for ${what}`)), timeoutMs);
    for (const e of emitters) offs.push(e.on('change', test));
    test();
  });
}
