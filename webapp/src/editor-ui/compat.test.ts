import { editorSettings, sessionUser } from './compat';

const USER = { username: 'dora', name: 'Dora', email: 'dora@example.com' };
const SETTINGS = { branch: 'main', editable: ['webapp/site/**'], maxFileBytes: 1024 };

describe('answers of servers older than the API contract', () => {
  it('an older server’s editor is a developer; every other role is kept', () => {
    expect(sessionUser({ ...USER, role: 'editor' })).toEqual({ ...USER, role: 'developer' });
    for (const role of ['viewer', 'author', 'developer', 'admin'] as const) {
      expect(sessionUser({ ...USER, role })).toEqual({ ...USER, role });
    }
  });

  it('settings that do not say whether the scope is wide are judged by its globs', () => {
    expect(editorSettings(SETTINGS).wideScope).toBe(false);
    expect(editorSettings({ ...SETTINGS, editable: ['webapp/site/**', 'webapp/src/**'] })).toEqual({
      ...SETTINGS,
      editable: ['webapp/site/**', 'webapp/src/**'],
      wideScope: true,
      siteUrl: null,
      saveTarget: 'direct',
      directSaves: true,
      canPublish: false,
      changeRequests: 'local',
    });
  });

  it('the server’s word on the scope and the site’s URL wins over the globs', () => {
    const said = {
      ...SETTINGS,
      wideScope: true,
      siteUrl: 'https://example.com',
      saveTarget: 'change-request' as const,
      directSaves: false,
      canPublish: true,
      changeRequests: 'github' as const,
    };
    expect(editorSettings(said)).toEqual(said);
    expect(
      editorSettings({ ...SETTINGS, editable: ['webapp/**'], wideScope: false }).wideScope,
    ).toBe(false);
  });
});
