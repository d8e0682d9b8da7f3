// Randomness a failure can replay: a small seeded generator (mulberry32), the Fisher–Yates
// shuffle the test runner orders files with, and the seed a randomised test prints and takes
// back from an environment variable.
import { randomInt } from 'node:crypto';

const SEED_LIMIT = 2 ** 32;

/** mulberry32: the same seed gives the same numbers in [0, 1), on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / SEED_LIMIT;
  };
}

/** A copy of `items` in the order the seed gives (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const random = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A seed as written on a command line or in the environment: a whole number from 0 to 2^32-1. */
export function parseSeed(text: string): number | null {
  if (!/^\d{1,10}$/.test(text.trim())) return null;
  const seed = Number(text.trim());
  return seed < SEED_LIMIT ? seed : null;
}

export function newSeed(): number {
  return randomInt(0, SEED_LIMIT);
}

/**
 * The seed of a randomised test: from `envName` when set (to replay a failure), else a new one.
 * Printed at once, with the way to replay it, so a failing run's log holds it.
 */
export function replayableRandom(envName: string, what: string): { seed: number; random: () => number } {
  const given = process.env[envName];
  let seed: number;
  if (given !== undefined && given !== '') {
    const parsed = parseSeed(given);
    if (parsed === null) throw new Error(`${envName}=${given}: a seed is a whole number from 0 to ${SEED_LIMIT - 1}`);
    seed = parsed;
  } else {
    seed = newSeed();
  }
  console.log(`${what}: seed ${seed} (${envName}=${seed} to replay)`);
  return { seed, random: seededRandom(seed) };
}
