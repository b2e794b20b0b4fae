/**
 * Parses one HTTP/1.1 response as its bytes arrive, in whatever pieces TCP delivers them: the status
 * line, the headers, then a body delimited by Content-Length, by chunked transfer coding, or by the
 * end of the connection (RFC 9112 section 6.3). It is what the Runtime API client needs, and no more.
 */

/** A complete response. Header names are lower case; a repeated header keeps its first value. */
export interface HttpAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** Whether the connection may carry another request. */
  keepAlive: boolean;
}

/** The bytes are not an HTTP response we can read; the connection is no longer usable. */
export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
}

/** Status line and headers together; Lambda's longest (a client context) is under 4 KB. */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line with extensions; anything longer is not HTTP. */
const MAX_CHUNK_LINE_BYTES = 4096;

type BodyMode =
  | { kind: 'length'; remaining: number }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; remaining: number }
  | { kind: 'until-close' };

export class HttpResponseParser {
  #head: Buffer = Buffer.alloc(0);
  #status = 0;
  #headers = new Map<string, string>();
  #keepAlive = true;
  #body: Buffer[] = [];
  #mode: BodyMode | undefined;
  /** Bytes of a line (chunk size or trailer) that arrived without its end. */
  #line: Buffer = Buffer.alloc(0);
  #answer: HttpAnswer | undefined;
  #received = false;

  /** Whether any byte of the response has arrived: before that, the server may not have seen the request. */
  get received(): boolean {
    return this.#received;
  }

  /**
   * Takes the next bytes of the connection. Returns the answer once it is complete.
   * @throws HttpProtocolError on bytes that are not a response, or on bytes after a complete one.
   */
  push(chunk: Buffer): HttpAnswer | undefined {
    if (chunk.length === 0) return this.#answer;
    if (this.#answer) {
      throw new HttpProtocolError(`${chunk.length} unexpected bytes after a complete response`);
    }
    this.#received = true;
    let rest: Buffer | undefined = chunk;
    while (rest && rest.length > 0 && !this.#answer) {
      rest = this.#mode ? this.#readBody(rest) : this.#readHead(rest);
    }
    if (rest && rest.length > 0) {
      throw new HttpProtocolError(`${rest.length} unexpected bytes after a complete response`);
    }
    return this.#answer;
  }

