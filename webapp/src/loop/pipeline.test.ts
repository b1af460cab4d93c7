import { platformUnchanged, siteCodeUnchanged } from './reuse';

const inputs = ['webapp/site/routes.ts', 'webapp/site/lib/format.ts', 'webapp/src/site/app.ts'];

describe('what a release can reuse of the processes that serve', () => {
  it.each([
    [['webapp/site/pages/index.html'], true, true],
    [['webapp/site/assets/site.css', 'webapp/site/pages/about.html'], true, true],
    [['webapp/site/routes.test.ts'], true, true],
    [['webapp/site/data/new.json'], true, true],
    [['webapp/site/routes.ts'], true, false],
    [['webapp/site/lib/format.ts', 'webapp/site/pages/index.html'], true, false],
    [['webapp/src/site/app.ts'], false, false],
    [['webapp/src/editor/service.ts'], false, false],
    [['package-lock.json'], false, false],
    [['webapp/sitemap.xml'], false, false],
    [[], true, true],
  ])('after %j: platform reused %s, site reused %s', (changed, platform, site) => {
    expect(platformUnchanged(changed)).toBe(platform);
    expect(siteCodeUnchanged(changed, inputs)).toBe(site);
  });
});
