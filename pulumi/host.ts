// The EC2 host of the `host` runtime: Debian 13 with Docker, the nginx blue/green edge, the
// monitoring stack, the deploy scripts and their timers (docs/HOST.md). Behind an Elastic IP;
// SSH comes through the EC2 Instance Connect Endpoint (and from the CIDRs people are given),
// HTTP from the ALB only. Its data lives on a volume of its own, so the instance itself is
// replaceable: a new AMI or new user data replace it.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';

import { DEBIAN_ACCOUNT, architectureOf } from './configRules';
import { DataVolume } from './dataVolume';
import type { TargetSpec } from './edge';
import { allowAlbTo } from './edge';
import { HostRole, readHostKeyPolicy } from './hostRole';
import { InstanceConnect, SSH_PORT, openTunnelPolicy } from './instanceConnect';
import type { AppUrls } from './userData';
import {
  DEPLOY_USER,
  deployEnvironment,
  ebsDevicePath,
  missingHostFiles,
  readHostFiles,
  renderUserData,
} from './userData';

export interface HostArgs {
  vpcId: pulumi.Input<string>;
  /** A public subnet that routes to the internet (the Elastic IP needs the gateway). */
  subnetId: pulumi.Input<string>;
  /** The subnet's zone, where the data volume lives. */
  availabilityZone: pulumi.Input<string>;
  instanceType: pulumi.Input<string>;
  /** The pinned name of an official Debian 13 AMI of the instance type's architecture. */
  amiName: pulumi.Input<string>;
  /** People's SSH sources (a plain list: each one becomes its own rule). */
  sshAllowedCidrs: readonly string[];
  /** The deploy user's OpenSSH public key; without one a key pair is generated. */
  sshPublicKey?: pulumi.Input<string>;
  repositoryUrl: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  /** Attach AmazonSSMManagedInstanceCore so that Session Manager can reach the host. */
  enableSsm: boolean;
  /** The repository checkout whose host files go into the user data. */
  repoRoot: string;
  /** deploy.env values that come from the stack (docs/HOST.md); a preview domain: previews. */
  deployBranch: pulumi.Input<string>;
  githubRepository: pulumi.Input<string>;
  region: pulumi.Input<string>;
  environment: pulumi.Input<string>;
  previewDomain?: string;
  /** `<project>-<stack>`: names the host-key parameter and the data volume's snapshots. */
  stackName: pulumi.Input<string>;
  /** The public URLs the platform answers for (app.env). */
  urls: pulumi.Input<AppUrls>;
  /** Where the ALB sends requests: the host registers in it and lets the ALB's group in. */
  edge: { targetGroupArn: pulumi.Input<string>; securityGroupId: pulumi.Input<string> };
  dataVolumeGiB: pulumi.Input<number>;
  dataSnapshotRetention: pulumi.Input<number>;
  rootVolumeGiB?: number;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const HTTP_PORT = 80;

/** The ALB's one target in the host runtime: nginx on the host, which routes by Host itself. */
export const HOST_TARGETS: TargetSpec[] = [
  // Blue/green happens behind nginx; the only target leaves when the host is replaced.
  { name: 'host', targetType: 'instance', port: HTTP_PORT, deregistrationDelay: 30 },
];

/** Burstable types (t2/t3/t3a/t4g) run with standard credits: no surprise CPU-credit charges. */
export function creditSpecificationFor(instanceType: string): { cpuCredits: string } | undefined {
  return /^t\d[a-z]*\./.test(instanceType) ? { cpuCredits: 'standard' } : undefined;
}

/** A resource-name suffix for a CIDR, so that a rule keeps its name when the list is reordered. */
export function cidrSlug(cidr: string): string {
  return cidr.toLowerCase().replace(/[^0-9a-f]+/g, '-');
}

export class Host extends pulumi.ComponentResource {
  readonly securityGroupId: pulumi.Output<string>;
  readonly instanceId: pulumi.Output<string>;
  readonly publicIp: pulumi.Output<string>;
  readonly privateIp: pulumi.Output<string>;
  readonly sshUser: pulumi.Output<string>;
  /** The SSM parameter holding the host's SSH public key, published by the host at first boot. */
  readonly hostKeyParameter: pulumi.Output<string>;
  readonly instanceConnectEndpointId: pulumi.Output<string>;
  readonly instanceConnectEndpointDnsName: pulumi.Output<string>;
  readonly dataVolumeId: pulumi.Output<string>;
  /** The deploy workflow's access to this host: open a tunnel, read the host key. */
  readonly deployPolicies: Record<string, pulumi.Output<string>>;
  /** The generated deploy key (secret), when no public key was configured. */
  readonly sshPrivateKey?: pulumi.Output<string>;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Host', name, {}, opts);

