/**
 * Pure code for the notebook's reproducibility record: what the kernel wrote to
 * dockyard.lock.json (served for one notebook by `GET /dockyard/lock?path=…`) is merged into
 * the notebook's `metadata.dockyard`, so the .ipynb carries it when it travels alone. The
 * format is ext/dockyard_jupyter/lockfile.py's; `%docker reproduce` reads both places.
 */

export const METADATA_KEY = 'dockyard';

export interface ImageEntry {
  image_id: string;
  pushed?: Record<string, string>;
  [field: string]: unknown;
}

export interface LockRecord {
  version: 1;
  images: Record<string, ImageEntry>;
  runs: Record<string, string>;
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

export function isLockRecord(x: unknown): x is LockRecord {
  return isObject(x) && x.version === 1 && isObject(x.images ?? {}) && isObject(x.runs ?? {}) &&
    Object.values((x.images ?? {}) as object).every(isObject);
}

/** JSON equality, key order ignored (metadata round-trips through the server sorted). */
export function sameJSON(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => sameJSON(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every(k => Object.prototype.hasOwnProperty.call(b, k) && sameJSON(a[k], b[k]));
  }
  return a === b;
}

/**
 * The lock's entries over what the metadata already holds, entry by entry (an image the
 * notebook recorded before, whose lock entry is gone, stays). Returns null when the metadata
 * already says it all, so an unchanged notebook is never marked dirty.
 */
export function mergeLock(current: unknown, lock: LockRecord): LockRecord | null {
  const base: Partial<LockRecord> = isLockRecord(current) ? current : {};
  const merged: LockRecord = {
    version: 1,
    images: { ...(base.images ?? {}), ...lock.images },
    runs: { ...(base.runs ?? {}), ...lock.runs }
  };
  return sameJSON(merged, current) ? null : merged;
}

/** Code whose run may have written the lock: the `%docker`/`%%dockerfile` magics. */
export function touchesLock(code: string): boolean {
  return /^[ \t]*%{1,2}docker/m.test(code) ||
    /run_(?:line|cell)_magic\(\s*['"]docker/.test(code);
}

/** The toolbar's words for a record: a count, and one line per image for the tooltip. */
export function describeRecord(record: unknown): { label: string; detail: string } | null {
  if (!isLockRecord(record) || Object.keys(record.images).length === 0) return null;
  const names = Object.keys(record.images).sort();
  const lines = names.map(name => {
    const entry = record.images[name];
    const pushed = Object.keys(entry.pushed ?? {}).sort();
    const short = String(entry.image_id ?? '').replace(/^sha256:/, '').slice(0, 12);
    return `${name}  ${short}${pushed.length ? `  pushed to ${pushed.join(', ')}` : ''}`;
  });
  return {
    label: `${names.length} image${names.length === 1 ? '' : 's'} recorded`,
    detail: `Recorded in this notebook (metadata.dockyard); %docker reproduce pulls or ` +
      `rebuilds them:\n${lines.join('\n')}`
  };
}
