import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { greeting, registerSiteRoutes } from './routes';

describe('site routes', () => {
  it('greets by name, and the world when no name is given', () => {
    expect(greeting('Ada')).toBe('Hello, Ada!');
    expect(greeting('   ')).toBe('Hello, world!');
  });

  it('GET /hello answers a JSON greeting with the running sha', async () => {
    const app = new Koa();
    const router = new Router();
    registerSiteRoutes(router, { sha: 'abc123' });
    app.use(router.routes());
    const res = await request(app.callback()).get('/hello?name=Grace');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ greeting: 'Hello, Grace!', sha: 'abc123' });
  });
});
