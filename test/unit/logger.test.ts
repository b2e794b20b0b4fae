/** Unit tests for the function's log: line formats, level filtering, and splitting a handler's stderr into lines. */

import { describe, expect, it } from 'vitest';
import type { LogLevel } from '../../runtime/config.ts';
import { createLogger, LineSplitter } from '../../runtime/logger.ts';

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_LINE_BYTES = 64 * 1024;

/** A logger whose output is kept in memory, as whole lines. */
function capture(format: 'Text' | 'JSON', level: LogLevel = 'INFO') {
  let text = '';
  const logger = createLogger(format, level, (chunk) => {
    text += chunk;
  });
  return {
    logger,
    /** Every line written so far; each write must end with a newline. */
    lines: () => {
      expect(text === '' || text.endsWith('\n')).toBe(true);
      return text === '' ? [] : text.slice(0, -1).split('\n');
    },
  };
}

describe('createLogger: Text format', () => {
  it('writes each handler line as timestamp, request id and the line, tab-separated', () => {
    const { logger, lines } = capture('Text');
    logger.handlerLines('8476a536-e9f4-11e8-9739-2dfe598c3fcd', ['first line', 'second\tline with a tab']);
    const written = lines();
    expect(written).toHaveLength(2);
    const [timestamp, requestId, ...rest] = written[0]?.split('\t') ?? [];
    expect(timestamp).toMatch(ISO_TIMESTAMP);
    expect(requestId).toBe('8476a536-e9f4-11e8-9739-2dfe598c3fcd');
    expect(rest.join('\t')).toBe('first line');
    expect(written[1]?.split('\t').slice(2).join('\t')).toBe('second\tline with a tab');
  });

  it('writes runtime messages with their level, and - when there is no request id', () => {
    const { logger, lines } = capture('Text');
    logger.log('WARN', 'Lambda rejected the response', 'req-1');
    logger.log('ERROR', 'Runtime API failure');
    const [withId, withoutId] = lines().map((line) => line.split('\t'));
    expect(withId?.slice(1)).toEqual(['req-1', 'WARN', 'Lambda rejected the response']);
    expect(withoutId?.slice(1)).toEqual(['-', 'ERROR', 'Runtime API failure']);
  });

  it('writes nothing for no handler lines', () => {
    const { logger, lines } = capture('Text');
    logger.handlerLines('req-1', []);
    expect(lines()).toEqual([]);
  });
});