  /**
   * The connection ended. Returns the answer if the end completes it (a body read until close).
   * @throws HttpProtocolError when the response is incomplete.
   */
  end(): HttpAnswer {
    if (this.#answer) return this.#answer;
    if (this.#mode?.kind === 'until-close') return this.#finish();
    throw new HttpProtocolError(
      this.#mode
        ? 'the connection closed in the middle of a response body'
        : 'the connection closed before a response',
    );
  }

  #readHead(chunk: Buffer): Buffer | undefined {
    const searchFrom = Math.max(0, this.#head.length - 3);
    this.#head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
    const end = headEnd(this.#head, searchFrom);
    if (end === undefined) {
      if (this.#head.length > MAX_HEAD_BYTES) {
        throw new HttpProtocolError(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
      }
      return undefined;
    }
    const rest = this.#head.subarray(end.bodyStart);
    const lines = this.#head.toString('latin1', 0, end.headEnd).split(/\r?\n/);
    this.#head = Buffer.alloc(0);
    this.#parseHead(lines);
    return rest;
  }

  #parseHead(lines: string[]): void {
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!statusLine) throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0])}`);
    const status = Number(statusLine[2]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) {
        throw new HttpProtocolError(`not a header line: ${JSON.stringify(line)}`);
      }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const earlier = headers.get(name);
      if (name === 'content-length' && earlier !== undefined && earlier !== value) {
        throw new HttpProtocolError(`conflicting Content-Length headers: ${earlier} and ${value}`);
      }
      if (earlier === undefined) headers.set(name, value);
    }
    // 1xx answers are interim: the real answer follows on the same connection.
    if (status >= 100 && status < 200) return;

    const connection = (headers.get('connection') ?? '').toLowerCase();
    this.#keepAlive =
      statusLine[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    this.#status = status;
    this.#headers = headers;
    const transferEncoding = headers.get('transfer-encoding');
    const contentLength = headers.get('content-length');
    if (status === 204 || status === 304) {
      this.#mode = { kind: 'length', remaining: 0 };
    } else if (transferEncoding !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        throw new HttpProtocolError(`unsupported Transfer-Encoding: ${transferEncoding}`);
      }
      this.#mode = { kind: 'chunked', state: 'size', remaining: 0 };
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) {
        throw new HttpProtocolError(`not a Content-Length: ${JSON.stringify(contentLength)}`);
      }
      this.#mode = { kind: 'length', remaining: Number(contentLength) };
    } else {
      this.#mode = { kind: 'until-close' };
      this.#keepAlive = false;
    }
    if (this.#mode.kind === 'length' && this.#mode.remaining === 0) this.#finish();
  }

  #readBody(chunk: Buffer): Buffer | undefined {
    const mode = this.#mode as BodyMode;
    if (mode.kind === 'until-close') {
      this.#body.push(chunk);
      return undefined;
    }
    if (mode.kind === 'length') {
      const take = Math.min(mode.remaining, chunk.length);
      this.#body.push(chunk.subarray(0, take));
      mode.remaining -= take;
      if (mode.remaining === 0) this.#finish();
      return chunk.subarray(take);
    }
    if (mode.state === 'data') {
      const take = Math.min(mode.remaining, chunk.length);
      this.#body.push(chunk.subarray(0, take));
      mode.remaining -= take;
      if (mode.remaining === 0) mode.state = 'data-end';
      return chunk.subarray(take);
    }
    // The other states read a line: the chunk size, the CRLF after a chunk's data, or a trailer.
    const newline = chunk.indexOf(0x0a);
    if (newline < 0) {
      this.#line = Buffer.concat([this.#line, chunk]);
      if (this.#line.length > MAX_CHUNK_LINE_BYTES) {
        throw new HttpProtocolError('a chunk-size line is too long');
      }
      return undefined;
    }
    const line = Buffer.concat([this.#line, chunk.subarray(0, newline)])
      .toString('latin1')
      .replace(/\r$/, '');
    this.#line = Buffer.alloc(0);
    const rest = chunk.subarray(newline + 1);
    if (mode.state === 'data-end') {
      if (line !== '') throw new HttpProtocolError('chunk data longer than its size');
      mode.state = 'size';
    } else if (mode.state === 'size') {
      const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line)?.[1];
      if (size === undefined) throw new HttpProtocolError(`not a chunk size: ${JSON.stringify(line)}`);
      mode.remaining = Number.parseInt(size, 16);
      mode.state = mode.remaining === 0 ? 'trailer' : 'data';
    } else if (line === '') {
      // The empty line after the trailers (usually none) ends the body.
      this.#finish();
    }
    return rest;
  }

  #finish(): HttpAnswer {
    this.#answer = {
      status: this.#status,
      headers: this.#headers,
      body: this.#body.length === 1 ? (this.#body[0] as Buffer) : Buffer.concat(this.#body),
      keepAlive: this.#keepAlive,
    };
    return this.#answer;
  }
}

/** Where the blank line after the headers is (CRLF CRLF, or bare LFs), searching from `from`. */
function headEnd(head: Buffer, from: number): { headEnd: number; bodyStart: number } | undefined {
  for (let i = head.indexOf(0x0a, from); i >= 0; i = head.indexOf(0x0a, i + 1)) {
    if (head[i + 1] === 0x0a) return { headEnd: i > 0 && head[i - 1] === 0x0d ? i - 1 : i, bodyStart: i + 2 };
    if (head[i + 1] === 0x0d && head[i + 2] === 0x0a) {
      return { headEnd: i > 0 && head[i - 1] === 0x0d ? i - 1 : i, bodyStart: i + 3 };
    }
  }
  return undefined;
}
