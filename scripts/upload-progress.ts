/** Reports how much of a large request body (a zip going to Lambda or S3) has been sent, as it is sent. */

import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Called as the body is written: bytes sent so far, and the body's size. */
export type UploadListener = (sentBytes: number, totalBytes: number) => void;

type HandleArgs = Parameters<NodeHttpHandler['handle']>;

/** Bodies smaller than this are sent as they are: nothing worth reporting. */
const MIN_REPORTED_BYTES = 256 * 1024;
const CHUNK_BYTES = 256 * 1024;

/**
 * The SDK's Node.js HTTP handler, except that while `listener` is set, a large string or byte body is
 * sent as a stream of chunks that reports its progress. The SDK signs the body before the handler
 * runs and sets Content-Length, so streaming it changes nothing on the wire. The SDK's own request is
 * left untouched (a copy is sent), so a retry sends the whole body again.
 */
export class ProgressHttpHandler extends NodeHttpHandler {
  listener: UploadListener | undefined;

  override handle(request: HandleArgs[0], options?: HandleArgs[1]): ReturnType<NodeHttpHandler['handle']> {
    const listener = this.listener;
    const body: unknown = request.body;
    const bytes =
      typeof body === 'string'
        ? Buffer.from(body)
        : body instanceof Uint8Array
          ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          : undefined;
    if (!listener || !bytes || bytes.length < MIN_REPORTED_BYTES) return super.handle(request, options);
    const copy = Object.assign(Object.create(Object.getPrototypeOf(request)), request, {
      body: Readable.from(chunksOf(bytes, listener), { objectMode: false }),
    });
    return super.handle(copy, options);
  }
}

function* chunksOf(bytes: Buffer, listener: UploadListener): Generator<Buffer> {
  for (let sent = 0; sent < bytes.length; ) {
    const chunk = bytes.subarray(sent, sent + CHUNK_BYTES);
    yield chunk;
    // The generator is pulled as the socket drains, so this counts what has gone out, less one chunk.
    sent += chunk.length;
    listener(sent, bytes.length);
  }
}