describe('createLogger: JSON format', () => {
  it('writes each handler line as one parseable JSON object with timestamp, level, requestId and message', () => {
    const { logger, lines } = capture('JSON');
    const messages = [
      'plain',
      'with "quotes", a \\ backslash and a\ttab',
      'ünïcödé €',
      '{not json}',
      '["an array"]',
    ];
    logger.handlerLines('req-42', messages);
    const records = lines().map((line) => JSON.parse(line));
    expect(records.map((record) => record.message)).toEqual(messages);
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual(['level', 'message', 'requestId', 'timestamp']);
      expect(record.timestamp).toMatch(ISO_TIMESTAMP);
      expect(record.level).toBe('INFO');
      expect(record.requestId).toBe('req-42');
    }
  });

  it('passes a handler line that is a JSON object on as written, adding timestamp and requestId', () => {
    const { logger, lines } = capture('JSON');
    logger.handlerLines('req-42', [
      '{"level":"ERROR","msg":"structured","big":12345678901234567890}',
      '  {"timestamp":"2024-11-02T16:51:31.587Z","requestId":"own","level":"debug"}',
      '{}',
    ]);
    const [first, second, third] = lines();
    expect(first).toMatch(
      /^\{"timestamp":"[^"]+","requestId":"req-42","level":"ERROR","msg":"structured","big":12345678901234567890\}$/,
    );
    expect(JSON.parse(first ?? '').timestamp).toMatch(ISO_TIMESTAMP);
    expect(second).toBe('{"timestamp":"2024-11-02T16:51:31.587Z","requestId":"own","level":"debug"}');
    expect(Object.keys(JSON.parse(third ?? ''))).toEqual(['timestamp', 'requestId']);
  });

  it('puts its own timestamp on a JSON line whose timestamp Lambda could not read, keeping the one written', () => {
    const { logger, lines } = capture('JSON');
    logger.handlerLines('req-42', [
      '{"level":"ERROR","timestamp":1730566291,"msg":"epoch seconds"}',
      '{"level":"ERROR","timestamp":"yesterday"}',
      '{"level":"WARN","timestamp":"2024-11-02T16:51:31.587199+01:00"}',
    ]);
    const [first, second, third] = lines().map((line) => JSON.parse(line));
    expect(first).toEqual({
      timestamp: expect.stringMatching(ISO_TIMESTAMP),
      requestId: 'req-42',
      level: 'ERROR',
      msg: 'epoch seconds',
      writtenTimestamp: 1730566291,
    });
    expect(second.writtenTimestamp).toBe('yesterday');
    expect(second.timestamp).toMatch(ISO_TIMESTAMP);
    expect(third).toEqual({
      timestamp: '2024-11-02T16:51:31.587199+01:00',
      requestId: 'req-42',
      level: 'WARN',
    });
  });

  it('writes runtime messages with their own level', () => {
    const { logger, lines } = capture('JSON');
    logger.log('ERROR', 'Invoke Error', 'req-7');
    logger.log('FATAL', 'exiting');
    const [first, second] = lines().map((line) => JSON.parse(line));
    expect(first).toMatchObject({ level: 'ERROR', requestId: 'req-7', message: 'Invoke Error' });
    expect(first.timestamp).toMatch(ISO_TIMESTAMP);
    expect(second).toMatchObject({ level: 'FATAL', message: 'exiting' });
  });
});

describe('createLogger: level filtering', () => {
  it.each([
    ['INFO', 'DEBUG', false],
    ['INFO', 'TRACE', false],
    ['INFO', 'INFO', true],
    ['INFO', 'WARN', true],
    ['INFO', 'FATAL', true],
    ['TRACE', 'TRACE', true],
    ['DEBUG', 'TRACE', false],
    ['DEBUG', 'DEBUG', true],
    ['WARN', 'INFO', false],
    ['ERROR', 'WARN', false],
    ['ERROR', 'ERROR', true],
    ['FATAL', 'ERROR', false],
    ['FATAL', 'FATAL', true],
  ] as const)('at level %s, a %s runtime message is written: %s', (configured, level, written) => {
    for (const format of ['Text', 'JSON'] as const) {
      const { logger, lines } = capture(format, configured);
      logger.log(level, 'runtime message', 'req-1');
      expect(lines()).toHaveLength(written ? 1 : 0);
    }
  });

  it.each(['Text', 'JSON'] as const)('never filters handler lines (%s), even at FATAL', (format) => {
    const { logger, lines } = capture(format, 'FATAL');
    logger.handlerLines('req-1', ['debug output from the handler']);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toContain('debug output from the handler');
  });
});

