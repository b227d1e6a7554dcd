// SPDX-License-Identifier: Apache-2.0
// The test cluster's "registry": image references parsed and normalised as container runtimes
// do (docker.io/library/NAME:latest), and looked up in the image table the build generates
// (images.json: reference -> entrypoint, default args, environment, of a binary of the build).

import crypto from 'node:crypto';
import fs from 'node:fs';

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);

// Parses an image reference: { ok, name (normalised, with tag or digest) } or { ok: false,
// message } with the runtime's InvalidImageName text.
export function parseImage(ref) {
  const m = typeof ref === 'string' ? REFERENCE.exec(ref) : null;
  if (!m || m[1].length > 255) {
    let why = 'invalid reference format';
    const lower = typeof ref === 'string' ? REFERENCE.exec(ref.toLowerCase()) : null;
    if (lower) {
      const repo = ref.replace(/(:[^/]*)?(@.*)?$/, '');
      why += `: repository name (${repo.includes('/') ? repo : `library/${repo}`}) must be lowercase`;
    }
    return { ok: false, message: `Failed to apply default image tag "${ref}": couldn't parse image reference "${ref}": ${why}` };
  }
  let repo = m[1];
  const first = repo.split('/')[0];
  const hasDomain = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) repo = `docker.io/${repo}`;
  if (repo.startsWith('docker.io/') && repo.split('/').length === 2) repo = `docker.io/library/${repo.slice(10)}`;
  const tag = m[2] ?? (m[3] ? undefined : 'latest');
  return { ok: true, name: `${repo}${tag ? `:${tag}` : ''}${m[3] ? `@${m[3]}` : ''}` };
}

export class ImageTable {
  constructor(file) {
    this.file = file;
    this.images = new Map();
    const table = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const [ref, image] of Object.entries(table.images ?? table)) {
      const p = parseImage(ref);
      if (!p.ok) throw new Error(`${file}: image '${ref}': ${p.message}`);
      const digest = crypto.createHash('sha256').update(JSON.stringify(image)).digest('hex');
      this.images.set(p.name, { ...image, ref: p.name, id: `${p.name.replace(/[:@].*$/, '')}@sha256:${digest}` });
    }
  }

  // { image } for a known reference, { reason, message } for InvalidImageName or ErrImagePull.
  resolve(ref) {
    const p = parseImage(ref);
    if (!p.ok) return { reason: 'InvalidImageName', message: p.message };
    const image = this.images.get(p.name);
    if (image) return { image };
    return {
      reason: 'ErrImagePull',
      message: `rpc error: code = NotFound desc = failed to pull and unpack image "${p.name}": failed to resolve reference "${p.name}": ${p.name}: not found`,
    };
  }
}
