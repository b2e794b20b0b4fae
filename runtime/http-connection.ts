/**
 * One kept-alive HTTP/1.1 connection on `node:net`, carrying one request at a time. The Runtime API
 * client uses it instead of `node:http`, whose loading and first request cost a cold start ~6 ms
 * (see the README's decisions log); AWS's own Node.js runtime client likewise takes `/next` through a
 * native client rather than `node:http`.
 */

import { connect, type Socket } from 'node:net';
import { type HttpAnswer, HttpProtocolError, HttpResponseParser } from './http-response-parser.ts';

/** A request got no complete answer: the connection failed, closed, or spoke something else. */
export class ConnectionFailure extends Error {
  override readonly name = 'ConnectionFailure';
  /** The system error code (`ECONNREFUSED`, `ECONNRESET`...), when there is one. */
  readonly code: string | undefined;
  /** True when not one byte of an answer arrived: the server may never have seen the request. */
  readonly beforeAnswer: boolean;

  constructor(cause: Error, beforeAnswer: boolean) {
    super(cause.message, { cause });
    this.code = (cause as NodeJS.ErrnoException).code;
    this.beforeAnswer = beforeAnswer;
  }
}

interface Pending {
  parser: HttpResponseParser;
  resolve: (answer: HttpAnswer) => void;
  reject: (error: ConnectionFailure) => void;
}

export class HttpConnection {
  readonly #socket: Socket;
  #open = true;
  #pending: Pending | undefined;
  #answered = 0;

  /** Starts connecting at once; a request made meanwhile is sent as soon as the connection is up. */
  constructor(host: string, port: number) {
    this.#socket = connect({ host, port });
    // Each request goes out in one write; Nagle's algorithm would only hold a small one back.
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#received(chunk));
    this.#socket.on('end', () => this.#ended());
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('close', () => this.#fail(new Error('the connection closed')));
  }

  /** Open, with no request in flight. */
  get idle(): boolean {
    return this.#open && !this.#pending;
  }

  /** How many requests it has carried to a complete answer. */
  get answered(): number {
    return this.#answered;
  }

  /**
   * Sends a request (its head and body written together) and resolves with the complete answer.
   * @throws ConnectionFailure (as a rejection) when no complete answer arrives.
   */
  request(head: Buffer, body: readonly Buffer[]): Promise<HttpAnswer> {
    if (!this.idle)
      return Promise.reject(new ConnectionFailure(new Error('the connection is busy or closed'), true));
    return new Promise((resolve, reject) => {
      this.#pending = { parser: new HttpResponseParser(), resolve, reject };
      this.#socket.cork();
      this.#socket.write(head);
      for (const chunk of body) this.#socket.write(chunk);
      this.#socket.uncork();
    });
  }

  close(): void {
    this.#open = false;
    this.#socket.destroy();
  }

  #received(chunk: Buffer): void {
    const pending = this.#pending;
    if (!pending) {
      this.#fail(new HttpProtocolError(`${chunk.length} bytes arrived with no request in flight`));
      return;
    }
    let answer: HttpAnswer | undefined;
    try {
      answer = pending.parser.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    if (answer) this.#settle(pending, answer);
  }

  /** The server closed its side: that completes a body read until the end, and fails anything else. */
  #ended(): void {
    const pending = this.#pending;
    if (!pending) {
      this.close();
      return;
    }
    try {
      this.#settle(pending, pending.parser.end());
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #settle(pending: Pending, answer: HttpAnswer): void {
    this.#pending = undefined;
    this.#answered++;
    if (!answer.keepAlive) this.close();
    pending.resolve(answer);
  }

  #fail(error: Error): void {
    this.close();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(new ConnectionFailure(error, !pending.parser.received));
  }
}