/** Feeds chunks to a fresh splitter; returns every line it gave back, flush included. */
function split(chunks: (string | Buffer)[], splitter = new LineSplitter()): string[] {
  const lines: string[] = [];
  for (const chunk of chunks)
    lines.push(...splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  lines.push(...splitter.flush());
  return lines;
}

describe('LineSplitter', () => {
  it.each([
    ['one chunk, several lines', ['a\nb\nc\n'], ['a', 'b', 'c']],
    ['a line across chunks', ['hel', 'lo\nwor', 'ld\n'], ['hello', 'world']],
    ['a newline alone in a chunk', ['hello', '\n', 'world', '\n'], ['hello', 'world']],
    ['empty lines kept', ['a\n\nb\n'], ['a', '', 'b']],
    ['CRLF endings', ['a\r\nb\r\n'], ['a', 'b']],
    ['CR and LF in different chunks', ['a\r', '\nb\r\n'], ['a', 'b']],
    ['a CR inside a line kept', ['a\rb\n'], ['a\rb']],
    ['an unterminated last line', ['a\nlast'], ['a', 'last']],
    ['an unterminated last line with a CR', ['a\r\nlast\r'], ['a', 'last']],
  ])('splits %s', (_, chunks, expected) => {
    expect(split(chunks)).toEqual(expected);
  });

  it.each([
    ['2-byte é', 'café'],
    ['3-byte €', 'price: 5 €'],
    ['4-byte emoji', 'done 🎉'],
  ])('decodes a %s split across chunks at every byte', (_, text) => {
    const bytes = Buffer.from(`${text}\n`);
    // Every byte in its own chunk splits each multi-byte character at every possible point.
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    expect(split(chunks)).toEqual([text]);
  });

  it('returns complete lines as soon as they arrive, and keeps the rest for later', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(Buffer.from('first\nsec'))).toEqual(['first']);
    expect(splitter.push(Buffer.from('ond'))).toEqual([]);
    expect(splitter.flush()).toEqual(['second']);
    expect(splitter.flush()).toEqual([]);
  });

  describe('lines longer than 64 KiB', () => {
    const ascii = 'x'.repeat(200_000);
    const euro = '€'.repeat(30_000); // 90,000 bytes; 64 KiB falls inside a character
    /** Pipe-sized chunks, as a child's stderr delivers them. */
    const pipeChunks = (text: string) => {
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += MAX_LINE_BYTES)
        chunks.push(bytes.subarray(at, at + MAX_LINE_BYTES));
      return chunks;
    };

    it.each([
      ['ASCII, unterminated, in one chunk', ascii, [ascii]],
      ['ASCII, unterminated, in 1000-byte chunks', ascii, ascii.match(/.{1,1000}/g) ?? []],
      ['ASCII, terminated, in one chunk', ascii, [`${ascii}\n`]],
      ['ASCII, terminated, in pipe-sized chunks', ascii, pipeChunks(`${ascii}\n`)],
      ['3-byte characters, unterminated', euro, [euro]],
      ['3-byte characters, terminated, in pipe-sized chunks', euro, pipeChunks(`${euro}\n`)],
    ])('are split into pieces of at most 64 KiB that join back to the line: %s', (_, line, chunks) => {
      const pieces = split(chunks);
      expect(pieces.length).toBeGreaterThan(1);
      for (const piece of pieces) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(MAX_LINE_BYTES);
      expect(pieces.join('')).toBe(line);
    });
  });

  describe('tail', () => {
    it('keeps only the last 20 lines, oldest first, the flushed remainder included', () => {
      const splitter = new LineSplitter();
      const all = Array.from({ length: 25 }, (_, i) => `line ${i + 1}`);
      splitter.push(Buffer.from(`${all.slice(0, 24).join('\n')}\n`));
      splitter.push(Buffer.from(all[24] ?? ''));
      splitter.flush();
      expect(splitter.tail()).toEqual(all.slice(5));
    });

    it('holds every line while there are fewer than 20', () => {
      const splitter = new LineSplitter();
      split(['Traceback (most recent call last):\n', '  File "app.py", line 3\nValueError: bad\n'], splitter);
      expect(splitter.tail()).toEqual([
        'Traceback (most recent call last):',
        '  File "app.py", line 3',
        'ValueError: bad',
      ]);
    });

    it('keeps as many lines as it was asked to', () => {
      const splitter = new LineSplitter(2);
      split(['a\nb\nc\n'], splitter);
      expect(splitter.tail()).toEqual(['b', 'c']);
    });

    it('shortens a very long line to its first 1000 characters', () => {
      const splitter = new LineSplitter();
      split([`${'y'.repeat(5000)}\n`], splitter);
      expect(splitter.tail()).toEqual([`${'y'.repeat(1000)}...`]);
    });

    it('returns a copy that later lines do not change', () => {
      const splitter = new LineSplitter();
      splitter.push(Buffer.from('a\n'));
      const tail = splitter.tail();
      splitter.push(Buffer.from('b\n'));
      expect(tail).toEqual(['a']);
    });
  });
});
