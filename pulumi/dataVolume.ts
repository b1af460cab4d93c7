// The host's data: an encrypted EBS volume of its own, which outlives the instance (a new AMI or
// new user data replace the host, never its accounts, audit, sessions or release history), and
// a Data Lifecycle Manager policy that snapshots it every day and keeps the newest N.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { serviceTrustPolicy } from './policyDocument';

export interface DataVolumeArgs {
  /** The zone of the host's subnet: a volume attaches only to an instance in its own zone. */
  availabilityZone: pulumi.Input<string>;
  sizeGiB: pulumi.Input<number>;
  /** How many daily snapshots to keep. */
  snapshotRetention: pulumi.Input<number>;
  /** Names this stack's volume for the snapshot policy, e.g. `reflex-dev`. */
  snapshotTag: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The tag whose value selects a stack's data volume for its snapshot policy. */
export const SNAPSHOT_TAG = 'reflex-data';
/** When the daily snapshot starts (UTC). */
export const SNAPSHOT_TIME = '03:00';

/** The DLM policy details: one daily schedule over the volumes carrying the stack's tag. */
export function snapshotPolicyDetails(tagValue: string, retention: number) {
  return {
    resourceTypes: ['VOLUME'],
    targetTags: { [SNAPSHOT_TAG]: tagValue },
    schedules: [
      {
        name: `daily, newest ${retention} kept`,
        createRule: { interval: 24, intervalUnit: 'HOURS', times: SNAPSHOT_TIME },
        retainRule: { count: retention },
        copyTags: true,
      },
    ],
  };
}

export class DataVolume extends pulumi.ComponentResource {
  readonly volumeId: pulumi.Output<string>;
  readonly volumeArn: pulumi.Output<string>;

  constructor(name: string, args: DataVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:DataVolume', name, {}, opts);

    const volume = new aws.ebs.Volume(
      `${name}-volume`,
      {
        availabilityZone: args.availabilityZone,
        size: args.sizeGiB,
        type: 'gp3',
        encrypted: true,
        tags: pulumi
          .all([args.tags, args.snapshotTag])
          .apply(([tags, tag]) => ({ ...tags, [SNAPSHOT_TAG]: tag })),
      },
      // Losing it loses every account and the whole history: `pulumi destroy` (or a change that
      // would replace it) stops here until someone unprotects it on purpose (docs/AWS.md).
      { parent: this, protect: true },
    );
    this.snapshotDaily(name, args);

    this.volumeId = volume.id;
    this.volumeArn = volume.arn;
    this.registerOutputs({ volumeId: this.volumeId, volumeArn: this.volumeArn });
  }

  /** The DLM policy and the role it runs as (AWS's managed policy for EBS snapshots). */
  private snapshotDaily(name: string, args: DataVolumeArgs): void {
    const partition = aws.getPartitionOutput({}, { parent: this }).partition;
    const role = new aws.iam.Role(
      `${name}-dlm-role`,
      {
        description: 'Reflex data volume: Data Lifecycle Manager takes and expires its snapshots',
        assumeRolePolicy: serviceTrustPolicy('dlm.amazonaws.com'),
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicyAttachment(
      `${name}-dlm`,
      {
        role: role.name,
        policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole`,
      },
      { parent: this },
    );
    new aws.dlm.LifecyclePolicy(
      `${name}-snapshots`,
      {
        description: 'Reflex data volume: daily snapshots',
        executionRoleArn: role.arn,
        state: 'ENABLED',
        policyDetails: pulumi
          .all([args.snapshotTag, args.snapshotRetention])
          .apply(([tag, retention]) => snapshotPolicyDetails(tag, retention)),
        tags: args.tags,
      },
      { parent: this },
    );
  }
}
