/** Manifests -> one multi-document YAML text, each with its header lines and one-line comments on the fields. */
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { Manifest, Note } from './manifests.js';

export function renderManifests(manifests: readonly Manifest[], preamble: readonly string[] = []): string {
  const parts: string[] = [];
  manifests.forEach((m, i) => {
    // No anchors: the same labels object in three places must print three times for kubectl users to read.
    const doc = new Document(m.object, { aliasDuplicateObjects: false });
    const header = i === 0 ? [...preamble, ...(preamble.length > 0 && m.header.length > 0 ? [''] : []), ...m.header] : m.header;
    if (header.length > 0) doc.commentBefore = header.map((l) => (l === '' ? '' : ` ${l}`)).join('\n');
    for (const note of m.notes) attach(doc, note);
    parts.push(doc.toString({ lineWidth: 0 }));
  });
  return parts.join('---\n');
}

/** A scalar gets the reason at the end of its line; a map entry or list item holding more gets it on the line above. */
function attach(doc: Document, note: Note): void {
  const parentPath = note.path.slice(0, -1);
  const last = note.path[note.path.length - 1];
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  const text = ` ${note.text}`;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
    if (pair !== undefined && isScalar(pair.value)) pair.value.comment = text;
    else if (pair !== undefined && isScalar(pair.key)) pair.key.commentBefore = text;
    else throw new Error(`note on a missing field ${note.path.join('.')}`);
    return;
  }
  if (isSeq(parent) && typeof last === 'number' && parent.items[last] !== undefined) {
    const item = parent.items[last] as Node;
    if (isScalar(item)) item.comment = text;
    else item.commentBefore = text;
    return;
  }
  throw new Error(`note on a missing field ${note.path.join('.')}`);
}
