/** The PromQL reading the monitoring checks rely on: metric names out, Grafana variables in. */
import { metricNames, resolveGrafanaVariables } from './support/promql';

describe('metricNames', () => {
  it.each([
    ['up', ['up']],
    ['up{job="reflex-app"} == 0 or absent(up{job="reflex-app"})', ['up']],
    [
      'sum by (route) (rate(http_requests_total{job="reflex-app"}[$__rate_interval]))',
      ['http_requests_total'],
    ],
    [
      'histogram_quantile(0.95, sum by (le, stage) (rate(reflex_pipeline_stage_duration_seconds_bucket[5m])))',
      ['reflex_pipeline_stage_duration_seconds_bucket'],
    ],
    ['sum(rate(a_total[1m])) by (le) / ignoring(x) group_left(y) b', ['a_total', 'b']],
    ['sum without (instance) (x) unless on () (y == 1)', ['x', 'y']],
    [
      'time() - reflex_host_last_deploy_timestamp_seconds{result="failed"} < 1800',
      ['reflex_host_last_deploy_timestamp_seconds'],
    ],
    ['x offset 5m > bool 1e3', ['x']],
    ['rate(x[5m:30s] @ start())', ['x']],
    ['label_replace(up, "dst", "$1", "src", "(.*) and sum(y)")', ['up']],
    ['node_load1 # the one-minute load\n+ node_load5', ['node_load1', 'node_load5']],
    ['count(node_cpu_seconds_total{mode="idle"}) * 0.5 + vector(1)', ['node_cpu_seconds_total']],
    ['topk(3, sum by (route) (x)) or Inf', ['x']],
    ['ALERTS{alertstate="firing"}', ['ALERTS']],
  ])('%s reads %j', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });

  it('refuses a __name__ matcher, which would hide the metric from the catalogue check', () => {
    expect(() => metricNames('{__name__=~"reflex_.*"}')).toThrow(/__name__/);
  });

  it('refuses unbalanced braces and unterminated strings', () => {
    expect(() => metricNames('rate(x{job="a"[5m])')).toThrow(/unbalanced/);
    expect(() => metricNames('x{job="a}')).toThrow(/unterminated|unbalanced/);
  });
});

describe('resolveGrafanaVariables', () => {
  const intervals = { __rate_interval: '2m', __interval: '30s', __range: '6h' };

  it('replaces the built-in interval variables, bare or braced', () => {
    expect(
      resolveGrafanaVariables(
        'rate(x[$__rate_interval]) + increase(y[${__range}]) + z[$__interval]',
        intervals,
      ),
    ).toBe('rate(x[2m]) + increase(y[6h]) + z[30s]');
  });

  it('throws on any other variable, naming it', () => {
    expect(() => resolveGrafanaVariables('x{instance="$instance"}', intervals)).toThrow(
      /\$instance/,
    );
  });
});
