// The EC2 host: Ubuntu 24.04 with Docker, the nginx blue/green edge, the monitoring stack, the
// deploy scripts and their timers (docs/HOST.md), behind an Elastic IP and a security group
// that lets in SSH from the configured CIDRs (HTTP from the ALB is the edge's rule, edge.ts).
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';

import { DEPLOY_USER, missingHostFiles, readHostFiles, renderUserData } from './userData';

export interface HostArgs {
  vpcId: pulumi.Input<string>;
  /** A public subnet that routes to the internet (the Elastic IP needs the gateway). */
  subnetId: pulumi.Input<string>;
  instanceType: pulumi.Input<string>;
  /** The CIDRs allowed to reach SSH (a plain list: each one becomes its own rule). */
  sshAllowedCidrs: readonly string[];
  /** Open SSH to 0.0.0.0/0 and ::/0 as well. */
  allowSshFromAnywhere: boolean;
  /** The deploy user's OpenSSH public key; without one a key pair is generated. */
  sshPublicKey?: pulumi.Input<string>;
  repositoryUrl: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  /** Attach AmazonSSMManagedInstanceCore so that Session Manager can reach the host. */
  enableSsm: boolean;
  /** The repository checkout whose deploy-scripts/, compose.yaml, prometheus/ and grafana/ go on the host. */
  repoRoot: string;
  /** deploy.env values that come from the stack (docs/HOST.md). */
  deployBranch: pulumi.Input<string>;
  githubRepository: pulumi.Input<string>;
  region: pulumi.Input<string>;
  environment: pulumi.Input<string>;
  rootVolumeGiB?: number;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Canonical's account, owner of the official Ubuntu AMIs. */
export const CANONICAL_ACCOUNT = '099720109477';
export const HTTP_PORT = 80;
export const SSH_PORT = 22;

/** The CPU architecture an instance type runs (Graviton families carry a `g` after the generation). */
export function architectureOf(instanceType: string): 'arm64' | 'amd64' {
  return /^[a-z]+\d+g[a-z]*\./.test(instanceType) ? 'arm64' : 'amd64';
}

/** The AMI name pattern of Ubuntu 24.04 LTS server for that architecture. */
export function ubuntuAmiNamePattern(instanceType: string): string {
  return `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architectureOf(instanceType)}-server-*`;
}

/** Burstable types (t2/t3/t3a/t4g) run with standard credits: no surprise CPU-credit charges. */
export function creditSpecificationFor(instanceType: string): { cpuCredits: string } | undefined {
  return /^t\d[a-z]*\./.test(instanceType) ? { cpuCredits: 'standard' } : undefined;
}

/** The SSH rule sources: the configured CIDRs, plus the whole internet only when asked for. */
export function sshRulesFor(cidrs: readonly string[], allowSshFromAnywhere: boolean): string[] {
  return [...new Set(allowSshFromAnywhere ? [...cidrs, '0.0.0.0/0', '::/0'] : cidrs)];
}

/** A resource-name suffix for a CIDR, so that a rule keeps its name when the list is reordered. */
export function cidrSlug(cidr: string): string {
  return cidr.toLowerCase().replace(/[^0-9a-f]+/g, '-');
}

/** The deploy.env keys of docs/HOST.md. */
export function deployEnvironment(values: {
  repositoryUrl: string;
  deployBranch: string;
  githubRepository: string;
  region: string;
  environment: string;
}): Record<string, string> {
  return {
    CONTAINER_ENGINE: 'docker',
    REFLEX_IMAGE_REPOSITORY: values.repositoryUrl,
    REFLEX_DEPLOY_BRANCH: values.deployBranch,
    REFLEX_BLUE_PORT: '8081',
    REFLEX_GREEN_PORT: '8082',
    REFLEX_STATE_DIR: '/var/lib/reflex',
    REFLEX_TEXTFILE_DIR: '/var/lib/reflex/textfile',
    REFLEX_FILE_SD: '/var/lib/reflex/prometheus/app.json',
    REFLEX_EDGE_SWITCH: '/var/lib/reflex/edge/live-green',
    REFLEX_GITHUB_REPOSITORY: values.githubRepository,
    REFLEX_ENVIRONMENT: values.environment,
    AWS_REGION: values.region,
  };
}

/** The IAM policy of the host: pull from this one repository, nothing else. */
export function pullPolicy(repositoryArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EcrLogin',
        Effect: 'Allow',
        Action: ['ecr:GetAuthorizationToken'],
        Resource: '*',
      },
      {
        Sid: 'PullFromThisRepository',
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
        ],
        Resource: repositoryArn,
      },
    ],
  });
}

