/** The upload progress of publish and deploy: the SDK's request goes out whole while progress is reported. */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient, PublishLayerVersionCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProgressHttpHandler } from '../../scripts/upload-progress.ts';

let server: http.Server;
const received: { contentLength: number; bodyLength: number; zipFile: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        contentLength: Number(req.headers['content-length']),
        bodyLength: body.length,
        zipFile: JSON.parse(body.toString()).Content.ZipFile,
      });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ LayerVersionArn: 'arn:aws:lambda:us-east-1:000000000000:layer:x:1', Version: 1 }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function client(handler: ProgressHttpHandler): LambdaClient {
  return new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
    requestHandler: handler,
  });
}

it('reports bytes sent up to the whole body, and the body arrives intact', async () => {
  const zip = Buffer.alloc(3 * 1024 * 1024, 7);
  const handler = new ProgressHttpHandler();
  const reports: [number, number][] = [];
  handler.listener = (sent, total) => reports.push([sent, total]);
  const answer = await client(handler).send(
    new PublishLayerVersionCommand({ LayerName: 'x', Content: { ZipFile: zip } }),
  );
  expect(answer.Version).toBe(1);

  const last = received.at(-1);
  expect(last?.bodyLength).toBe(last?.contentLength);
  expect(Buffer.from(last?.zipFile ?? '', 'base64').equals(zip)).toBe(true);
  // Several steps, never going back, ending at the size of what was sent.
  expect(reports.length).toBeGreaterThan(4);
  for (let i = 1; i < reports.length; i++) expect(reports[i]?.[0]).toBeGreaterThan(reports[i - 1]?.[0] ?? 0);
  expect(reports.at(-1)).toEqual([last?.bodyLength, last?.bodyLength]);
});

it('sends as usual when nobody listens', async () => {
  const zip = Buffer.alloc(1024 * 1024, 1);
  const answer = await client(new ProgressHttpHandler()).send(
    new PublishLayerVersionCommand({ LayerName: 'x', Content: { ZipFile: zip } }),
  );
  expect(answer.Version).toBe(1);
  expect(Buffer.from(received.at(-1)?.zipFile ?? '', 'base64').equals(zip)).toBe(true);
});
