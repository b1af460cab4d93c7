/**
 * A change request as the API shows it: its backend's record, the files its branch changes
 * since it left the deploy branch (from git, never stored), and its preview's address and
 * state.
 */
import type { ChangeRequest } from '../api/contract';
import type { WorkspaceSource } from '../git/clone';
import type { PreviewInfo } from '../pipeline/types';
import type { ChangeRequestRecord } from './changeRequestBackend';
import { partsOf } from './changeRequestNames';

/** A record as the API shows it: with what git says it changes, and its preview. */
export async function describeChangeRequest(
  record: ChangeRequestRecord,
  context: {
    /** Asked only for an open one (a closed one needs no clone). */
    workspace: WorkspaceSource;
    /** A preview's URL from its name, when the operator set one; else the pipeline's. */
    previewUrl: ((name: string) => string) | undefined;
    /** The pipeline's previews by branch, when asked for. */
    previews: Map<string, PreviewInfo> | undefined;
  },
): Promise<ChangeRequest> {
  const parts = partsOf(record.branch)!;
  let head: string | null = null;
  let files: string[] = [];
  if (record.status === 'open') {
    const workspace = context.workspace.current();
    const found = await workspace.exclusive(async () => {
      const branchHead = await workspace.fetchBranch(record.branch);
      if (!branchHead) return undefined;
      const base = await workspace.merges.base(workspace.head, branchHead);
      return {
        head: branchHead,
        files: base ? await workspace.changedPaths(base, branchHead) : [],
      };
    });
    head = found?.head ?? null;
    files = found?.files ?? [];
  }
  const preview = record.status === 'open' ? context.previews?.get(record.branch) : undefined;
  const previewUrl =
    record.status !== 'open'
      ? null
      : context.previewUrl
        ? context.previewUrl(parts.slug)
        : (preview?.url ?? null);
  return {
    id: `${parts.user}/${parts.slug}`,
    branch: record.branch,
    title: record.title,
    description: record.description,
    author: record.author,
    status: record.status,
    head,
    files,
    previewUrl,
    preview: preview
      ? { state: preview.state, ...(preview.error ? { error: preview.error } : {}) }
      : null,
    url: record.url,
    checks: record.checks,
    review: record.review,
    ...(record.mergeCommit ? { mergeCommit: record.mergeCommit } : {}),
  };
}
