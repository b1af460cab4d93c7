/**
 * Accounts, kept in a JSON file the operator controls (REFLEX_USERS_FILE), mode 0600.
 * Writes are atomic (temporary file + rename); reads follow the file when it changes, so the
 * CLI can add or remove users while instances run.
 */
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import type { Role, SessionUser } from '../api/contract';
import { writeAtomically } from '../files';
import { generatePassword, hashPassword, verifyAgainstNothing, verifyPassword } from './passwords';
import { ROLES, parseRole, type LegacyRole } from './roles';

export const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const userSchema = z.object({
  username: z.string().regex(USERNAME),
  name: z.string().min(1).max(200),
  email: z.string().email().max(320),
  // Files written by earlier versions name `editor`, which is a developer now.
  role: z.string().transform((value, ctx) => {
    const role = parseRole(value);
    if (!role) {
      ctx.addIssue({ code: 'custom', message: `role must be one of ${ROLES.join(', ')}` });
      return z.NEVER;
    }
    return role;
  }),
  passwordHash: z.string().startsWith('scrypt$'),
});
const fileSchema = z.object({ version: z.literal(1), users: z.array(userSchema) });

export type StoredUser = z.infer<typeof userSchema>;

export class UsersFileError extends Error {}

export class UserStore {
  private cache: { mtimeMs: number; size: number; users: Map<string, StoredUser> } | undefined;

  constructor(readonly file: string) {}

  /** Current accounts, re-read when the file changed on disk. */
  async all(): Promise<Map<string, StoredUser>> {
    let info;
    try {
      info = await stat(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    if (this.cache && this.cache.mtimeMs === info.mtimeMs && this.cache.size === info.size)
      return this.cache.users;
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(this.file, 'utf8')));
    if (!parsed.success) {
      throw new UsersFileError(
        `${this.file} is not a valid users file: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    }
    const users = new Map(parsed.data.users.map((u) => [u.username, u]));
    this.cache = { mtimeMs: info.mtimeMs, size: info.size, users };
    return users;
  }

  async find(username: string): Promise<StoredUser | undefined> {
    return (await this.all()).get(username);
  }

  /** The user when the password is right; undefined otherwise (same cost either way). */
  async authenticate(username: string, password: string): Promise<StoredUser | undefined> {
    const user = await this.find(username);
    if (!user) return verifyAgainstNothing(password).then(() => undefined);
    return (await verifyPassword(password, user.passwordHash)) ? user : undefined;
  }

  async add(input: {
    username: string;
    name?: string;
    email?: string;
    /** `editor`, an earlier version's name, is taken as `developer`. */
    role: Role | LegacyRole;
    password: string;
  }): Promise<StoredUser> {
    if (!USERNAME.test(input.username)) {
      throw new UsersFileError(
        'username: lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
      );
    }
    if (input.password.length < 10) throw new UsersFileError('password: at least 10 characters');
    const users = new Map(await this.all());
    if (users.has(input.username))
      throw new UsersFileError(`user ${input.username} exists already`);
    const user = userSchema.parse({
      username: input.username,
      name: input.name ?? input.username,
      email: input.email ?? `${input.username}@users.reflex.invalid`,
      role: input.role,
      passwordHash: await hashPassword(input.password),
    });
    users.set(user.username, user);
    this.write(users);
    return user;
  }

  async remove(username: string): Promise<void> {
    const users = new Map(await this.all());
    if (!users.delete(username)) throw new UsersFileError(`no user ${username}`);
    this.write(users);
  }

  /**
   * On first start (no accounts), creates the `admin` account (role admin) with `password` or a generated
   * one. Returns the credentials when it created them, so the caller can show them once.
   */
  async ensureAdmin(
    password: string | undefined,
  ): Promise<{ username: string; password: string; generated: boolean } | undefined> {
    if ((await this.all()).size > 0) return undefined;
    const chosen = password ?? generatePassword();
    await this.add({
      username: 'admin',
      name: 'Administrator',
      email: 'admin@users.reflex.invalid',
      role: 'admin',
      password: chosen,
    });
    return { username: 'admin', password: chosen, generated: password === undefined };
  }

  private write(users: Map<string, StoredUser>): void {
    const body = JSON.stringify({ version: 1, users: [...users.values()] }, null, 2) + '\n';
    writeAtomically(this.file, body, { mode: 0o600 });
    this.cache = undefined;
  }
}

export function toEditorUser(user: StoredUser): SessionUser {
  return { username: user.username, name: user.name, email: user.email, role: user.role };
}
