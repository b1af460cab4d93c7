/**
 * The local loop in a process of its own, as `npm start` runs it: the supervisor (its edge,
 * control API and pipeline) apart from the load generator, like the baseline's edge. Prints
 * `{"listening": <edge port>, "control": <port>, "home": <dir>}` once a release is live; stops
 * the loop (and its release processes) on SIGTERM or SIGINT.
 */
import { makeProject, startLoop } from '../../test/support/loop';

/** `npm start`'s default (REFLEX_POLL_INTERVAL_MS), not the tests' faster poll. */
const POLL_INTERVAL_MS = 2000;

async function run(): Promise<void> {
  const loop = await startLoop({
    project: makeProject(),
    gate: [],
    pollIntervalMs: POLL_INTERVAL_MS,
  });
  await loop.supervisor.whenLive();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void loop.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(
    JSON.stringify({
      listening: loop.supervisor.edgePort,
      control: loop.supervisor.controlPort,
      home: loop.home,
    }),
  );
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
