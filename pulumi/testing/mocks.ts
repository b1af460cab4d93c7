// Pulumi mocks for the unit tests: nothing reaches AWS. Every resource the program registers is
// recorded with its exact inputs and the options the engine would receive (protect,
// ignoreChanges, ...), and the mocked outputs look like AWS's (ARNs, URLs, DNS names).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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
export const HOST_PRIVATE_IP = '10.0.0.57';
export const GITHUB_OIDC_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

/** The options of a registration, as the engine receives them. */
export interface RecordedOptions {
  parent: string;
  protect: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  deleteBeforeReplace: boolean;
  retainOnDelete: boolean;
  dependencies: string[];
}

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  id: string;
  urn: string;
  options: RecordedOptions;
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
  /** The resource of that type and logical name. */
  named(type: string, name: string): RecordedResource;
}

export interface MockAccount {
  /** Whether the account already holds GitHub's OIDC provider (default: no), or may not say. */
  githubOidcProvider?: boolean | 'access-denied';
}

/** What the mocked monitor's request object tells about one registration. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
  getRetainondelete(): boolean | undefined;
  getDependenciesList(): string[];
}

interface Monitor {
  registerResource(request: RegisterRequest, callback: unknown): unknown;
  newUrn(parent: string, type: string, name: string): string;
}

/**
 * Installs mocks for `project`/`stack` with the given config (full keys, string values, as
 * `pulumi config` holds them). Register resources after this, then `await settle()`.
 */
export async function mockStack(
  stack: string,
  config: Record<string, string> = {},
  account: MockAccount = {},
  project = 'reflex',
): Promise<MockedStack> {
  const resources: RecordedResource[] = [];
  const calls: RecordedCall[] = [];
  const registrations = new Map<string, Pick<RecordedResource, 'urn' | 'options'>>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = mockedId(args.type, args.name);
        const inputs = args.inputs as Record<string, unknown>;
        const key = `${args.type}::${args.name}`;
        if (args.custom !== false || args.type.startsWith('awsx:')) {
          resources.push({
            type: args.type,
            name: args.name,
            inputs,
            id,
            ...registrations.get(key)!,
          });
        }
        return { id, state: { ...inputs, ...mockedOutputs(args.type, args.name, inputs) } };
      },
      call(args) {
        calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
        return mockedCall(args.token, args.inputs as Record<string, unknown>, account);
      },
    },
    project,
    stack,
    false,
  );
  recordRegistrations(registrations);
  pulumi.runtime.setAllConfig(config);
  const ofType = (type: string) => resources.filter((r) => r.type === type);
  const only = (found: RecordedResource[], what: string) => {
    if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}`);
    return found[0]!;
  };
  return {
    resources,
    calls,
    ofType,
    one: (type) => only(ofType(type), type),
    byId: (id) =>
      only(
        resources.filter((r) => r.id === id),
        `resource with id ${id}`,
      ),
    named: (type, name) =>
      only(
        ofType(type).filter((r) => r.name === name),
        `${type} ${name}`,
      ),
  };
}

/**
 * Reads each registration's URN and options off the request the SDK sends to the (mocked)
 * engine: what `pulumi up` would diff and honour.
 */
function recordRegistrations(into: Map<string, Pick<RecordedResource, 'urn' | 'options'>>): void {
  const monitor = settings.getMonitor() as unknown as Monitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    into.set(`${request.getType()}::${request.getName()}`, {
      urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
      options: {
        parent: request.getParent(),
        protect: request.getProtect() ?? false,
        ignoreChanges: request.getIgnorechangesList(),
        replaceOnChanges: request.getReplaceonchangesList(),
        deleteBeforeReplace: request.getDeletebeforereplace(),
        retainOnDelete: request.getRetainondelete() ?? false,
        dependencies: request.getDependenciesList(),
      },
    });
    return register(request, callback);
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

/** The value of a recorded input, unwrapped when the SDK sent it as a secret. */
export function unsecret(value: unknown): unknown {
  const sig = pulumi.runtime.specialSigKey;
  if (typeof value === 'object' && value !== null && sig in value) {
    return (value as unknown as { value: unknown }).value;
  }
  return value;
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

/** The physical id: `<name>-id`, or where AWS's shape matters (EBS volumes), that shape. */
function mockedId(type: string, name: string): string {
  if (type === 'aws:ebs/volume:Volume') {
    return `vol-0${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
  }
  return `${name}-id`;
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
    case 'awsx:ec2:Vpc': {
      const zones = (inputs.availabilityZoneNames as string[] | undefined) ?? ZONES;
      return {
        vpcId: `${name}-vpc-id`,
        publicSubnetIds: zones.map((_, i) => `${name}-public-${i}-id`),
        privateSubnetIds: [],
        isolatedSubnetIds: [],
      };
    }
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
      return { arn: GITHUB_OIDC_PROVIDER };
    case 'aws:ec2/eip:Eip':
      return { publicIp: HOST_PUBLIC_IP, allocationId: `eipalloc-${name}` };
    case 'aws:ec2/networkInterface:NetworkInterface':
      return { privateIp: HOST_PRIVATE_IP };
    case 'aws:ec2/keyPair:KeyPair':
      return { keyName: `${name}-9a8b7c6` };
    case 'aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint':
      return {
        arn: arn('ec2', `instance-connect-endpoint/eice-${name}`),
        dnsName: `eice-${name}.ec2-instance-connect-endpoint.${REGION}.amazonaws.com`,
      };
    case 'aws:ssm/parameter:Parameter':
      return { arn: arn('ssm', `parameter${String(inputs.name)}`) };
    case 'aws:lb/loadBalancer:LoadBalancer':
      return {
        arn: arn('elasticloadbalancing', `loadbalancer/app/${name}/50dc6c495c0c9188`),
        arnSuffix: `app/${name}/50dc6c495c0c9188`,
        dnsName: `${name}-1234567890.${REGION}.elb.amazonaws.com`,
        zoneId: ALB_ZONE_ID,
      };
    case 'aws:lb/targetGroup:TargetGroup':
      return {
        arn: arn('elasticloadbalancing', `targetgroup/${name}/73e2d6bc24d8a067`),
        arnSuffix: `targetgroup/${name}/73e2d6bc24d8a067`,
      };
    case 'aws:lb/listener:Listener':
      return { arn: arn('elasticloadbalancing', `listener/app/${name}/50dc6c495c0c9188/f2f7dc8e`) };
    case 'aws:acm/certificate:Certificate': {
      const names = [inputs.domainName, ...((inputs.subjectAlternativeNames as unknown[]) ?? [])];
      return {
        arn: arn('acm', `certificate/${name}`),
        domainValidationOptions: names.map((domain, i) => ({
          domainName: domain,
          resourceRecordName: `_3a4b5c${i}.${String(domain).replace(/^\*\./, '')}.`,
          resourceRecordType: 'CNAME',
          resourceRecordValue: `_6d7e8f${i}.acm-validations.aws.`,
        })),
      };
    }
    case 'aws:route53/record:Record':
      return { fqdn: String(inputs.name).replace(/\.$/, '') };
    case 'aws:ecs/cluster:Cluster':
      return { arn: arn('ecs', `cluster/${String((inputs.name as string | undefined) ?? name)}`) };
    case 'aws:ecs/service:Service':
      return {
        arn: arn(
          'ecs',
          `service/${name}-cluster/${String((inputs.name as string | undefined) ?? name)}`,
        ),
      };
    case 'aws:ecs/taskDefinition:TaskDefinition':
      return {
        arn: arn('ecs', `task-definition/${String(inputs.family)}:1`),
        arnWithoutRevision: arn('ecs', `task-definition/${String(inputs.family)}`),
        revision: 1,
      };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { arn: arn('logs', `log-group:${String(inputs.name)}`) };
    case 'aws:efs/fileSystem:FileSystem':
      return { arn: arn('elasticfilesystem', `file-system/fs-${name}`) };
    case 'aws:efs/accessPoint:AccessPoint':
      return { arn: arn('elasticfilesystem', `access-point/fsap-${name}`) };
    case 'aws:secretsmanager/secret:Secret':
      return {
        arn: arn(
          'secretsmanager',
          `secret:${String((inputs.name as string | undefined) ?? name)}-AbCdEf`,
        ),
      };
    case 'tls:index/privateKey:PrivateKey': {
      const pair = fakeOpensshKeyPair();
      return { publicKeyOpenssh: pair.publicKey, privateKeyOpenssh: pair.privateKey };
    }
    default:
      return { arn: arn(type.split(':')[1]!.split('/')[0]!, name) };
  }
}

