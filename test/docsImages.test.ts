/**
 * The pictures in the docs: every image a doc links to is in the repository, every file in
 * docs/images is shown by some doc (the browser tier writes them; nothing stale stays), and
 * each is small enough to keep in git.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const DOCS = path.join(ROOT, 'docs');
const IMAGES = path.join(DOCS, 'images');
const MAX_BYTES = 250_000;

function docs(): { file: string; text: string }[] {
  const files = [
    path.join(ROOT, 'README.md'),
    ...readdirSync(DOCS)
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join(DOCS, f)),
  ];
  return files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}

/** The local images a Markdown text links to, resolved against its file. */
function imagesOf(doc: { file: string; text: string }): string[] {
  return [...doc.text.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((link) => !/^[a-z]+:/i.test(link))
    .map((link) => path.resolve(path.dirname(doc.file), link));
}

describe('images in the docs', () => {
  it('every image a doc shows exists', () => {
    const missing = docs().flatMap((doc) =>
      imagesOf(doc)
        .filter((image) => !statSync(image, { throwIfNoEntry: false })?.isFile())
        .map((image) => `${path.relative(ROOT, doc.file)} -> ${path.relative(ROOT, image)}`),
    );
    expect(missing).toEqual([]);
  });

  it('every file in docs/images is shown by a doc, and is small', () => {
    const shown = new Set(docs().flatMap(imagesOf));
    const files = readdirSync(IMAGES).map((f) => path.join(IMAGES, f));
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !shown.has(f)).map((f) => path.relative(ROOT, f))).toEqual([]);
    expect(
      files.filter((f) => statSync(f).size > MAX_BYTES).map((f) => path.relative(ROOT, f)),
    ).toEqual([]);
  });
});
