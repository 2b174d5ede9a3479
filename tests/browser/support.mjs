// What the browser test needs besides the browser: the real `spiritus` binary on a free
// loopback port with its own data directory, HTTPS calls that trust exactly its generated
// certificate, and RFC 6238 codes computed here, independently of the server.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The binary under test: SPIRITUS_BINARY, else a built one in the cargo target directory. */
export function findBinary() {
  const candidates = [process.env.SPIRITUS_BINARY];
  for (const dir of [process.env.CARGO_TARGET_DIR, join(ROOT, 'target')]) {
    if (dir) {
      candidates.push(join(dir, 'release', 'spiritus'), join(dir, 'debug', 'spiritus'));
    }
  }
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) {
    throw new Error('no spiritus binary: build it (cargo build -p spiritus-cli) or set SPIRITUS_BINARY');
  }
  return found;
}

/**
 * The test profile of docs/abuse-defences.md, as `BENCH_PROFILE` in
 * crates/test-support/src/server.rs: the flows log in many times from one address, which the
 * default login limits (5 per 5 minutes) would refuse. The limits have their own tests.
 */
const TEST_PROFILE = {
  SPIRITUS_RATE_LIMITS__PER_IP_PER_MINUTE: '1000000',
  SPIRITUS_RATE_LIMITS__PER_USER_PER_HOUR: '1000000',
  SPIRITUS_RATE_LIMITS__LOGIN_ATTEMPTS: '1000000',
  SPIRITUS_RATE_LIMITS__LOGIN_USERNAME_PER_HOUR: '1000000',
  SPIRITUS_RATE_LIMITS__SUSPEND_AFTER_FAILURES: '1000000',
  SPIRITUS_RATE_LIMITS__BLOCK_AFTER_TRIPS: '0',
};

/** Starts `spiritus serve`; resolves once it prints its address. */
export async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'spiritus-browser-'));
  const child = spawn(findBinary(), ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SPIRITUS_CORE__ENABLED: 'false',
      SPIRITUS_METRICS__LISTEN: 'off',
      ...TEST_PROFILE,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  child.stderr.on('data', (chunk) => log.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let ownerPassword = null;
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log.join('')}`)), 60000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${log.join('')}`)));
    lines.on('line', (line) => {
      const password = line.trim().match(/^one-time password: (\S+)$/);
      if (password) {
        ownerPassword = password[1];
      }
      const address = line.match(/^Spiritus is listening on (\S+)$/);
      if (address) {
        clearTimeout(timer);
        resolve(address[1]);
      }
    });
  });
  const ca = readFileSync(join(dataDir, 'tls', 'cert.pem'));
  return {
    baseUrl,
    ownerPassword,
    log,
    call: (method, path, body, token) => call(baseUrl, ca, method, path, body, token),
    async stop() {
      child.kill('SIGKILL');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One JSON call to the server; resolves to { status, body }. */
function call(baseUrl, ca, method, path, body, token) {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
  const headers = { Accept: 'application/json', 'User-Agent': 'spiritus-browser-test' };
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, ca, servername: undefined },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = text;
          }
          resolve({ status: response.statusCode, body: parsed });
        });
      },
    );
    outgoing.setTimeout(120000, () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
    outgoing.on('error', reject);
    if (payload) {
      outgoing.write(payload);
    }
    outgoing.end();
  });
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const character of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(character);
    if (value < 0) {
      throw new Error(`not base32: ${character}`);
    }
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let index = 0; index + 8 <= bits.length; index += 8) {
    bytes.push(parseInt(bits.slice(index, index + 8), 2));
  }
  return Buffer.from(bytes);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret for time step `step`. */
export function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const number = (digest.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(number).padStart(6, '0');
}

/** The current TOTP time step. */
export function currentStep() {
  return Math.floor(Date.now() / 30000);
}

/** Waits until the time step is past `usedStep`, so a fresh code can be made. */
export async function nextStepAfter(usedStep) {
  while (currentStep() <= usedStep) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return currentStep();
}
