// Pulumi mocks for the unit tests: nothing reaches AWS. Every resource the program registers is
// recorded with its exact inputs, and the mocked outputs look like AWS's (ARNs, URLs, DNS names).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import * as pulumi from '@pulumi/pulumi';
import * as settings from '@pulumi/pulumi/runtime/settings';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
/** The zones the mocked account has; the mocked instance type is offered in the last two only. */
export const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
export const OFFERED_ZONES = ['eu-west-1c', 'eu-west-1b'];
export const AMI_ID = 'ami-0123456789abcdef0';
export const HOSTED_ZONE_ID = 'Z0123456789EXAMPLE';
export const ALB_ZONE_ID = 'Z32O12XQLNTSW2';
export const HOST_PUBLIC_IP = '198.51.100.23';

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  id: string;
}

export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
}

export interface MockedStack {
  resources: RecordedResource[];
  calls: RecordedCall[];
  /** Resources of one type token, e.g. `aws:ec2/instance:Instance`. */
  ofType(type: string): RecordedResource[];
  /** The single resource of a type; fails when there are none or several. */
  one(type: string): RecordedResource;
  /** The resource whose mocked id is `id`. */
  byId(id: string): RecordedResource;
}

/**
 * Installs mocks for `project`/`stack` with the given config (full keys, string values, as
 * `pulumi config` holds them). Register resources after this, then `await settle()`.
 */
export async function mockStack(
  stack: string,
  config: Record<string, string> = {},
  project = 'reflex',
): Promise<MockedStack> {
  const resources: RecordedResource[] = [];
  const calls: RecordedCall[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = `${args.name}-id`;
        const inputs = args.inputs as Record<string, unknown>;
        if (args.custom !== false) resources.push({ type: args.type, name: args.name, inputs, id });
        return { id, state: { ...inputs, ...mockedOutputs(args.type, args.name, inputs) } };
      },
      call(args) {
        calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
        return mockedCall(args.token, args.inputs as Record<string, unknown>);
      },
    },
    project,
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(config);
  const ofType = (type: string) => resources.filter((r) => r.type === type);
  return {
    resources,
    calls,
    ofType,
    one(type) {
      const found = ofType(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0]!;
    },
    byId(id) {
      const found = resources.find((r) => r.id === id);
      if (!found) throw new Error(`no resource has id ${id}`);
      return found;
    },
  };
}

/** Waits until every registration and call the program started has been answered. */
export async function settle(): Promise<void> {
  // Not in the typings, but exported by the SDK: the same wait `pulumi up` does before exiting.
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** The value inside an Output. */
export function resolve<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => pulumi.output(output).apply((value) => done(value as T)));
}

/** Whether an Output is marked secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/**
 * Whether the provider declares a `tags` input for this resource type, read from the provider
 * package's own type declarations (so the list of taggable types is not kept by hand).
 */
export function isTaggable(type: string): boolean {
  const match = /^([a-z0-9-]+):([a-zA-Z0-9]+)\/([a-zA-Z0-9]+):([A-Za-z0-9]+)$/.exec(type);
  if (!match) return false;
  const [, pkg, mod, file, resource] = match as unknown as [string, string, string, string, string];
  const root = path.dirname(require.resolve(`@pulumi/${pkg}/package.json`));
  const declarations = path.join(root, mod === 'index' ? '' : mod, `${file}.d.ts`);
  if (!existsSync(declarations)) throw new Error(`no type declarations for ${type}`);
  const text = readFileSync(declarations, 'utf8');
  const argsStart = text.indexOf(`export interface ${resource}Args {`);
  if (argsStart === -1) throw new Error(`no ${resource}Args in ${declarations}`);
  const argsBody = text.slice(argsStart, text.indexOf('\n}', argsStart));
  return /\n {4}tags\?: /.test(argsBody);
}

/** A real ed25519 public key in OpenSSH form, and a private key of the right shape and size. */
export function fakeOpensshKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  const body = randomBytes(300).toString('base64').replace(/.{70}/g, '$&\n');
  return {
    publicKey: `ssh-ed25519 ${blob.toString('base64')}\n`,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`,
  };
}

function arn(service: string, resource: string, region = REGION): string {
  return `arn:aws:${service}:${region}:${ACCOUNT}:${resource}`;
}

function mockedOutputs(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case 'aws:ecr/repository:Repository':
      return {
        arn: arn('ecr', `repository/${String(inputs.name)}`),
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${String(inputs.name)}`,
      };
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::${ACCOUNT}:role/${name}-1a2b3c4`, name: `${name}-1a2b3c4` };
    case 'aws:iam/instanceProfile:InstanceProfile':
      return { arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${name}`, name: `${name}-5d6e7f8` };
    case 'aws:iam/openIdConnectProvider:OpenIdConnectProvider':
      return {
        arn: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`,
      };
    case 'aws:ec2/eip:Eip':
      return { publicIp: HOST_PUBLIC_IP, allocationId: `eipalloc-${name}` };
    case 'aws:ec2/keyPair:KeyPair':
      return { keyName: `${name}-9a8b7c6` };
    case 'aws:lb/loadBalancer:LoadBalancer':
      return {
        arn: arn('elasticloadbalancing', `loadbalancer/app/${name}/50dc6c495c0c9188`),
        dnsName: `${name}-1234567890.${REGION}.elb.amazonaws.com`,
        zoneId: ALB_ZONE_ID,
      };
    case 'aws:acm/certificate:Certificate':
      return {
        arn: arn('acm', `certificate/${name}`),
        domainValidationOptions: [
          {
            domainName: inputs.domainName,
            resourceRecordName: `_3a4b5c.${String(inputs.domainName)}.`,
            resourceRecordType: 'CNAME',
            resourceRecordValue: '_6d7e8f.acm-validations.aws.',
          },
        ],
      };
    case 'aws:route53/record:Record':
      return { fqdn: String(inputs.name).replace(/\.$/, '') };
    case 'tls:index/privateKey:PrivateKey': {
      const pair = fakeOpensshKeyPair();
      return { publicKeyOpenssh: pair.publicKey, privateKeyOpenssh: pair.privateKey };
    }
    default:
      return { arn: arn(type.split(':')[1]!.split('/')[0]!, name) };
  }
}

function mockedCall(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { names: ZONES, zoneIds: ZONES.map((_, i) => `euw1-az${i + 1}`), id: REGION };
    case 'aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings':
      return {
        locations: OFFERED_ZONES,
        instanceTypes: OFFERED_ZONES.map(() => 't3.small'),
        locationTypes: OFFERED_ZONES.map(() => 'availability-zone'),
        id: REGION,
      };
    case 'aws:ec2/getAmi:getAmi':
      return { id: AMI_ID, name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-x' };
    case 'aws:route53/getZone:getZone':
      return { zoneId: HOSTED_ZONE_ID, name: inputs.name, id: HOSTED_ZONE_ID };
    case 'aws:index/getPartition:getPartition':
      return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
    default:
      throw new Error(`unmocked call ${token}`);
  }
}
