/**
 * Monaco's Trusted Types policies, each created once. Two of Monaco's modules create a policy
 * named `defaultWorkerFactory`; the second loads only with the JSON language service, and the
 * page's `trusted-types` directive (no 'allow-duplicates') refuses a second policy of a name:
 * a CSP violation the moment a JSON file opens. Monaco asks `MonacoEnvironment` for its
 * policies when it can, so this module sets that up; the page's entry (main.ts) imports it,
 * so it runs before any of Monaco's chunks loads.
 */
type Environment = NonNullable<typeof globalThis.MonacoEnvironment>;
type CreatePolicy = NonNullable<Environment['createTrustedTypesPolicy']>;
type PolicyOptions = Parameters<CreatePolicy>[1];
type Policy = ReturnType<CreatePolicy>;

interface TrustedTypesLike {
  createPolicy(name: string, options?: PolicyOptions): NonNullable<Policy>;
}

const created = new Map<string, Policy>();

function createTrustedTypesPolicy(name: string, options?: PolicyOptions): Policy {
  if (!created.has(name)) {
    const factory = (globalThis as { trustedTypes?: TrustedTypesLike }).trustedTypes;
    created.set(name, factory?.createPolicy(name, options));
  }
  return created.get(name);
}

globalThis.MonacoEnvironment = { ...globalThis.MonacoEnvironment, createTrustedTypesPolicy };
