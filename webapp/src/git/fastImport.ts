/**
 * The input of one `git fast-import` run that writes a blob, the trees and a commit changing
 * one path on a parent, and asks back their ids (`get-mark`).
 */
import { FILE_MODE } from './tree';

export interface Person {
  name: string;
  email: string;
}

export interface OneFileCommit {
  branch: string;
  parent: string;
  path: string;
  /** The new content, or null to remove the path. */
  content: Buffer | null;
  mode?: string | undefined;
  author: Person;
  committer: Person;
  message: string;
  /** Seconds since the epoch. */
  when: number;
}

/** `Name <email>` for a commit header; the characters git would refuse are dropped. */
export function identity(person: Person): string {
  const clean = (text: string) => text.replace(/[<>\n\r\0]/g, '').trim();
  return `${clean(person.name) || 'unknown'} <${clean(person.email)}>`;
}

/** A path in fast-import's C-style quoting (always quoted: spaces, quotes, non-ASCII are safe). */
export function quotePath(path: string): string {
  return `"${path.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function fastImportScript(change: OneFileCommit): Buffer {
  const when = `${change.when} +0000`;
  const message = Buffer.from(
    change.message.endsWith('\n') ? change.message : `${change.message}\n`,
  );
  const parts: (string | Buffer)[] = [];
  if (change.content !== null) {
    parts.push(`blob\nmark :1\ndata ${change.content.length}\n`, change.content, '\n');
  }
  parts.push(
    `commit refs/heads/${change.branch}\nmark :2\n`,
    `author ${identity(change.author)} ${when}\n`,
    `committer ${identity(change.committer)} ${when}\n`,
    `data ${message.length}\n`,
    message,
    `from ${change.parent}\n`,
    change.content === null
      ? `D ${quotePath(change.path)}\n`
      : `M ${change.mode ?? FILE_MODE.file} :1 ${quotePath(change.path)}\n`,
    '\n',
    change.content === null ? '' : 'get-mark :1\n',
    'get-mark :2\ndone\n',
  );
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}
