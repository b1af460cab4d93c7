/**
 * A loopback stand-in for the local supervisor's control API, as much of it as an instance
 * reads: `GET /releases` (the release history given) and `GET /events` (Server-Sent Events).
 * The instance follows it with its real tracker (pipeline/local.ts).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PreviewInfo, ReleaseRecord, StageEvent } from '../../src/pipeline/types';
import { sseFrame } from '../../src/pipeline/sse';

export interface SupervisorStandIn {
  url: string;
  releases: ReleaseRecord[];
  /** What `GET /previews` answers. */
  previews: PreviewInfo[];
  emit(event: StageEvent): void;
  close(): Promise<void>;
}

export async function supervisorStandIn(
  releases: ReleaseRecord[] = [],
): Promise<SupervisorStandIn> {
  const streams = new Set<ServerResponse>();
  const state = { releases, previews: [] as PreviewInfo[] };
  const server: Server = createServer((req, res) => {
    if (req.url === '/releases') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ releases: state.releases }));
    } else if (req.url === '/previews') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ previews: state.previews }));
    } else if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 1000\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get releases() {
      return state.releases;
    },
    set releases(list) {
      state.releases = list;
    },
    get previews() {
      return state.previews;
    },
    set previews(list) {
      state.previews = list;
    },
    emit(event) {
      for (const res of streams) res.write(sseFrame('stage', event));
    },
    async close() {
      for (const res of streams) res.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A release record as the supervisor keeps it. */
export function release(
  sha: string,
  outcome: ReleaseRecord['outcome'],
  live = false,
): ReleaseRecord {
  return {
    sha,
    author: 'Someone <someone@example.com>',
    message: 'a release',
    committedAt: new Date().toISOString(),
    outcome,
    live,
    stages: [],
  };
}
