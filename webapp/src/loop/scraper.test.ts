import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  activeScraper,
  finalScrapeMs,
  registerScraper,
  SCRAPER_FILE,
  unregisterScraper,
} from './scraper';

describe('scraper registration', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-scraper-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a registered, running scraper is active until it unregisters', () => {
    expect(activeScraper(dir)).toBeUndefined();
    registerScraper(dir, { intervalSeconds: 15, pid: process.pid });
    expect(activeScraper(dir)).toEqual({ intervalSeconds: 15, pid: process.pid });
    expect(readdirSync(dir)).toEqual([SCRAPER_FILE]);
    unregisterScraper(dir);
    expect(activeScraper(dir)).toBeUndefined();
  });

  it('ignores a registration whose process is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    registerScraper(dir, { intervalSeconds: 15, pid: gone });
    expect(activeScraper(dir)).toBeUndefined();
  });

  it.each([
    ['not JSON', '{'],
    ['no interval', JSON.stringify({ pid: process.pid })],
    ['a zero interval', JSON.stringify({ intervalSeconds: 0, pid: process.pid })],
    ['a text interval', JSON.stringify({ intervalSeconds: '15', pid: process.pid })],
    ['no pid', JSON.stringify({ intervalSeconds: 15 })],
    ['a negative pid', JSON.stringify({ intervalSeconds: 15, pid: -1 })],
    ['null', 'null'],
  ])('ignores a registration with %s', (_what, text) => {
    writeFileSync(path.join(dir, SCRAPER_FILE), text);
    expect(activeScraper(dir)).toBeUndefined();
  });
});

describe('finalScrapeMs', () => {
  it('is 0 without a scraper: a retired release stops at once', () => {
    expect(finalScrapeMs(undefined)).toBe(0);
  });

  it('covers one interval and a margin of half an interval, at least a second', () => {
    expect(finalScrapeMs({ intervalSeconds: 15, pid: 1 })).toBe(22_500);
    expect(finalScrapeMs({ intervalSeconds: 1, pid: 1 })).toBe(2_000);
    expect(finalScrapeMs({ intervalSeconds: 0.5, pid: 1 })).toBe(1_500);
  });
});
