// Every component parents its children with `{ parent: this }` and nothing else of its own
// options: merging them would hand the component's ignoreChanges (or protect, aliases...) to
// every child.
import type * as pulumi from '@pulumi/pulumi';

import { DataVolume } from './dataVolume';
import { HostRole } from './hostRole';
import { InstanceConnect } from './instanceConnect';
import { Network } from './network';
import { Registry } from './registry';
import { SharedState } from './sharedState';
import { SiteNames } from './siteNames';
import { mockStack, settle } from './testing/mocks';
import { tags } from './testing/fixtures';

const own: pulumi.ComponentResourceOptions = { ignoreChanges: ['tags'] };

const COMPONENTS: [string, () => pulumi.ComponentResource][] = [
  [
    'Registry',
    () =>
      new Registry(
        'c',
        { repositoryName: 'r', imageRetention: 1, pullAccounts: ['210987654321'], tags },
        own,
      ),
  ],
  ['Network', () => new Network('c', { zones: ['a', 'b'], tags }, own)],
  [
    'InstanceConnect',
    () =>
      new InstanceConnect('c', { vpcId: 'v', subnetId: 's', hostSecurityGroupId: 'g', tags }, own),
  ],
  [
    'DataVolume',
    () =>
      new DataVolume(
        'c',
        { availabilityZone: 'a', sizeGiB: 1, snapshotRetention: 1, snapshotTag: 't', tags },
        own,
      ),
  ],
  [
    'HostRole',
    () => new HostRole('c', { repositoryArn: 'arn:r', stackName: 's', enableSsm: true, tags }, own),
  ],
  [
    'SharedState',
    () =>
      new SharedState('c', { vpcId: 'v', subnetIds: ['s'], clientSecurityGroupId: 'g', tags }, own),
  ],
  [
    'SiteNames',
    () =>
      new SiteNames(
        'c',
        {
          domain: { appDomain: 'a.example.com', hostedZoneName: 'example.com' },
          loadBalancerDnsName: 'd',
          loadBalancerZoneId: 'z',
          tags,
        },
        own,
      ),
  ],
];

describe('components (Pulumi mocks: nothing reaches AWS)', () => {
  it.each(COMPONENTS)(
    '%s gives its children itself as parent, and none of its own options',
    async (_, make) => {
      const stack = await mockStack('dev');
      make();
      await settle();
      expect(stack.resources.length).toBeGreaterThan(0);
      for (const child of stack.resources) {
        expect({
          child: child.name,
          ignoreChanges: child.options.ignoreChanges.filter((k) => k === 'tags'),
        }).toEqual({
          child: child.name,
          ignoreChanges: [],
        });
        expect(child.options.parent).toMatch(/::c$/);
      }
    },
  );
});
