import request from 'supertest';
import { createLogger } from '../logger';
import { controlApp } from './control';
import { EventBus, History } from './history';
import { createLoopMetrics } from './metrics';

const TOKEN = 'control-token-0123456789';

function app() {
  return controlApp({
    token: TOKEN,
    events: new EventBus(),
    history: new History('/nonexistent/releases.json'),
    metrics: createLoopMetrics(() => 0),
    logger: createLogger('silent'),
    branch: 'main',
    status: () => ({ live: null }),
    onPush: () => undefined,
    onBranch: () => undefined,
    previews: () => [],
  }).callback();
}

describe("the supervisor's control API", () => {
  it.each([
    ['GET', '/status'],
    ['GET', '/releases'],
    ['GET', '/events'],
    ['GET', '/metrics'],
    ['GET', '/previews'],
    ['POST', '/notify'],
  ])('%s %s needs the token: any local user can reach a loopback port', async (method, path) => {
    const anonymous = await request(app())[method === 'GET' ? 'get' : 'post'](path);
    expect(anonymous.status).toBe(401);
    const wrong = await request(app())
      [method === 'GET' ? 'get' : 'post'](path)
      .set('Authorization', `Bearer ${TOKEN.replace('0', '1')}`);
    expect(wrong.status).toBe(401);
  });

  it('answers with the token', async () => {
    const res = await request(app()).get('/status').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ live: null });
  });
});
