/**
 * The site's dynamic routes. Add a route with `router.get(path, handler)`; the handler gets a
 * Koa context. These run inside the platform's app, after its own paths (/api, /editor,
 * /healthz, /version, /metrics), which a site route cannot shadow.
 */
import type Router from '@koa/router';

export interface SiteContext {
  /** The commit this instance runs. */
  sha: string;
}

export function greeting(name: string): string {
  const trimmed = name.trim().slice(0, 60);
  return `Hello, ${trimmed || 'world'}!`;
}

export function registerSiteRoutes(router: Router, site: SiteContext): void {
  router.get('/hello', (ctx) => {
    const name = typeof ctx.query.name === 'string' ? ctx.query.name : '';
    ctx.body = { greeting: greeting(name), sha: site.sha };
  });
}
