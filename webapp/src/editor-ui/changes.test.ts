import type { ChangeRequest, EditorSettings } from '../api/contract';
import {
  canClose,
  changeRefusal,
  changeRequestNeeded,
  changeRow,
  filesRoot,
  openChanges,
  saveAllowed,
  targetBranch,
  titleProblem,
  workScope,
  changeHash,
  changeFromHash,
  type Target,
} from './changes';

const SETTINGS: EditorSettings = {
  branch: 'main',
  editable: ['webapp/site/**'],
  maxFileBytes: 1000,
  wideScope: false,
  siteUrl: null,
  saveTarget: 'direct',
  directSaves: true,
  canPublish: false,
  changeRequests: 'local',
};

function change(over: Partial<ChangeRequest> = {}): ChangeRequest {
  return {
    id: 'ann/new-banner',
    branch: 'reflex/ann/new-banner',
    title: 'New banner',
    description: '',
    author: 'ann',
    status: 'open',
    head: 'a'.repeat(40),
    files: ['webapp/site/pages/index.html'],
    previewUrl: 'http://new-banner.localhost:8080/',
    preview: { state: 'live' },
    url: null,
    checks: null,
    review: null,
    ...over,
  };
}

const MAIN: Target = { kind: 'branch', branch: 'main' };

describe('where a save goes', () => {
  it('goes to the deploy branch for a user whose saves go there', () => {
    expect(saveAllowed(SETTINGS, MAIN)).toBe(true);
    expect(targetBranch(MAIN)).toBe('main');
    expect(filesRoot(MAIN)).toBe('/api/');
  });

  it('asks for a change request when the default target is a change request (authors)', () => {
    expect(saveAllowed({ ...SETTINGS, saveTarget: 'change-request' }, MAIN)).toBe(false);
  });

  it('asks for a change request when direct saves are not allowed for the role', () => {
    expect(saveAllowed({ ...SETTINGS, directSaves: false }, MAIN)).toBe(false);
    expect(changeRequestNeeded({ ...SETTINGS, directSaves: false }).detail).toContain(
      'You may not save to main directly',
    );
  });

  it('always saves into the change request the workbench is on, through its own routes', () => {
    const target: Target = { kind: 'change', change: change({ id: 'ann/a b' }) };
    expect(
      saveAllowed({ ...SETTINGS, saveTarget: 'change-request', directSaves: false }, target),
    ).toBe(true);
    expect(targetBranch(target)).toBe('reflex/ann/new-banner');
    expect(filesRoot(target)).toBe('/api/changes/ann/a%20b/');
  });
});

describe('where unsaved work is kept', () => {
  it('is per branch: the deploy branch’s under the user, a change request’s under its branch', () => {
    expect(workScope('ann')).toBe('ann');
    expect(workScope('ann', change())).toBe('ann@reflex/ann/new-banner');
  });
});

describe('the page’s address', () => {
  it('names the change request the editor is on, so that a reload stays on it', () => {
    const open = change();
    expect(changeHash(open)).toBe('#change=ann/new-banner');
    expect(changeHash(undefined)).toBe('');
    expect(changeFromHash(changeHash(open), [change({ id: 'bob/x' }), open])).toBe(open);
  });

  it('names none once it is published or closed, or when the address is not one', () => {
    const published = change({ status: 'published' });
    expect(changeFromHash('#change=ann/new-banner', [published])).toBeUndefined();
    expect(changeFromHash('#change=ann', [change()])).toBeUndefined();
    expect(changeFromHash('', [change()])).toBeUndefined();
  });
});

describe('a change request in the list', () => {
  it('names its author, files, status and preview state', () => {
    const row = changeRow(change({ files: ['a.html', 'b.css'] }));
    expect(row).toMatchObject({
      title: 'New banner',
      byline: 'by ann · 2 files · open',
      files: 'a.html, b.css',
      preview: 'preview live',
      previewFailed: false,
      github: '',
    });
  });

  it('says why its preview failed', () => {
    const row = changeRow(
      change({ preview: { state: 'failed', error: 'health check timed out' } }),
    );
    expect(row.preview).toBe('preview failed: health check timed out');
    expect(row.previewFailed).toBe(true);
  });

  it('shows checks and review on GitHub', () => {
    const row = changeRow(change({ checks: 'failure', review: 'changes_requested' }));
    expect(row.github).toBe('checks failed · changes requested');
  });

  it('lists only open ones, the user’s own first', () => {
    const list = [
      change({ id: 'bob/x', author: 'bob' }),
      change({ id: 'ann/y' }),
      change({ id: 'ann/z', status: 'published' }),
    ];
    expect(openChanges(list, 'ann').map((c) => c.id)).toEqual(['ann/y', 'bob/x']);
  });

  it('may be closed by its author or a publisher only, while open', () => {
    expect(canClose(change(), 'ann', false)).toBe(true);
    expect(canClose(change(), 'bob', false)).toBe(false);
    expect(canClose(change(), 'bob', true)).toBe(true);
    expect(canClose(change({ status: 'closed' }), 'ann', true)).toBe(false);
  });
});

describe('a refused publish', () => {
  it('gives the server’s reason for a protected branch (409)', () => {
    const message = changeRefusal('publish', change(), 409, {
      code: 'merge_refused',
      error: 'GitHub refused the merge: At least 1 approving review is required',
    });
    expect(message.kind).toBe('error');
    expect(message.title).toBe(
      '“New banner” was not published: GitHub refused the merge: At least 1 approving review is required',
    );
  });

  it('says a role may not publish (403) with the server’s reason', () => {
    const message = changeRefusal('publish', change(), 403, { error: 'your role may not publish' });
    expect(message.title).toContain('your role may not publish');
    expect(message.detail).toContain('ask someone who may publish');
  });

  it('falls back to the status when the server gives no reason', () => {
    expect(changeRefusal('close', change(), 500, {}).title).toBe(
      '“New banner” was not closed: HTTP 500',
    );
  });
});

describe('a new change request’s title', () => {
  it('is required and bounded', () => {
    expect(titleProblem('  ')).toBe('Give the change request a title.');
    expect(titleProblem('x'.repeat(201))).toContain('too long');
    expect(titleProblem('New banner')).toBeUndefined();
  });
});
