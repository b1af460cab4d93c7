/**
 * Answers of servers older than the API contract, adapted to it where they come in (api.ts),
 * so that the rest of the editor knows only the contract's shapes. A page can outlive a
 * release: one loaded from an older server keeps calling whichever instance answers. Pure.
 */
import type { EditorSettings, Role, SessionUser } from '../api/contract';
import { beyondSite } from './access';

/** `editor` is what servers before roles by path call a `developer`. */
export type AnsweredRole = Role | 'editor';

export type AnsweredUser = Omit<SessionUser, 'role'> & { role: AnsweredRole };

/** Servers before the wide-scope banner, the site's own origin and change requests. */
type Later =
  'wideScope' | 'siteUrl' | 'saveTarget' | 'directSaves' | 'canPublish' | 'changeRequests';
export type AnsweredSettings = Omit<EditorSettings, Later> & Partial<Pick<EditorSettings, Later>>;

export function sessionUser(answer: AnsweredUser): SessionUser {
  return { ...answer, role: answer.role === 'editor' ? 'developer' : answer.role };
}

/** A server that does not say whether the scope is wide is judged by its globs. */
export function editorSettings(answer: AnsweredSettings): EditorSettings {
  return {
    ...answer,
    wideScope: answer.wideScope ?? beyondSite(answer.editable).length > 0,
    siteUrl: answer.siteUrl ?? null,
    // A server without change requests saves to the branch, and publishes nothing.
    saveTarget: answer.saveTarget ?? 'direct',
    directSaves: answer.directSaves ?? true,
    canPublish: answer.canPublish ?? false,
    changeRequests: answer.changeRequests ?? 'local',
  };
}
