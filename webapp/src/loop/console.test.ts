import { stageLines } from './console';

const urls = { site: 'http://localhost:3000', editor: 'http://editor.localhost:3000', port: 3000 };
const sha = 'a'.repeat(40);
const at = '2026-01-01T00:00:00.000Z';

describe("what npm start prints for the pipeline's stages", () => {
  it('prints nothing when a stage starts, one line when it ends', () => {
    expect(stageLines({ sha, stage: 'gate', status: 'started', at }, urls)).toEqual([]);
    expect(
      stageLines({ sha, stage: 'gate', status: 'succeeded', at, durationMs: 1234 }, urls),
    ).toEqual([`  [${sha.slice(0, 12)}] gate      ok 1.23 s`]);
  });

  it('says where the site and the editor are when a release goes live', () => {
    expect(stageLines({ sha, stage: 'live', status: 'succeeded', at }, urls)[1]).toBe(
      'Reflex is live at http://localhost:3000  (editor: http://editor.localhost:3000/editor/)',
    );
    expect(
      stageLines({ sha, stage: 'live', status: 'succeeded', at, preview: 'typo' }, urls)[1],
    ).toBe('Preview typo is live at http://typo.localhost:3000/');
  });

  it('a failed stage shows the last 12 lines of its log and how to read the rest', () => {
    const log = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n');
    const lines = stageLines({ sha, stage: 'gate', status: 'failed', at, log }, urls);
    expect(lines[0]).toContain('gate      FAILED');
    expect(lines.slice(1, -1)).toEqual(Array.from({ length: 12 }, (_, i) => `      line ${i + 9}`));
    expect(lines.at(-1)).toBe(`      full logs: npm run reflex -- logs ${sha.slice(0, 12)}`);
  });
});
