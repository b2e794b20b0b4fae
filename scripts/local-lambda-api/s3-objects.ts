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
  return /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/s3\/aws4_request/.test(req.headers.authorization ?? '');
}

/** Bucket names as S3 allows them (the general purpose rules; no dots next to each other). */
const BUCKET = /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Answers one S3 request; never throws (a failure is an S3 error reply). */
export async function serveS3(
  objects: ObjectStore,
  method: string,
  target: URL,
  req: IncomingMessage,
): Promise<S3Reply> {
  try {
    const [bucket = '', ...rest] = target.pathname.slice(1).split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (
      method !== 'PUT' ||
      key === '' ||
      target.searchParams.has('uploads') ||
      target.searchParams.has('partNumber')
    ) {
      return s3Error(
        501,
        'NotImplemented',
        `shlambda local takes S3 PutObject only, not ${method} ${target.pathname}`,
      );
    }
    if (!BUCKET.test(bucket))
      return s3Error(400, 'InvalidBucketName', `The specified bucket is not valid: ${bucket}`);
    if (req.headers['content-encoding']?.includes('aws-chunked')) {
      return s3Error(501, 'NotImplemented', 'shlambda local takes a PutObject body whole, not aws-chunked');
    }
    const body = await readObject(req);
    if (body === undefined) {
      return s3Error(
        400,
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum allowed size (${MAX_OBJECT_BYTES} bytes here)`,
      );
    }
    const mismatch = checksumMismatch(req, body);
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

/** The body against what the SDK says it sent: the signed SHA-256, and the CRC32 it adds by default. */
function checksumMismatch(req: IncomingMessage, body: Buffer): { code: string; message: string } | undefined {
  const sha256 = req.headers['x-amz-content-sha256'];
  if (typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256)) {
    if (createHash('sha256').update(body).digest('hex') !== sha256) {
      return {
        code: 'XAmzContentSHA256Mismatch',
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
      };
    }
  }
  const crc32 = req.headers['x-amz-checksum-crc32'];
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
