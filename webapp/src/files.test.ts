import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAtomically } from './files';

describe('writeAtomically', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-files-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates and replaces the file, leaving no temporary file behind', () => {
    const file = path.join(dir, 'app.json');
    writeAtomically(file, 'first\n');
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    writeAtomically(file, 'second\n');
    expect(readFileSync(file, 'utf8')).toBe('second\n');
    expect(readdirSync(dir)).toEqual(['app.json']);
  });

  it('fails naming the path when the folder is missing, and writes nothing', () => {
    const file = path.join(dir, 'missing', 'app.json');
    expect(() => writeAtomically(file, 'x')).toThrow(/ENOENT.*missing/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives the file the mode asked for, also when it replaces a file with wider ones', () => {
    const file = path.join(dir, 'users.json');
    writeAtomically(file, 'open\n', { mode: 0o644 });
    writeAtomically(file, 'secret\n', { mode: 0o600 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('secret\n');
  });
});
