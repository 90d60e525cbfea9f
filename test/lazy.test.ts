import { describe, expect, it } from 'vitest';
import { lazy } from '../shared/lazy.js';

describe('lazy', () => {
  it('builds once for concurrent first calls and shares the value', async () => {
    let builds = 0;
    const value = lazy(async () => ++builds);
    expect(await Promise.all([value.get(), value.get(), value.get()])).toEqual([1, 1, 1]);
    expect(await value.get()).toBe(1);
    expect(builds).toBe(1);
  });

  it('forgets a failed build, so the next call tries again', async () => {
    let attempt = 0;
    const value = lazy(async () => {
      attempt++;
      if (attempt === 1) throw new Error('storage briefly unreachable');
      return 'ready';
    });
    await expect(value.get()).rejects.toThrow('storage briefly unreachable');
    expect(await value.get()).toBe('ready');
    expect(attempt).toBe(2);
  });

  it('takes a replacement, and builds again after set(undefined)', async () => {
    let builds = 0;
    const value = lazy(async () => `built ${++builds}`);
    value.set('wired by a test');
    expect(await value.get()).toBe('wired by a test');
    value.set(undefined);
    expect(await value.get()).toBe('built 1');
  });
});