    const securityGroup = this.securityGroup(name, args);
    // The role and the endpoint take what they need from the host's own arguments.
    const role = new HostRole(`${name}-role`, args, { parent: this });
    const deployKey = this.deployKey(name, args);
    if (deployKey.privateKey !== undefined) this.sshPrivateKey = deployKey.privateKey;
    const nic = this.networkInterface(name, args, securityGroup.id);
    const endpoint = new InstanceConnect(
      `${name}-eic`,
      { ...args, hostSecurityGroupId: securityGroup.id },
      { parent: this },
    );
    const data = new DataVolume(
      `${name}-data`,
      {
        availabilityZone: args.availabilityZone,
        sizeGiB: args.dataVolumeGiB,
        snapshotRetention: args.dataSnapshotRetention,
        snapshotTag: args.stackName,
        tags: args.tags,
      },
      { parent: this },
    );
    const userData = this.userData(
      args,
      deployKey.publicKey,
      role.hostKeyParameterName,
      data.volumeId,
    );
    const instance = this.instance(name, args, role.instanceProfileName, nic.eni, userData);
    this.attach(name, args, instance, data.volumeId, securityGroup.id);

    this.securityGroupId = securityGroup.id;
    this.instanceId = instance.id;
    this.publicIp = nic.address.publicIp;
    this.privateIp = nic.eni.privateIp;
    this.sshUser = pulumi.output(DEPLOY_USER);
    this.hostKeyParameter = role.hostKeyParameterName;
    this.instanceConnectEndpointId = endpoint.endpointId;
    this.instanceConnectEndpointDnsName = endpoint.endpointDnsName;
    this.dataVolumeId = data.volumeId;
    this.deployPolicies = {
      'open-tunnel': pulumi
        .all([endpoint.endpointArn, this.privateIp])
        .apply(([arn, ip]) => openTunnelPolicy(arn, ip)),
      'read-host-key': role.hostKeyParameterArn.apply(readHostKeyPolicy),
    };
    this.registerOutputs({
      securityGroupId: this.securityGroupId,
      instanceId: this.instanceId,
      publicIp: this.publicIp,
      privateIp: this.privateIp,
      sshUser: this.sshUser,
      hostKeyParameter: this.hostKeyParameter,
      instanceConnectEndpointId: this.instanceConnectEndpointId,
      dataVolumeId: this.dataVolumeId,
      sshPrivateKey: this.sshPrivateKey,
    });
  }

