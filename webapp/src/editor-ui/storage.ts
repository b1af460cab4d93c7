/**
 * What the editor keeps in the browser (localStorage): drafts of unsaved edits, the open tabs,
 * and settings. Pure logic over a Storage-shaped object, so it is testable without a browser.
 * Storage can be full or switched off; writes report failure instead of throwing.
 */

/** The part of the Web Storage API used here (window.localStorage satisfies it). */
export interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Draft {
  path: string;
  /** The commit the edit started from: a save sends it as `baseCommit`. */
  base: string;
  content: string;
  /** ISO time of the last change. */
  savedAt: string;
}

const DRAFT_PREFIX = 'reflex.draft.v1:';

/**
 * Unsaved edits, one per user, path and base commit: the key is `[user, path, base]`, so a
 * draft is always saved against the commit it was made on and a newer base never mixes with it.
 */
export class DraftStore {
  constructor(
    private readonly storage: StorageLike,
    private readonly user: string,
  ) {}

  /** Keeps `content` as the draft of `path` on `base` (replacing drafts of other bases). */
  put(path: string, base: string, content: string, now = new Date()): boolean {
    this.remove(path);
    return write(
      this.storage,
      DRAFT_PREFIX + JSON.stringify([this.user, path, base]),
      JSON.stringify({ content, savedAt: now.toISOString() }),
    );
  }

  /** The newest draft of `path`, whatever its base. */
  get(path: string): Draft | undefined {
    return this.all()
      .filter((d) => d.path === path)
      .sort((a, b) => b.savedAt.localeCompare(a.savedAt))[0];
  }

  remove(path: string): void {
    for (const { key, draft } of this.entries()) {
      if (draft.path === path) this.storage.removeItem(key);
    }
  }

  /** Every draft of this user. */
  all(): Draft[] {
    return this.entries().map((e) => e.draft);
  }

  private entries(): { key: string; draft: Draft }[] {
    const found: { key: string; draft: Draft }[] = [];
    for (let i = 0; i < this.storage.length; i++) {
      const key = this.storage.key(i);
      if (!key?.startsWith(DRAFT_PREFIX)) continue;
      const parsedKey = parseJson(key.slice(DRAFT_PREFIX.length));
      const value = parseJson(this.storage.getItem(key) ?? '');
      if (
        !Array.isArray(parsedKey) ||
        parsedKey.length !== 3 ||
        parsedKey[0] !== this.user ||
        typeof parsedKey[1] !== 'string' ||
        typeof parsedKey[2] !== 'string' ||
        !isRecord(value) ||
        typeof value.content !== 'string' ||
        typeof value.savedAt !== 'string'
      )
        continue;
      found.push({
        key,
        draft: {
          path: parsedKey[1],
          base: parsedKey[2],
          content: value.content,
          savedAt: value.savedAt,
        },
      });
    }
    return found;
  }
}

export interface OpenTabs {
  paths: string[];
  active: string | undefined;
}

/** The tabs a user had open, so a reload brings them back. */
export class TabMemory {
  private readonly key: string;
  constructor(
    private readonly storage: StorageLike,
    user: string,
  ) {
    this.key = 'reflex.tabs.v1:' + user;
  }

  load(): OpenTabs {
    const value = parseJson(this.storage.getItem(this.key) ?? '');
    if (!isRecord(value) || !Array.isArray(value.paths)) return { paths: [], active: undefined };
    const paths = value.paths.filter((p): p is string => typeof p === 'string').slice(0, 50);
    const active =
      typeof value.active === 'string' && paths.includes(value.active) ? value.active : undefined;
    return { paths, active };
  }

  save(tabs: OpenTabs): void {
    write(this.storage, this.key, JSON.stringify(tabs));
  }
}

/**
 * Moves the unsaved edits and the open tabs kept under one scope to another: work begun on the
 * deploy branch goes with the change request made for it, and is no longer the branch's.
 * Returns the paths whose drafts moved.
 */
export function moveWork(storage: StorageLike, from: string, to: string): string[] {
  const source = new DraftStore(storage, from);
  const target = new DraftStore(storage, to);
  const moved: string[] = [];
  for (const draft of source.all()) {
    if (!target.put(draft.path, draft.base, draft.content, new Date(draft.savedAt))) continue;
    source.remove(draft.path);
    moved.push(draft.path);
  }
  const tabs = new TabMemory(storage, from).load();
  if (tabs.paths.length > 0) new TabMemory(storage, to).save(tabs);
  return moved;
}

export interface Settings {
  /** Take the user to the updated app once the saved commit is live. */
  followDeploy: boolean;
}

const SETTINGS_KEY = 'reflex.settings.v1';
const DEFAULT_SETTINGS: Settings = { followDeploy: true };

export function loadSettings(storage: StorageLike): Settings {
  const value = parseJson(storage.getItem(SETTINGS_KEY) ?? '');
  if (!isRecord(value)) return { ...DEFAULT_SETTINGS };
  return {
    followDeploy:
      typeof value.followDeploy === 'boolean' ? value.followDeploy : DEFAULT_SETTINGS.followDeploy,
  };
}

export function saveSettings(storage: StorageLike, settings: Settings): boolean {
  return write(storage, SETTINGS_KEY, JSON.stringify(settings));
}

function write(storage: StorageLike, key: string, value: string): boolean {
  try {
    storage.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
