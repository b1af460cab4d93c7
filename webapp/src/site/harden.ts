/**
 * The first module of the site's bundle, evaluated before any of the site's own code: takes
 * away what Node's permission model leaves to code running as the supervisor's user. A site
 * may exit, but it may not signal another process (the supervisor, the platform).
 */
function refuse(): never {
  throw new Error('the site may not send signals to processes');
}

for (const name of ['kill', '_kill'] as const) {
  Object.defineProperty(process, name, { value: refuse, writable: false, configurable: false });
}

export {};
