/**
 * Whether a Prometheus is watching the local loop, and how often it scrapes.
 *
 * A release's counters (saves, pushes, requests) live in its process. The save that starts a
 * deploy is counted by the release that deploy retires, about a second before it stops — long
 * before a 15-second scrape comes round, so the count would be lost with the process. While a
 * scraper is registered, the pipeline therefore keeps a retired release running, still listed
 * in the file-SD list, for one more scrape (`finalScrapeMs`), then stops it.
 *
 * `npm run monitor` (and the monitoring tests) register their Prometheus by writing
 * `scraper.json` next to the file-SD lists, and remove it when they stop. A registration whose
 * process is gone (killed without cleaning up) is ignored.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeAtomically } from '../files';

export const SCRAPER_FILE = 'scraper.json';

export interface Scraper {
  /** Prometheus' scrape interval, in seconds. */
  intervalSeconds: number;
  /** The scraping process; the registration holds only while it runs. */
  pid: number;
}

export function registerScraper(fileSdDir: string, scraper: Scraper): void {
  writeAtomically(path.join(fileSdDir, SCRAPER_FILE), `${JSON.stringify(scraper)}\n`);
}

export function unregisterScraper(fileSdDir: string): void {
  rmSync(path.join(fileSdDir, SCRAPER_FILE), { force: true });
}

/** The registered scraper, when there is one and its process is running. */
export function activeScraper(fileSdDir: string): Scraper | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path.join(fileSdDir, SCRAPER_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const { intervalSeconds, pid } = (parsed ?? {}) as Partial<Scraper>;
  if (typeof intervalSeconds !== 'number' || !(intervalSeconds > 0)) return undefined;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) {
    return undefined;
  }
  return { intervalSeconds, pid };
}

/**
 * How long a retired release must stay up so that a scrape starts after it stopped taking
 * traffic and finishes: one interval, plus half an interval (at least a second) of margin.
 * 0 when nothing is scraping.
 */
export function finalScrapeMs(scraper: Scraper | undefined): number {
  if (!scraper) return 0;
  const interval = scraper.intervalSeconds * 1000;
  return Math.ceil(interval + Math.max(1000, interval / 2));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes a file-SD target list for Prometheus (`[{targets, labels}]`), atomically. */
export function writeTargets(
  file: string,
  targets: { address: string; labels: Record<string, string> }[],
): void {
  writeAtomically(
    file,
    JSON.stringify(
      targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      null,
      2,
    ) + '\n',
  );
}
