/**
 * Just enough PromQL reading for the monitoring checks: the metric names an expression selects,
 * and Grafana's built-in interval variables replaced by concrete durations. Prometheus 2.42
 * has no parse endpoint, so this is a small scanner; promql.test.ts pins its behaviour.
 */

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk',
  'topk', 'quantile',
]); // prettier-ignore
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'offset', 'and', 'or', 'unless', 'atan2', 'inf', 'nan']);

const IDENTIFIER = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const NUMBER = /^(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[a-zA-Z]*/;

/** Index just past the string literal that starts at `start`. */
function skipString(expr: string, start: number): number {
  const quote = expr[start]!;
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' && quote !== '`' ? 2 : 1;
  if (i >= expr.length) throw new Error(`unterminated string in: ${expr}`);
  return i + 1;
}

/** Index just past the bracket that closes the one at `start`, skipping strings. */
function skipGroup(expr: string, start: number): number {
  const open = expr[start]!;
  const close = ({ '(': ')', '[': ']', '{': '}' } as Record<string, string>)[open]!;
  let depth = 0;
  let i = start;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(expr, i);
      continue;
    }
    if (c === open) depth++;
    if (c === close && --depth === 0) return i + 1;
    i++;
  }
  throw new Error(`unbalanced "${open}" in: ${expr}`);
}

function nextNonSpace(expr: string, from: number): number {
  let i = from;
  while (i < expr.length && /\s/.test(expr[i]!)) i++;
  return i;
}

/**
 * The metric names `expr` selects, sorted and without repeats. Throws on a `__name__` matcher:
 * a name chosen by a label matcher cannot be checked against the catalogue, so it is not allowed.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    const rest = expr.slice(i);
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(expr, i);
    } else if (c === '#') {
      const newline = expr.indexOf('\n', i);
      i = newline === -1 ? expr.length : newline;
    } else if (c === '[' || c === '{') {
      const end = skipGroup(expr, i);
      if (c === '{' && /__name__/.test(expr.slice(i, end))) {
        throw new Error(`a __name__ matcher hides which metric is read: ${expr}`);
      }
      i = end;
    } else if (c === '$') {
      const variable = /^\$(?:\{[^}]*\}|\w+)/.exec(rest);
      i += variable ? variable[0].length : 1;
    } else if (NUMBER.test(rest) && !IDENTIFIER.test(rest)) {
      i += NUMBER.exec(rest)![0].length;
    } else if (IDENTIFIER.test(rest)) {
      const word = IDENTIFIER.exec(rest)![0];
      i += word.length;
      const next = nextNonSpace(expr, i);
      if (LABEL_LISTS.has(word.toLowerCase())) {
        if (expr[next] === '(') i = skipGroup(expr, next);
      } else if (KEYWORDS.has(word.toLowerCase()) || expr[next] === '(') {
        // an operator, or a function / aggregation call
      } else if (AGGREGATIONS.has(word) && /^(by|without)\b/i.test(expr.slice(next))) {
        // `sum by (le) (...)`: the grouping comes before the parenthesis
      } else {
        names.add(word);
      }
    } else {
      i++;
    }
  }
  return [...names].sort();
}

/** Values for Grafana's built-in interval variables, as a dashboard would resolve them. */
export interface GrafanaIntervals {
  __rate_interval: string;
  __interval: string;
  __range: string;
}

/** Defaults matching a 15 s scrape interval and a 1-hour dashboard range. */
export const DEFAULT_INTERVALS: GrafanaIntervals = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

/**
 * `expr` with `$__rate_interval`, `${__interval}`, `$__range` replaced. Any other variable
 * throws: the dashboards define no template variables, so one would be a mistake.
 */
export function resolveGrafanaVariables(
  expr: string,
  intervals: GrafanaIntervals = DEFAULT_INTERVALS,
): string {
  return expr.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    if (Object.hasOwn(intervals, name)) return intervals[name as keyof GrafanaIntervals];
    throw new Error(`unknown Grafana variable ${whole} in: ${expr}`);
  });
}
