import { describe, expect, it } from 'vitest';

import { LockRecord, describeRecord, isLockRecord, mergeLock, sameJSON, touchesLock } from '../lock';

const entry = (id: string, pushed: Record<string, string> = {}) => ({
  dockerfile: 'FROM busybox\n', build_args: { V: '1', API_KEY: null }, image_id: id, pushed
});
const lock = (images: Record<string, any>, runs: Record<string, string> = {}): LockRecord => ({
  version: 1, images, runs
});

describe('merging the lock into metadata.dockyard', () => {
  it('writes the lock into a notebook that has no record', () => {
    const record = lock({ 'app:1': entry('sha256:a') }, { 'app:1': 'sha256:a' });
    expect(mergeLock(undefined, record)).toEqual(record);
  });

  it('changes nothing when the metadata already holds the lock, in any key order', () => {
    const record = lock({ 'app:1': entry('sha256:a'), 'b:1': entry('sha256:b') });
    const saved = JSON.parse(JSON.stringify({ runs: {}, images: {
      'b:1': entry('sha256:b'), 'app:1': { ...entry('sha256:a') } }, version: 1 }));
    expect(mergeLock(saved, record)).toBeNull();
  });

  it('lets the lock win entry by entry and keeps what only the metadata has', () => {
    const saved = lock({ 'old:1': entry('sha256:o'), 'app:1': entry('sha256:a') },
      { 'old:1': 'sha256:o' });
    const merged = mergeLock(saved, lock({ 'app:1': entry('sha256:a2', { 'r:5000/app:1': 'sha256:d' }) }));
    expect(merged?.images['app:1'].image_id).toBe('sha256:a2');
    expect(merged?.images['app:1'].pushed).toEqual({ 'r:5000/app:1': 'sha256:d' });
    expect(merged?.images['old:1'].image_id).toBe('sha256:o');
    expect(merged?.runs).toEqual({ 'old:1': 'sha256:o' });
    expect(saved.images['app:1'].image_id).toBe('sha256:a');        // the input is untouched
  });

  it('replaces metadata that is not a record', () => {
    const record = lock({ 'app:1': entry('sha256:a') });
    expect(mergeLock({ version: 7, images: [] }, record)).toEqual(record);
    expect(mergeLock('junk', record)).toEqual(record);
  });

  it('an empty lock adds an empty record once, then nothing', () => {
    const first = mergeLock(undefined, lock({}));
    expect(first).toEqual(lock({}));
    expect(mergeLock(first, lock({}))).toBeNull();
  });
});

describe('record shape and equality', () => {
  it('accepts version 1 records only', () => {
    expect(isLockRecord(lock({ a: entry('x') }))).toBe(true);
    expect(isLockRecord({ version: 1 })).toBe(true);
    expect(isLockRecord({ version: 2, images: {} })).toBe(false);
    expect(isLockRecord({ version: 1, images: { a: 'x' } })).toBe(false);
    expect(isLockRecord(null)).toBe(false);
  });

  it('compares JSON values', () => {
    expect(sameJSON({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(sameJSON({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJSON({ a: undefined }, {})).toBe(false);
    expect(sameJSON({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJSON([], {})).toBe(false);
  });
});

describe('which cells may have written the lock', () => {
  it('spots the magics, not mentions of docker', () => {
    expect(touchesLock('%%dockerfile -t app:1\nFROM busybox')).toBe(true);
    expect(touchesLock('x = 1\n  %docker push app:1')).toBe(true);
    expect(touchesLock("get_ipython().run_line_magic('docker', 'build .')")).toBe(true);
    expect(touchesLock('import docker\nprint("%docker")')).toBe(false);
    expect(touchesLock('!docker build .')).toBe(false);
  });
});

describe('the toolbar words', () => {
  it('counts images and lists them with short IDs and pushes', () => {
    const words = describeRecord(lock({
      'b:1': entry('sha256:' + 'b'.repeat(64)),
      'a:1': entry('sha256:' + 'a'.repeat(64), { 'r:5000/a:1': 'sha256:d' })
    }));
    expect(words?.label).toBe('2 images recorded');
    expect(words?.detail.split('\n').slice(1)).toEqual([
      `a:1  ${'a'.repeat(12)}  pushed to r:5000/a:1`, `b:1  ${'b'.repeat(12)}`]);
    expect(describeRecord(lock({ 'a:1': entry('sha256:1') }))?.label).toBe('1 image recorded');
    expect(describeRecord(lock({}))).toBeNull();
    expect(describeRecord(undefined)).toBeNull();
  });
});
