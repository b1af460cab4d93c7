/** `reflex users list | add | remove`: the editor's accounts, in the users file. */
import readline from 'node:readline';
import { ROLES, parseRole } from '../auth/roles';
import { UserStore } from '../auth/users';
import { UsageError } from './usage';

export const USERS_USAGE =
  'usage: reflex users list | add <name> [--role viewer|author|developer|admin] [--name N] [--email E] | remove <name>';

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let input = '';
    for await (const chunk of process.stdin) input += String(chunk);
    return input.replace(/\r?\n$/, '');
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      const rl = readline.createInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: true,
      });
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(prompt)) process.stdout.write(s);
      };
      rl.question(prompt, (answer) => {
        rl.close();
        process.stdout.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Password: ');
  if ((await ask('Again: ')) !== first) throw new UsageError('the passwords differ');
  return first;
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
}

export async function users(usersFile: string, args: string[]): Promise<void> {
  const store = new UserStore(usersFile);
  const [action, name] = args;
  if (action === 'list') {
    for (const user of (await store.all()).values())
      console.log(
        `${user.username.padEnd(20)} ${user.role.padEnd(9)} ${user.name} <${user.email}>`,
      );
    return;
  }
  if (action === 'add' && name) {
    const given = option(args, '--role') ?? 'developer';
    const role = parseRole(given);
    if (!role) throw new UsageError(`--role is one of ${ROLES.join(', ')}`);
    const password = await readPassword();
    await store.add({
      username: name,
      role,
      password,
      name: option(args, '--name'),
      email: option(args, '--email'),
    });
    console.log(`Added ${name} (${role}).`);
    return;
  }
  if (action === 'remove' && name) {
    await store.remove(name);
    console.log(`Removed ${name}; their sessions end at their next request.`);
    return;
  }
  throw new UsageError(USERS_USAGE);
}