export class Host extends pulumi.ComponentResource {
  readonly securityGroupId: pulumi.Output<string>;
  readonly instanceId: pulumi.Output<string>;
  readonly publicIp: pulumi.Output<string>;
  readonly sshUser: pulumi.Output<string>;
  /** A known_hosts line for the host's address and its SSH host key. */
  readonly sshKnownHosts: pulumi.Output<string>;
  /** The generated deploy key (secret), when no public key was configured. */
  readonly sshPrivateKey?: pulumi.Output<string>;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Host', name, {}, opts);
    const child = pulumi.mergeOptions(opts, { parent: this });

    // Security group: rules are separate resources so that each one is visible on its own.
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: 'Reflex host: SSH from the allowed CIDRs, HTTP from the ALB only',
        tags: args.tags,
      },
      child,
    );
    this.securityGroupId = securityGroup.id;
    for (const cidr of sshRulesFor(args.sshAllowedCidrs, args.allowSshFromAnywhere)) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-ssh-${cidrSlug(cidr)}`,
        {
          securityGroupId: securityGroup.id,
          description: 'SSH (deploy workflow, operators)',
          ipProtocol: 'tcp',
          fromPort: SSH_PORT,
          toPort: SSH_PORT,
          ...(cidr.includes(':') ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
          tags: args.tags,
        },
        child,
      );
    }
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-egress`,
      {
        securityGroupId: securityGroup.id,
        description: 'Packages, images, GitHub and AWS APIs',
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
        tags: args.tags,
      },
      child,
    );

    // Instance role: pull from this repository (the credential helper logs in with it).
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        description: 'Reflex host: pull images from its ECR repository',
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'ec2.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
        tags: args.tags,
      },
      child,
    );
    new aws.iam.RolePolicy(
      `${name}-pull`,
      { role: role.id, policy: pulumi.output(args.repositoryArn).apply(pullPolicy) },
      child,
    );
    if (args.enableSsm) {
      const partition = aws.getPartitionOutput({}, { parent: this }).partition;
      new aws.iam.RolePolicyAttachment(
        `${name}-ssm`,
        {
          role: role.name,
          policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
        },
        child,
      );
    }
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags: args.tags },
      child,
    );

    // SSH keys: the deploy user's (configured or generated) and the host's own, generated here
    // so that its known_hosts line is an output before the host first boots.
    let deployPublicKey: pulumi.Output<string>;
    if (args.sshPublicKey === undefined) {
      const deployKey = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: 'ED25519' }, child);
      deployPublicKey = deployKey.publicKeyOpenssh;
      this.sshPrivateKey = pulumi.secret(deployKey.privateKeyOpenssh);
    } else {
      deployPublicKey = pulumi.output(args.sshPublicKey);
    }
    const keyPair = new aws.ec2.KeyPair(
      `${name}-key`,
      { publicKey: deployPublicKey.apply((key) => key.trim()), tags: args.tags },
      child,
    );
    const hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: 'ED25519' }, child);

    // The address exists before the instance, so the host has it from its first boot and
    // keeps it across stop/start (and the known_hosts line never changes).
    const networkInterface = new aws.ec2.NetworkInterface(
      `${name}-eni`,
      {
        subnetId: args.subnetId,
        securityGroups: [securityGroup.id],
        description: 'Reflex host',
        tags: args.tags,
      },
      child,
    );
    const address = new aws.ec2.Eip(
      `${name}-ip`,
      { domain: 'vpc', networkInterface: networkInterface.id, tags: args.tags },
      child,
    );
    this.publicIp = address.publicIp;

    const files = readHostFiles(args.repoRoot);
    const missing = missingHostFiles(files);
    if (missing.length > 0) {
      void pulumi.log.warn(
        `the host's first boot needs ${missing.join(', ')}, missing under ${args.repoRoot}; ` +
          'it will stop there (see /var/log/cloud-init-output.log on the host)',
        this,
      );
    }
    const userData = pulumi
      .all([
        args.repositoryUrl,
        args.deployBranch,
        args.githubRepository,
        args.region,
        args.environment,
        deployPublicKey,
        hostKey.privateKeyOpenssh,
        hostKey.publicKeyOpenssh,
      ])
      .apply(
        ([
          repositoryUrl,
          deployBranch,
          githubRepository,
          region,
          environment,
          publicKey,
          hostPrivate,
          hostPublic,
        ]) =>
          renderUserData({
            files,
            deployEnv: deployEnvironment({
              repositoryUrl,
              deployBranch,
              githubRepository,
              region,
              environment,
            }),
            registryHost: repositoryUrl.split('/')[0]!,
            deployPublicKey: publicKey,
            hostKey: { privateKeyOpenssh: hostPrivate, publicKeyOpenssh: hostPublic },
          }).toString('base64'),
      );

    const ami = aws.ec2.getAmiOutput(
      {
        mostRecent: true,
        owners: [CANONICAL_ACCOUNT],
        filters: [
          {
            name: 'name',
            values: [pulumi.output(args.instanceType).apply(ubuntuAmiNamePattern)],
          },
          { name: 'virtualization-type', values: ['hvm'] },
        ],
      },
      { parent: this },
    );

    const instance = new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami: ami.id,
        instanceType: args.instanceType,
        creditSpecification: pulumi.output(args.instanceType).apply(creditSpecificationFor),
        iamInstanceProfile: profile.name,
        keyName: keyPair.keyName,
        primaryNetworkInterface: { networkInterfaceId: networkInterface.id },
        metadataOptions: {
          httpEndpoint: 'enabled',
          httpTokens: 'required',
          // One hop: containers behind Docker's bridge cannot reach the instance role.
          httpPutResponseHopLimit: 1,
          instanceMetadataTags: 'disabled',
        },
        rootBlockDevice: {
          volumeType: 'gp3',
          volumeSize: args.rootVolumeGiB ?? 20,
          encrypted: true,
          deleteOnTermination: true,
          tags: args.tags,
        },
        userDataBase64: userData,
        tags: args.tags,
      },
      pulumi.mergeOptions(child, {
        dependsOn: [address],
        // The host is built once from its user data. A newer Ubuntu AMI or a changed
        // deploy-scripts/ must not replace (or stop) a running host behind the operator's back;
        // rebuild it on purpose with `pulumi up --replace <instance URN>` (docs/AWS.md).
        ignoreChanges: ['ami', 'userData', 'userDataBase64'],
        // A replacement needs the network interface (and so the address) the old one holds.
        deleteBeforeReplace: true,
      }),
    );
    this.instanceId = instance.id;
    this.sshUser = pulumi.output(DEPLOY_USER);
    this.sshKnownHosts = pulumi.interpolate`${address.publicIp} ${hostKey.publicKeyOpenssh.apply((key) => key.trim())}`;

    this.registerOutputs({
      securityGroupId: this.securityGroupId,
      instanceId: this.instanceId,
      publicIp: this.publicIp,
      sshUser: this.sshUser,
      sshKnownHosts: this.sshKnownHosts,
      sshPrivateKey: this.sshPrivateKey,
    });
  }
}
