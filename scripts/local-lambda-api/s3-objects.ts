/**
 * Takes S3 `PutObject` uploads (path-style, as the SDK sends them with an endpoint of ours) into the
 * store, so that a zip too large for a direct upload can be given to Lambda as `S3Bucket`/`S3Key`
 * offline too. Only what shlambda's commands use: PutObject, and Lambda reading the object back.
 */

// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { signatureScope } from './signature-scope.ts';

/** Largest object taken: Lambda reads at most a 250 MB unzipped layer or function; its zip is smaller. */
const MAX_OBJECT_BYTES = 262_144_000;

/** Where uploaded objects are kept; the store implements it. */
export interface ObjectStore {
  putObject(bucket: string, key: string, data: Buffer): void;
}

/** An S3 answer: status, XML body, headers. */
export interface S3Reply {
  status: number;
  body?: string;
  headers: Record<string, string>;
}

/**
 * Whether a request is for S3 rather than Lambda: the SDK signs each for its service, and the
 * credential scope of the signature names it (`Credential=KEY/20261202/us-east-1/s3/aws4_request`).
 */
export function isS3Request(req: IncomingMessage): boolean {
  return signatureScope(req)?.service === 's3';
}

/** Bucket names as S3 allows them (the general purpose rules; no dots next to each other). */
const BUCKET = /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether S3 would take this as a bucket name (and so it names no path of its own in the store). */
export function isBucketName(name: string): boolean {
  return BUCKET.test(name);
}

/** Answers one S3 request; never throws (a failure is an S3 error reply, after the body is read). */
export async function serveS3(objects: ObjectStore, method: string, req: IncomingMessage): Promise<S3Reply> {
  const reply = await answer(objects, method, req);
  // Whatever the caller still sends is read and dropped, so that it sees this answer, not a reset.
  if (!req.readableEnded) req.resume();
  return reply;
}

async function answer(objects: ObjectStore, method: string, req: IncomingMessage): Promise<S3Reply> {
  try {
    // The path as sent: a URL parser would resolve `..` segments, which are a key's own characters.
    const [rawPath = '', query = ''] = (req.url ?? '/').split('?', 2);
    const [bucket = '', ...rest] = rawPath.slice(1).split('/');
    let key: string;
    try {
      key = decodeURIComponent(rest.join('/'));
    } catch {
      return s3Error(400, 'InvalidURI', `Couldn't parse the specified URI: ${rawPath}`);
    }
    // PutObject only: any other PUT on a key (CopyObject, ?tagging, ?acl, a part of an upload) is not.
    const plain = query === '' || query === 'x-id=PutObject';
    if (method !== 'PUT' || key === '' || !plain || req.headers['x-amz-copy-source'] !== undefined) {
      return s3Error(
        501,
        'NotImplemented',
        `shlambda local takes S3 PutObject only, not ${method} ${req.url}`,
      );
    }
    if (!isBucketName(bucket)) {
      return s3Error(400, 'InvalidBucketName', `The specified bucket is not valid: ${bucket}`);
    }
    const sent = await readObject(req);
    if (sent === undefined) {
      return s3Error(
        400,
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum allowed size (${MAX_OBJECT_BYTES} bytes here)`,
      );
    }
    // A stream body comes in aws-chunked encoding, its checksum in a trailer.
    const chunked = req.headers['content-encoding']?.includes('aws-chunked')
      ? decodeChunked(sent)
      : undefined;
    if (chunked === null) return s3Error(400, 'IncompleteBody', 'The aws-chunked body is malformed');
    const body = chunked?.body ?? sent;
    if (Number(req.headers['x-amz-decoded-content-length'] ?? body.length) !== body.length) {
      return s3Error(400, 'IncompleteBody', 'The body is not as long as x-amz-decoded-content-length says');
    }
    const mismatch = checksumMismatch({ ...req.headers, ...chunked?.trailers }, body);
    if (mismatch) return s3Error(400, mismatch.code, mismatch.message);
    objects.putObject(bucket, key, body);
    return { status: 200, headers: { ETag: `"${createHash('md5').update(body).digest('hex')}"` } };
  } catch (error) {
    return s3Error(500, 'InternalError', `shlambda local: ${(error as Error).message}`);
  }
}

async function readObject(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_OBJECT_BYTES) chunks.push(chunk);
  }
  return size <= MAX_OBJECT_BYTES ? Buffer.concat(chunks) : undefined;
}

/**
 * The payload of an aws-chunked body: `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n` until a chunk of
 * size 0, then trailer lines (`x-amz-checksum-crc32:...`) and an empty line. Null when malformed.
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)
 */
function decodeChunked(data: Buffer): { body: Buffer; trailers: Record<string, string> } | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n', at);
    if (end < 0) return null;
    const size = Number.parseInt(data.subarray(at, end).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isInteger(size) || size < 0 || end + 2 + size > data.length) return null;
    at = end + 2;
    if (size === 0) break;
    parts.push(data.subarray(at, at + size));
    at += size;
    if (data.subarray(at, at + 2).toString('latin1') !== '\r\n') return null;
    at += 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of data.subarray(at).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { body: Buffer.concat(parts), trailers };
}

/** The body against what the SDK says it sent: the signed SHA-256, and the CRC32 it adds by default. */
function checksumMismatch(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): { code: string; message: string } | undefined {
  const sha256 = headers['x-amz-content-sha256'];
  if (typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256)) {
    if (createHash('sha256').update(body).digest('hex') !== sha256) {
      return {
        code: 'XAmzContentSHA256Mismatch',
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
      };
    }
  }
  const crc32 = headers['x-amz-checksum-crc32'];
  if (typeof crc32 === 'string' && typeof zlib.crc32 === 'function') {
    const computed = Buffer.alloc(4);
    computed.writeUInt32BE(zlib.crc32(body));
    if (computed.toString('base64') !== crc32) {
      return { code: 'BadDigest', message: 'The CRC32 you specified did not match the calculated checksum.' };
    }
  }
  return undefined;
}

function s3Error(status: number, code: string, message: string): S3Reply {
  const xmlText = (text: string) =>
    text.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c);
  return {
    status,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlText(message)}</Message></Error>`,
    headers: { 'Content-Type': 'application/xml' },
  };
}
