/**
 * Seeded randomness for the load generator: a small PRNG, and samplers of a stream index under a uniform or a
 * Zipf distribution (rank k drawn with probability proportional to 1 / (k+1)^s, so index 0 is the hottest).
 * Seeded so that two runs with the same options send the same keys in the same order per client.
 */
import assert from 'node:assert/strict';

export const keyDistributions = ['uniform', 'zipf'] as const;
export type KeyDistribution = (typeof keyDistributions)[number];

/** mulberry32: 32 bits of state, good enough to pick keys, and fast. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Sampler = () => number;

/** Indexes in 0..n-1. Zipf uses a precomputed cumulative table (n doubles) and a binary search per draw. */
export function makeSampler(distribution: KeyDistribution, n: number, random: () => number, zipfExponent = 0.99): Sampler {
  assert(Number.isSafeInteger(n) && n >= 1, `need at least one key, got ${n}`);
  if (distribution === 'uniform') return () => Math.floor(random() * n);
  assert(zipfExponent > 0, 'the Zipf exponent must be positive');
  const cdf = zipfTable(n, zipfExponent);
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

const zipfTables = new Map<string, Float64Array>();

/** Cumulative probabilities of ranks 0..n-1; shared between the clients of a run. */
function zipfTable(n: number, s: number): Float64Array {
  const key = `${n}/${s}`;
  let cdf = zipfTables.get(key);
  if (cdf !== undefined) return cdf;
  cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  for (let k = 0; k < n; k++) cdf[k] /= sum;
  cdf[n - 1] = 1;
  zipfTables.set(key, cdf);
  return cdf;
}

/** A printable payload of `bytes` random letters and digits (incompressible enough, and safe in any log). */
export function makePayload(bytes: number, random: () => number): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = alphabet.charCodeAt(Math.floor(random() * alphabet.length));
  return out;
}
