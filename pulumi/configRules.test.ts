import {
  architectureOf,
  cidrProblem,
  debianAmiName,
  ecrRepository,
  fargateMemory,
  imagePlatformOf,
  sshCidrs,
} from './configRules';

describe('configuration rules', () => {
  it.each([
    ['203.0.113.7/32', undefined],
    ['10.0.0.0/8', undefined],
    ['0.0.0.0/0', undefined],
    ['2001:db8::/32', undefined],
    ['2001:db8::1/128', undefined],
    ['::ffff:192.0.2.0/120', undefined],
    ['10.0.0.1', 'is not a CIDR such as 203.0.113.7/32'],
    ['10.0.0.0/33', 'has a prefix longer than /32'],
    ['2001:db8::/129', 'has a prefix longer than /128'],
    ['10.0.0.256/32', 'is not a CIDR such as 203.0.113.7/32'],
    ['10.1.0.0/8', 'has host bits set; use the network address of the block'],
    ['2001:db8::1/64', 'has host bits set; use the network address of the block'],
    ['my-laptop/32', 'is not a CIDR such as 203.0.113.7/32'],
  ])('cidrProblem(%s) -> %s', (cidr, problem) => {
    expect(cidrProblem(cidr)).toBe(problem);
  });

  it.each([
    ['0.0.0.0/0', 'wider than /8'],
    ['::/0', 'wider than /32'],
    ['0.0.0.0/1', 'wider than /8'],
    ['128.0.0.0/1', 'wider than /8'],
    ['2000::/3', 'wider than /32'],
    ['10.0.0.1/24', 'host bits'],
  ])('refuses %s as an SSH source for people (%s)', (cidr, reason) => {
    expect(() => sshCidrs([cidr])).toThrow(reason);
  });

  it('accepts people at known addresses as SSH sources, in order', () => {
    expect(sshCidrs(['203.0.113.7/32', '2001:db8:1::/48', '10.0.0.0/8'])).toEqual([
      '203.0.113.7/32',
      '2001:db8:1::/48',
      '10.0.0.0/8',
    ]);
  });

  it.each([
    ['t3.small', 'amd64'],
    ['t3a.medium', 'amd64'],
    ['t4g.small', 'arm64'],
    ['m7g.large', 'arm64'],
    ['m7i.large', 'amd64'],
    ['c6gn.xlarge', 'arm64'],
    ['a1.large', 'arm64'],
  ])('%s runs %s', (type, arch) => {
    expect(architectureOf(type)).toBe(arch);
    expect(imagePlatformOf(type)).toBe(`linux/${arch}`);
  });

  it('takes the pinned name of an official Debian 13 AMI of the instance type architecture', () => {
    expect(debianAmiName('debian-13-amd64-20251117-2299', 't3.small')).toBe(
      'debian-13-amd64-20251117-2299',
    );
    expect(debianAmiName('debian-13-arm64-20251117-2299', 't4g.small')).toBe(
      'debian-13-arm64-20251117-2299',
    );
  });

  it('says which image fits when the AMI and the instance type disagree on the architecture', () => {
    expect(() => debianAmiName('debian-13-amd64-20251117-2299', 't4g.small')).toThrow(
      'debian-13-amd64-20251117-2299 is an amd64 image but reflex:instanceType t4g.small runs arm64: ' +
        'set it to debian-13-arm64-20251117-2299',
    );
  });

  it.each([
    'debian-12-amd64-20240717-1811',
    'debian-13-backports-amd64-20251117-2299',
    'debian-13-amd64-*',
    'ami-0123456789abcdef0',
    'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240101',
  ])('refuses %s as the host image', (name) => {
    expect(() => debianAmiName(name, 't3.small')).toThrow(
      'is not the name of an official Debian 13 AMI',
    );
  });

  it.each([
    [256, 512, true],
    [256, 2048, true],
    [256, 4096, false],
    [512, 1024, true],
    [512, 512, false],
    [1024, 3072, true],
    [1024, 2500, false],
    [4096, 30720, true],
  ])('Fargate with %i CPU units offers %i MiB: %s', (cpu, memory, offered) => {
    if (offered) expect(fargateMemory(memory, cpu)).toBe(memory);
    else expect(() => fargateMemory(memory, cpu)).toThrow(`with ${cpu} CPU units`);
  });

  it.each([
    ['reflex-dev', { name: 'reflex-dev' }],
    ['team/reflex-dev', { name: 'team/reflex-dev' }],
    [
      'arn:aws:ecr:us-east-1:210987654321:repository/reflex-dev',
      { arn: 'arn:aws:ecr:us-east-1:210987654321:repository/reflex-dev' },
    ],
  ])('reads the promotion source %s', (value, expected) => {
    expect(ecrRepository(value)).toEqual(expected);
  });

  it.each([
    'Reflex-Dev',
    '210987654321.dkr.ecr.us-east-1.amazonaws.com/reflex-dev',
    'arn:aws:s3:::x',
  ])('refuses %s as a promotion source', (value) => {
    expect(() => ecrRepository(value)).toThrow('neither an ECR repository name');
  });
});
