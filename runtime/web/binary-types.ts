/** Decides which response content types go back base64-encoded (`isBase64Encoded: true`). */

/** The default list (`SHLAMBDA_BINARY_TYPES` replaces it): media that is not text. */
export const DEFAULT_BINARY_TYPES: readonly string[] = [
  'image/*',
  'audio/*',
  'video/*',
  'font/*',
  'application/octet-stream',
  'application/pdf',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/x-7z-compressed',
  'application/wasm',
  'application/x-protobuf',
  'application/vnd.ms-fontobject',
];

/**
 * Parses a comma-separated list of media types (`image/png`, `image/*`, `*\/*`), lower-cased.
 * @returns the types, and in `bad` the first entry that is not `type/subtype`, for the caller to name.
 */
export function parseBinaryTypes(list: string): { types: string[]; bad: string | undefined } {
  const types: string[] = [];
  for (const entry of list.split(',')) {
    const type = entry.trim().toLowerCase();
    if (type === '') continue;
    if (!/^(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/.test(type)) {
      return { types, bad: entry.trim() };
    }
    types.push(type);
  }
  return { types, bad: undefined };
}

/**
 * True when a `Content-Type` value names a binary type of the list. Parameters (`; charset=...`) are
 * ignored. A wildcard does not reach structured text (`image/svg+xml`, `application/ld+json`): only an
 * exact entry does.
 */
export function isBinaryContentType(
  contentType: string | undefined,
  binaryTypes: readonly string[],
): boolean {
  if (!contentType) return false;
  const type = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  const [main, sub] = type.split('/', 2);
  if (!main || !sub) return false;
  const structuredText = /\+(xml|json)$/.test(sub);
  for (const entry of binaryTypes) {
    if (entry === type) return true;
    if (structuredText) continue;
    if (entry === '*/*' || entry === `${main}/*`) return true;
  }
  return false;
}
