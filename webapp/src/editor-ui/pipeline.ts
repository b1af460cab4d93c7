/**
 * The pipeline as the editor shows it: stage events (`GET /api/pipeline/events`) folded into
 * one run per commit. Pure and idempotent — the server replays recent events on every
 * (re)connect, so the same event may arrive twice; the newest event of a stage wins.
 */
import {
  GITHUB_STAGES,
  LOCAL_STAGES,
  type StageEvent,
  type StageName,
  type StageStatus,
} from '../pipeline/types';

export type Flavor = 'local' | 'github';
export type StageState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type RunState = 'pending' | 'running' | 'live' | 'failed';

export interface StageView {
  name: StageName;
  state: StageState;
  durationMs?: number;
  log?: string;
  url?: string;
}

export interface Run {
  sha: string;
  flavor: Flavor;
  state: RunState;
  stages: StageView[];
  /** The failed stage, with its log excerpt. */
  failure?: StageView;
  /** ISO time of the newest event of the run. */
  updatedAt: string;
}

export interface PipelineState {
  /** Newest event per commit and stage. */
  events: Record<string, Partial<Record<StageName, StageEvent>>>;
  /** The kind of pipeline seen last: what a run with only `committed` so far will go through. */
  flavor: Flavor;
}

export const MAX_RUNS = 20;

const STATUSES: readonly StageStatus[] = ['started', 'succeeded', 'failed'];
const ALL_STAGES: readonly string[] = [...new Set<string>([...LOCAL_STAGES, ...GITHUB_STAGES])];
const LOCAL_ONLY = new Set<string>(LOCAL_STAGES.filter((s) => !includes(GITHUB_STAGES, s)));
const GITHUB_ONLY = new Set<string>(GITHUB_STAGES.filter((s) => !includes(LOCAL_STAGES, s)));

export function emptyPipeline(): PipelineState {
  return { events: {}, flavor: 'local' };
}

/** Parses one SSE `data:` payload; undefined when it is not a stage event. */
export function parseStageEvent(data: string): StageEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof v.sha !== 'string' ||
    !/^[0-9a-f]{7,64}$/.test(v.sha) ||
    typeof v.stage !== 'string' ||
    !ALL_STAGES.includes(v.stage) ||
    typeof v.status !== 'string' ||
    !includes(STATUSES, v.status) ||
    typeof v.at !== 'string' ||
    Number.isNaN(Date.parse(v.at))
  )
    return undefined;
  return {
    sha: v.sha,
    stage: v.stage as StageName,
    status: v.status,
    at: v.at,
    ...(typeof v.durationMs === 'number' && v.durationMs >= 0 ? { durationMs: v.durationMs } : {}),
    ...(typeof v.log === 'string' ? { log: v.log } : {}),
    ...(typeof v.url === 'string' && /^https?:\/\//.test(v.url) ? { url: v.url } : {}),
  };
}

/** Folds one event in; returns the same state object when the event changes nothing. */
export function applyEvent(state: PipelineState, event: StageEvent): PipelineState {
  const run = state.events[event.sha] ?? {};
  const previous = run[event.stage];
  if (previous && !isNewer(event, previous)) return state;
  const events = { ...state.events, [event.sha]: { ...run, [event.stage]: event } };
  const flavor = LOCAL_ONLY.has(event.stage)
    ? 'local'
    : GITHUB_ONLY.has(event.stage)
      ? 'github'
      : state.flavor;
  return { events: prune(events), flavor };
}

/** The run of `sha` (pending stages when no event has arrived yet). */
export function runOf(state: PipelineState, sha: string): Run {
  const events = state.events[sha] ?? {};
  const seen = Object.keys(events);
  const flavor: Flavor = seen.some((s) => LOCAL_ONLY.has(s))
    ? 'local'
    : seen.some((s) => GITHUB_ONLY.has(s))
      ? 'github'
      : state.flavor;
  const names: readonly StageName[] = flavor === 'local' ? LOCAL_STAGES : GITHUB_STAGES;
  let failed = false;
  let updatedAt = '';
  for (const event of Object.values(events)) {
    if (!updatedAt || Date.parse(event.at) > Date.parse(updatedAt)) updatedAt = event.at;
  }
  const stages = names.map((name): StageView => {
    const event = events[name];
    if (failed) return { name, state: 'skipped' };
    if (!event) return { name, state: 'pending' };
    if (event.status === 'failed') failed = true;
    return {
      name,
      state: event.status === 'started' ? 'running' : event.status,
      ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
      ...(event.log !== undefined ? { log: event.log } : {}),
      ...(event.url !== undefined ? { url: event.url } : {}),
    };
  });
  const failure = stages.find((s) => s.state === 'failed');
  const live = stages.find((s) => s.name === 'live')?.state === 'succeeded';
  const state_: RunState = failure
    ? 'failed'
    : live
      ? 'live'
      : stages.some((s) => s.state !== 'pending')
        ? 'running'
        : 'pending';
  return { sha, flavor, state: state_, stages, updatedAt, ...(failure ? { failure } : {}) };
}

/** Commits with events, newest activity first. */
export function recentRuns(state: PipelineState): Run[] {
  return Object.keys(state.events)
    .map((sha) => runOf(state, sha))
    .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
}

/** Whether two SHAs name the same commit (one may be abbreviated). */
export function sameCommit(a: string, b: string): boolean {
  if (a.length < 7 || b.length < 7) return false;
  return a.length <= b.length ? b.startsWith(a) : a.startsWith(b);
}

/** Later events win; at the same instant a finished stage beats a started one. */
function isNewer(event: StageEvent, previous: StageEvent): boolean {
  if (event.at !== previous.at) return Date.parse(event.at) > Date.parse(previous.at);
  return rank(event.status) > rank(previous.status);
}

function rank(status: StageStatus): number {
  return status === 'started' ? 0 : 1;
}

function prune(events: PipelineState['events']): PipelineState['events'] {
  const shas = Object.keys(events);
  if (shas.length <= MAX_RUNS) return events;
  const newest = (sha: string) =>
    Math.max(...Object.values(events[sha] ?? {}).map((e) => Date.parse(e.at)));
  const keep = shas.sort((a, b) => newest(b) - newest(a)).slice(0, MAX_RUNS);
  return Object.fromEntries(keep.map((sha) => [sha, events[sha]!]));
}

function includes<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}
