/** Reading and writing the one cookie the app sets, with explicit attributes. */
import type { Context } from 'koa';

export interface CookieOptions {
  maxAgeSeconds: number;
  secure: boolean;
}

export function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of (ctx.get('Cookie') || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function writeCookie(
  ctx: Context,
  name: string,
  value: string,
  options: CookieOptions,
): void {
  const attributes = [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${options.maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
  ];
  ctx.append('Set-Cookie', attributes.join('; '));
}

export function clearCookie(ctx: Context, name: string, secure: boolean): void {
  writeCookie(ctx, name, '', { maxAgeSeconds: 0, secure });
}