  /** The host's group: SSH from the people's CIDRs (the endpoint adds its own rule), egress. */
  private securityGroup(name: string, args: HostArgs): aws.ec2.SecurityGroup {
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description:
          'Reflex host: SSH through the EC2 Instance Connect Endpoint, HTTP from the ALB',
        tags: args.tags,
      },
      { parent: this },
    );
    for (const cidr of args.sshAllowedCidrs) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-ssh-${cidrSlug(cidr)}`,
        {
          securityGroupId: securityGroup.id,
          description: 'SSH for people (reflex:sshAllowedCidrs)',
          ipProtocol: 'tcp',
          fromPort: SSH_PORT,
          toPort: SSH_PORT,
          ...(cidr.includes(':') ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
          tags: args.tags,
        },
        { parent: this },
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
      { parent: this },
    );
    return securityGroup;
  }

  /** The deploy user's key: the configured public key, or a generated pair (private: secret). */
  private deployKey(
    name: string,
    args: HostArgs,
  ): { publicKey: pulumi.Output<string>; privateKey?: pulumi.Output<string> } {
    if (args.sshPublicKey !== undefined) {
      return { publicKey: pulumi.output(args.sshPublicKey).apply((key) => key.trim()) };
    }
    const key = new tls.PrivateKey(
      `${name}-deploy-key`,
      { algorithm: 'ED25519' },
      { parent: this },
    );
    return {
      publicKey: key.publicKeyOpenssh.apply((publicKey) => publicKey.trim()),
      privateKey: pulumi.secret(key.privateKeyOpenssh),
    };
  }

  /**
   * The address exists before the instance and survives its replacement, so the host has it
   * from its first boot and people's SSH keeps working across stop/start and rebuilds.
   */
  private networkInterface(
    name: string,
    args: HostArgs,
    securityGroupId: pulumi.Output<string>,
  ): { eni: aws.ec2.NetworkInterface; address: aws.ec2.Eip } {
    const eni = new aws.ec2.NetworkInterface(
      `${name}-eni`,
      {
        subnetId: args.subnetId,
        securityGroups: [securityGroupId],
        description: 'Reflex host',
        tags: args.tags,
      },
      { parent: this },
    );
    const address = new aws.ec2.Eip(
      `${name}-ip`,
      { domain: 'vpc', networkInterface: eni.id, tags: args.tags },
      { parent: this },
    );
    return { eni, address };
  }

  /** The cloud-config, rendered from the repository's files and the stack's values. */
  private userData(
    args: HostArgs,
    deployPublicKey: pulumi.Output<string>,
    hostKeyParameter: pulumi.Output<string>,
    dataVolumeId: pulumi.Output<string>,
  ): pulumi.Output<string> {
    const files = readHostFiles(args.repoRoot);
    const missing = missingHostFiles(files);
    if (missing.length > 0) {
      void pulumi.log.warn(
        `the host's first boot needs ${missing.join(', ')}, missing under ${args.repoRoot}; ` +
          'it will stop there (see /var/log/cloud-init-output.log on the host)',
        this,
      );
    }
    const { repositoryUrl, deployBranch, githubRepository, region, environment } = args;
    const deployEnv = pulumi
      .output({ repositoryUrl, deployBranch, githubRepository, region, environment })
      .apply((values) => deployEnvironment({ ...values, previewDomain: args.previewDomain }));
    return pulumi
      .all([deployEnv, deployPublicKey, hostKeyParameter, dataVolumeId, args.urls])
      .apply(([env, publicKey, parameter, volumeId, urls]) =>
        renderUserData({
          files,
          deployEnv: env,
          registryHost: env.REFLEX_IMAGE_REPOSITORY!.split('/')[0]!,
          deployPublicKey: publicKey,
          dataDevice: ebsDevicePath(volumeId),
          hostKeyParameter: { name: parameter, region: env.AWS_REGION! },
          urls,
        }).toString('base64'),
      );
  }

  /**
   * The instance, from the pinned Debian AMI. A changed AMI or changed user data replace it
   * (the data volume and the address stay), so what the stack says is what the host is.
   */
  private instance(
    name: string,
    args: HostArgs,
    instanceProfileName: pulumi.Output<string>,
    eni: aws.ec2.NetworkInterface,
    userData: pulumi.Output<string>,
  ): aws.ec2.Instance {
    const ami = aws.ec2.getAmiOutput(
      {
        mostRecent: true,
        owners: [DEBIAN_ACCOUNT],
        filters: [
          { name: 'name', values: [args.amiName] },
          {
            name: 'architecture',
            values: [
              pulumi
                .output(args.instanceType)
                .apply((type) => (architectureOf(type) === 'arm64' ? 'arm64' : 'x86_64')),
            ],
          },
          { name: 'virtualization-type', values: ['hvm'] },
          { name: 'root-device-type', values: ['ebs'] },
        ],
      },
      { parent: this },
    );
    return new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami: ami.id,
        instanceType: args.instanceType,
        creditSpecification: pulumi.output(args.instanceType).apply(creditSpecificationFor),
        iamInstanceProfile: instanceProfileName,
        primaryNetworkInterface: { networkInterfaceId: eni.id },
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
        userDataReplaceOnChange: true,
        tags: args.tags,
      },
      // A replacement needs the network interface (and so the address) the old one holds.
      { parent: this, deleteBeforeReplace: true },
    );
  }

  /** The data volume, the ALB's target group, and the ALB's way in to port 80. */
  private attach(
    name: string,
    args: HostArgs,
    instance: aws.ec2.Instance,
    dataVolumeId: pulumi.Output<string>,
    securityGroupId: pulumi.Output<string>,
  ): void {
    new aws.ec2.VolumeAttachment(
      `${name}-data`,
      {
        instanceId: instance.id,
        volumeId: dataVolumeId,
        deviceName: '/dev/sdf',
        // Stop the old host before detaching, so its filesystem is unmounted cleanly.
        stopInstanceBeforeDetaching: true,
      },
      { parent: this },
    );
    new aws.lb.TargetGroupAttachment(
      `${name}-target`,
      { targetGroupArn: args.edge.targetGroupArn, targetId: instance.id, port: HTTP_PORT },
      { parent: this },
    );
    allowAlbTo(
      `${name}-http`,
      {
        albSecurityGroupId: args.edge.securityGroupId,
        targetSecurityGroupId: securityGroupId,
        port: HTTP_PORT,
        what: 'the host nginx',
        tags: args.tags,
      },
      this,
    );
  }
}
