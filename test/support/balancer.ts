/**
 * A stand-in for the Application Load Balancer in front of ECS tasks, as strict as the ALB: it
 * spreads requests over the healthy targets in turn, checks each target's `/healthz` at an
 * interval, takes a target out after `unhealthyThreshold` failed checks and back after
 * `healthyThreshold` good ones, and never retries a request (a target that dies mid-request
 * costs that request a 502, as on AWS).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BalancerOptions {
  targets: number[];
  intervalMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
}

interface Target {
  port: number;
  healthy: boolean;
  failures: number;
  successes: number;
}

export interface Balancer {
  url: string;
  /** Targets the balancer sends traffic to now. */
  healthy(): number[];
  close(): Promise<void>;
}

function check(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startBalancer(o: BalancerOptions): Promise<Balancer> {
  const targets: Target[] = o.targets.map((port) => ({
    port,
    healthy: true,
    failures: 0,
    successes: 0,
  }));
  let turn = 0;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const healthy = targets.filter((t) => t.healthy);
    if (healthy.length === 0) {
      res.writeHead(503).end('no healthy target');
      return;
    }
    const target = healthy[turn++ % healthy.length]!;
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress]
            .filter(Boolean)
            .join(', '),
        },
        agent,
      },
      (incoming) => {
        res.writeHead(incoming.statusCode ?? 502, incoming.headers);
        incoming.pipe(res);
      },
    );
    outgoing.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('bad gateway');
      else res.destroy();
    });
    req.pipe(outgoing);
  });
  const timer = setInterval(() => {
    for (const target of targets) {
      void check(target.port).then((ok) => {
        if (ok) {
          target.failures = 0;
          if (!target.healthy && ++target.successes >= o.healthyThreshold) target.healthy = true;
        } else {
          target.successes = 0;
          if (target.healthy && ++target.failures >= o.unhealthyThreshold) target.healthy = false;
        }
      });
    }
  }, o.intervalMs);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    healthy: () => targets.filter((t) => t.healthy).map((t) => t.port),
    close: async () => {
      clearInterval(timer);
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
