/** A mistake in how the command was called: printed without a stack, exit status 64. */
export class UsageError extends Error {}