function mockedCall(
  token: string,
  inputs: Record<string, unknown>,
  account: MockAccount,
): Record<string, unknown> {
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
    case 'aws:ec2/getAmi:getAmi': {
      const filters = inputs.filters as { name: string; values: string[] }[];
      const name = filters.find((f) => f.name === 'name')?.values[0] ?? 'unnamed';
      return { id: AMI_ID, name, architecture: name.includes('arm64') ? 'arm64' : 'x86_64' };
    }
    case 'aws:route53/getZone:getZone':
      return { zoneId: HOSTED_ZONE_ID, name: inputs.name, id: HOSTED_ZONE_ID };
    case 'aws:index/getPartition:getPartition':
      return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ops`, id: ACCOUNT };
    case 'aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider':
      if (account.githubOidcProvider !== true) {
        // As the engine reports the provider's error: a gRPC error whose details the SDK turns
        // into the Error it throws.
        const reason =
          account.githubOidcProvider === 'access-denied'
            ? 'operation error IAM: ListOpenIDConnectProviders, StatusCode: 403, AccessDenied'
            : "couldn't find resource";
        throw Object.assign(new Error('invoke failed'), {
          details:
            `invocation of ${token} returned an error: invoking ${token}: 1 error occurred:\n` +
            `\t* reading IAM OIDC Provider (${String(inputs.url)}): ${reason}`,
        });
      }
      return { arn: GITHUB_OIDC_PROVIDER, url: String(inputs.url), id: GITHUB_OIDC_PROVIDER };
    default:
      throw new Error(`unmocked call ${token}`);
  }
}
