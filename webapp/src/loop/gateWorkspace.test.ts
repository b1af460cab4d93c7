/**
 * The warm gate's working tree follows the commits over real git. It takes its dependencies
 * from the release folder, which is still being made while the gate runs beside the checkout:
 * it waits for that folder only when a manifest changed.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GateWorkspace } from './gateWorkspace';
import { git } from '../../test/support/repos';

describe('the gate workspace', () => {
  let root: string;
  let origin: string;
  const shas: Record<string, string> = {};

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-gatews-'));
    const work = path.join(root, 'work');
    origin = path.join(root, 'origin.git');
    git(root, ['init', '--quiet', '--initial-branch=main', work]);
    const commit = (name: string, page: string) => {
      mkdirSync(path.join(work, 'webapp/site/pages'), { recursive: true });
      writeFileSync(path.join(work, 'webapp/site/pages/index.html'), page);
      git(work, ['add', '-A']);
      git(work, ['commit', '--quiet', '-m', name]);
      shas[name] = git(work, ['rev-parse', 'HEAD']);
    };
    commit('base', '<h1>One</h1>\n');
    commit('edit', '<h1>Two</h1>\n');
    writeFileSync(path.join(work, 'package.json'), '{ "name": "site" }\n');
    commit('manifest', '<h1>One</h1>\n');
    git(root, ['clone', '--quiet', '--bare', work, origin]);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('moves to a tree with the same manifests without waiting for the release folder', async () => {
    const workspace = new GateWorkspace(
      path.join(root, 'gate'),
      origin,
      path.join(root, 'gate.index'),
    );
    const release = (sha: string) => {
      const dir = path.join(root, 'releases', sha);
      const deps = path.join(root, `deps-${sha.slice(0, 8)}`);
      mkdirSync(dir, { recursive: true });
      mkdirSync(deps, { recursive: true });
      symlinkSync(deps, path.join(dir, 'node_modules'));
      return dir;
    };
    expect(await workspace.moveTo(shas.base!, release(shas.base!))).toEqual({
      changed: undefined,
      dependenciesChanged: true,
    });

    // No manifest changed: the same dependencies, so no wait for a folder still under way.
    const never = new Promise<string>(() => undefined);
    expect(await workspace.moveTo(shas.edit!, never)).toEqual({
      changed: ['webapp/site/pages/index.html'],
      dependenciesChanged: false,
    });
    expect(readFileSync(path.join(root, 'gate/webapp/site/pages/index.html'), 'utf8')).toBe(
      '<h1>Two</h1>\n',
    );
    expect(readlinkSync(path.join(root, 'gate/node_modules'))).toBe(
      path.join(root, `deps-${shas.base!.slice(0, 8)}`),
    );
  });

  it('waits for the release folder when a manifest changed (its dependencies may differ)', async () => {
    const workspace = new GateWorkspace(
      path.join(root, 'gate2'),
      origin,
      path.join(root, 'gate2.index'),
    );
    const deps = path.join(root, 'deps-shared');
    mkdirSync(deps, { recursive: true });
    const release = (name: string) => {
      const dir = path.join(root, 'releases2', name);
      mkdirSync(dir, { recursive: true });
      symlinkSync(deps, path.join(dir, 'node_modules'));
      return dir;
    };
    await workspace.moveTo(shas.base!, release('base'));
    let complete!: (dir: string) => void;
    const moving = workspace.moveTo(
      shas.manifest!,
      new Promise<string>((resolve) => (complete = resolve)),
    );
    let settled = false;
    void moving.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    complete(release('manifest'));
    expect((await moving).changed).toEqual(['package.json']);
  });
});
