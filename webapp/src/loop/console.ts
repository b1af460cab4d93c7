/**
 * What `npm start` prints for each stage event: one line per finished stage, the URL when a
 * release (or a preview) goes live, and the tail of the log with the command for the rest when
 * a stage fails.
 */
import type { StageEvent } from '../pipeline/types';

export interface ConsoleUrls {
  /** The site's URL. */
  site: string;
  /** The editor's URL (its own origin). */
  editor: string;
  /** The edge's port (previews are `<name>.localhost:<port>`). */
  port: number;
}

export function stageLines(event: StageEvent, urls: ConsoleUrls): string[] {
  if (event.status === 'started') return [];
  const short = `${event.preview ? `preview ${event.preview} ` : ''}${event.sha.slice(0, 12)}`;
  const seconds =
    event.durationMs === undefined ? '' : ` ${(event.durationMs / 1000).toFixed(2)} s`;
  if (event.status === 'succeeded') {
    const lines = [`  [${short}] ${event.stage.padEnd(9)} ok${seconds}`];
    if (event.stage === 'live' && event.preview)
      lines.push(
        `Preview ${event.preview} is live at http://${event.preview}.localhost:${urls.port}/`,
      );
    else if (event.stage === 'live')
      lines.push(`Reflex is live at ${urls.site}  (editor: ${urls.editor}/editor/)`);
    return lines;
  }
  return [
    `  [${short}] ${event.stage.padEnd(9)} FAILED${seconds}`,
    ...(event.log ?? '')
      .trim()
      .split('\n')
      .slice(-12)
      .map((line) => `      ${line}`),
    `      full logs: npm run reflex -- logs ${short}`,
  ];
}
