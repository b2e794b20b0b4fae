/** Serves the Lambda control-plane REST API on 127.0.0.1 (layers, functions, Invoke) and runs invoked functions for real. */

// REST paths as @aws-sdk/client-lambda and the AWS CLI send them:
// https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MAX_SYNC_EVENT_BYTES } from '../local-runtime-api.ts';
import type { SandboxChoice } from '../sandbox.ts';
import {
  functionArn,
  type Place,
  parseFunctionId,
  parseLayerName,
  parseLayerVersionArn,
  parseVersionNumber,
} from './arns.ts';
import {
  ApiError,
  invalidParameter,
  StorageError,
  serviceError,
  tooLarge,
  unknownOperation,
} from './errors.ts';
import { FunctionRunner, type FunctionSpec } from './function-runner.ts';
import { type Json, Operations } from './operations.ts';
import { isS3Request, serveS3 } from './s3-objects.ts';
import { signatureScope } from './signature-scope.ts';
import { Store } from './store.ts';

export interface LocalLambdaApiOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default 9000. */
  port?: number;
  /** Where layers and functions are kept across restarts. */
  dataDir: string;
  /** Region in every ARN, default `us-east-1`. */
  region?: string;
  /** Account in every ARN, default `000000000000`. */
  accountId?: string;
  /** How invoked functions are isolated (see `scripts/sandbox.ts`), default `auto`. */
  sandbox?: SandboxChoice;
  /** Receives one line per request, per failure and per line a function logs. */
  log?: (line: string) => void;
}

export interface LocalLambdaApi {
  /** `http://127.0.0.1:PORT`, the value for `--endpoint-url` / the SDK's `endpoint`. */
  readonly url: string;
  /** Stops listening and stops every function's environment. */
  close(): Promise<void>;
}

/** Largest control-plane request body: Lambda's limit for a CreateFunction with a 50 MB zip in base64. */
const MAX_REQUEST_BYTES = 69_905_067;
/** Largest event of an asynchronous (`Event`) invocation. */
const MAX_ASYNC_EVENT_BYTES = 1_048_576;

interface Reply {
  status: number;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

/**
 * Starts the local Lambda API. Any SigV4 credentials are accepted and signatures are not checked.
 * Resolves once it accepts connections.
 */
export async function startLocalLambdaApi(options: LocalLambdaApiOptions): Promise<LocalLambdaApi> {
  const log = options.log ?? (() => undefined);
  const place: Place = {
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '000000000000',
  };
  pinRegion(options.dataDir, place.region);
  const store = new Store(options.dataDir);
  const runner = new FunctionRunner(options.sandbox ?? 'auto', log);
  const background = new Set<Promise<unknown>>();
  let url = '';
  const operations = new Operations(store, place, (kind, name, version) =>
    kind === 'layers'
      ? `${url}/_shlambda/layers/${name}/${version}.zip`
      : `${url}/_shlambda/functions/${name}/code.zip`,
  );
  const context: Context = { store, operations, runner, place, log, background };

  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
    handle(context, req, res).catch((error: unknown) => {
      // handle() answers every error itself; this is only a last resort so nothing can crash the server.
      log(`shlambda local: unexpected failure: ${(error as Error).stack ?? error}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9000, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.allSettled([...background]);
        await runner.close();
        await closed;
      })();
      return closing;
    },
  };
}

interface Context {
  store: Store;
  operations: Operations;
  runner: FunctionRunner;
  place: Place;
  log: (line: string) => void;
  background: Set<Promise<unknown>>;
}

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const method = req.method ?? 'GET';
  const target = new URL(req.url ?? '/', 'http://localhost');
  let reply: Reply;
  try {
    // The same endpoint serves S3 for the SDK's S3 client (AWS_ENDPOINT_URL): it signs for s3.
    if (isS3Request(req)) reply = await serveS3(context.store, method, req);
    else {
      checkSignedRegion(context.place.region, req);
      reply = await route(context, method, target, req);
    }
  } catch (error) {
    reply = errorReply(context, error, `${method} ${target.pathname}`);
    // Whatever the caller still sends is read and dropped, so it sees our answer rather than a reset.
    req.resume();
  }
  const body = reply.body ?? '';
  res.writeHead(reply.status, {
    'x-amzn-RequestId': requestId,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...reply.headers,
  });
  res.end(body);
  context.log(
    `${method} ${target.pathname} -> ${reply.status}${reply.headers?.['x-amzn-ErrorType'] ? ` ${reply.headers['x-amzn-ErrorType']}` : ''}`,
  );
}

/**
 * Ties a data directory that holds layers or functions to the region they were made in: they hold
 * ARNs of that region. One made before the region was recorded served us-east-1 (then the only one).
 */
function pinRegion(dataDir: string, region: string): void {
  const file = path.join(dataDir, 'region');
  const used = ['layers', 'functions'].some((dir) => {
    try {
      return fs.readdirSync(path.join(dataDir, dir)).length > 0;
    } catch {
      return false;
    }
  });
  let pinned: string | undefined;
  try {
    pinned = fs.readFileSync(file, 'utf8').trim();
  } catch {
    pinned = 'us-east-1';
  }
  // An empty directory holds no ARNs: it serves whichever region it is started for.
  if (used && pinned !== region) {
    throw new Error(
      `the data directory ${dataDir} holds the layers and functions of ${pinned}: serve ${region} from another one (--data DIR), or serve ${pinned} (--region ${pinned})`,
    );
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${region}\n`);
}

/**
 * Refuses a request signed for another region, as a regional Lambda endpoint does: served here, it
 * would make ARNs of this API's region that the caller then takes for its own.
 */
function checkSignedRegion(region: string, req: IncomingMessage): void {
  const scope = signatureScope(req);
  if (scope?.service !== 'lambda' || scope.region === region) return;
  const signed = scope.region;
  throw new ApiError(
    403,
    'InvalidSignatureException',
    `Credential should be scoped to a valid region. This local Lambda API serves ${region} and the request was signed for ${signed}: start it with 'shlambda local serve --region ${signed}', or use --region ${region}`,
  );
}

function errorReply(context: Context, error: unknown, what: string): Reply {
  let apiError: ApiError;
  if (error instanceof ApiError) apiError = error;
  else if (error instanceof StorageError) {
    context.log(`${what}: ${error.message}`);
    apiError = serviceError(error.message);
  } else {
    context.log(`${what}: ${(error as Error).stack ?? String(error)}`);
    apiError = serviceError(`shlambda local: ${(error as Error).message ?? String(error)}`);
  }
  return {
    status: apiError.status,
    body: apiError.body(),
    headers: { 'x-amzn-ErrorType': apiError.errorType },
  };
}

const json = (status: number, value: Json): Reply => ({ status, body: JSON.stringify(value) });
const NO_CONTENT: Reply = { status: 204 };

async function route(context: Context, method: string, target: URL, req: IncomingMessage): Promise<Reply> {
  const { operations, place } = context;
  const segments = target.pathname.split('/').slice(1).map(decodeSegment);
  const [base, collection, id, sub, subId, leaf, leafId] = segments;
  const query = target.searchParams;
  const fn = (): string => parseFunctionId(place, id ?? '', query.get('Qualifier') ?? undefined);

  if (base === '2018-10-31' && collection === 'layers') {
    if (id === undefined || id === '') {
      if (method !== 'GET') throw unknownOperation(method, target.pathname);
      if (query.get('find') === 'LayerVersion') return getLayerVersionByArn(context, query.get('Arn') ?? '');
      return json(200, operations.listLayers());
    }
    const layer = parseLayerName(place, id);
    if (sub === 'versions' && subId === undefined) {
      if (method === 'POST') return json(201, operations.publishLayerVersion(layer, await readJson(req)));
      if (method === 'GET') return json(200, operations.listLayerVersions(layer, query));
    }
    if (sub === 'versions' && subId !== undefined) {
      const version = parseVersionNumber(subId);
      if (leaf === undefined) {
        if (method === 'GET') return json(200, operations.getLayerVersion(layer, version));
        if (method === 'DELETE') {
          operations.deleteLayerVersion(layer, version);
          return NO_CONTENT;
        }
      }
      if (leaf === 'policy' && leafId === undefined) {
        if (method === 'POST') {
          const body = await readJson(req);
          return json(
            201,
            operations.addLayerVersionPermission(layer, version, body, query.get('RevisionId')),
          );
        }
        if (method === 'GET') return json(200, operations.getLayerVersionPolicy(layer, version));
      }
      if (leaf === 'policy' && leafId !== undefined && method === 'DELETE') {
        operations.removeLayerVersionPermission(layer, version, leafId);
        return NO_CONTENT;
      }
    }
  }

  if (base === '2015-03-31' && collection === 'functions') {
    if (id === undefined || id === '') {
      if (method === 'POST') return json(201, operations.createFunction(await readJson(req)));
      if (method === 'GET') return json(200, operations.listFunctions(context.log));
    } else if (sub === undefined) {
      if (method === 'GET') return json(200, operations.getFunction(fn()));
      if (method === 'DELETE') {
        const name = fn();
        operations.deleteFunction(name);
        await context.runner.retire(name);
        return NO_CONTENT;
      }
    } else if (subId === undefined) {
      if (sub === 'configuration' && method === 'GET')
        return json(200, operations.getFunctionConfiguration(fn()));
      if (sub === 'configuration' && method === 'PUT') {
        const name = fn();
        const answer = operations.updateFunctionConfiguration(name, await readJson(req));
        void context.runner.retire(name);
        return json(200, answer);
      }
      if (sub === 'code' && method === 'PUT') {
        const name = fn();
        const body = await readJson(req);
        const answer = operations.updateFunctionCode(name, body);
        if (body.DryRun !== true) void context.runner.retire(name);
        return json(200, answer);
      }
      if (sub === 'invocations' && method === 'POST') return invoke(context, fn(), req);
    }
  }

  if (base === '_shlambda' && method === 'GET') return download(context, segments.slice(1));
  throw unknownOperation(method, target.pathname);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidParameter(`Malformed path segment: ${segment}`);
  }
}

function getLayerVersionByArn(context: Context, arn: string): Reply {
  const match = /^(arn:[^:]+:lambda:[^:]+:\d{12}:layer:[^:]+):(\d+)$/.exec(arn);
  if (!match) throw invalidParameter(`Invalid layer version ARN: ${arn}`);
  const name = parseLayerName(context.place, match[1] ?? '');
  return json(200, context.operations.getLayerVersion(name, parseVersionNumber(match[2] ?? '')));
}

/** Serves a stored zip at the `Location` given by GetFunction and GetLayerVersion. */
function download(context: Context, parts: string[]): Reply {
  const [kind, name = '', file = ''] = parts;
  let zip: string | undefined;
  if (kind === 'layers' && /^\d+\.zip$/.test(file)) {
    const layer = parseLayerName(context.place, name);
    context.operations.getLayerVersion(layer, Number(file.slice(0, -4)));
    zip = context.store.layerZipPath(layer, Number(file.slice(0, -4)));
  } else if (kind === 'functions' && file === 'code.zip') {
    const fnName = parseFunctionId(context.place, name);
    context.operations.function(fnName);
    zip = context.store.functionCodePath(fnName);
  }
  if (!zip) throw unknownOperation('GET', `/_shlambda/${parts.join('/')}`);
  try {
    return { status: 200, body: fs.readFileSync(zip), headers: { 'Content-Type': 'application/zip' } };
  } catch (error) {
    throw new StorageError(zip, `cannot be read: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/** Invoke: RequestResponse, Event (202, run in the background) or DryRun (204). */
async function invoke(context: Context, name: string, req: IncomingMessage): Promise<Reply> {
  const type = headerOf(req, 'x-amz-invocation-type') ?? 'RequestResponse';
  if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
    throw invalidParameter(`Invalid InvocationType: ${type} (RequestResponse, Event or DryRun)`);
  }
  // Lambda's own words for each (the Event one as AWS SDK users quote it: "264496 byte payload is too
  // large for the Event invocation type (limit 262144 bytes)", from before the limit became 1 MB).
  const event =
    type === 'Event'
      ? await readBody(req, MAX_ASYNC_EVENT_BYTES, (size) =>
          tooLarge(
            `${size} byte payload is too large for the Event invocation type (limit ${MAX_ASYNC_EVENT_BYTES} bytes)`,
          ),
        )
      : await readBody(req, MAX_SYNC_EVENT_BYTES - 1, () =>
          tooLarge(
            `Request must be smaller than ${MAX_SYNC_EVENT_BYTES} bytes for the InvokeFunction operation`,
          ),
        );
  const record = context.operations.function(name);
  const spec: FunctionSpec = {
    name,
    arn: functionArn(context.place, name),
    region: context.place.region,
    revisionId: record.RevisionId,
    handler: record.Handler ?? '',
    timeoutSeconds: record.Timeout,
    memoryMb: record.MemorySize,
    env: record.Variables ?? {},
    codeZip: context.store.functionCodePath(name),
    layerZips: record.Layers.map((layer) => {
      // Checked against this region when the function was saved.
      const { name: layerName, version } = parseLayerVersionArn(context.place, layer.Arn);
      return context.store.functionLayerPath(name, layerName, version);
    }),
  };
  const headers = { 'X-Amz-Executed-Version': '$LATEST' };
  if (type === 'DryRun') return { status: 204, headers };
  const clientContext = decodeClientContext(headerOf(req, 'x-amz-client-context'));
  const payload = event.length > 0 ? event : Buffer.from('{}');
  // Lambda takes any JSON value as a payload, and nothing else.
  try {
    JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new ApiError(
      400,
      'InvalidRequestContentException',
      `Could not parse request body into json: ${(error as Error).message}`,
    );
  }

  if (type === 'Event') {
    // "Lambda passes the ClientContext object to your function for synchronous invocations only"
    // (the Invoke API reference).
    const run = context.runner
      .invoke(spec, payload, undefined)
      .then((result) => {
        if (result.functionError)
          context.log(`${name}: asynchronous invocation ${result.requestId} failed: ${result.payload}`);
      })
      .catch((error: unknown) =>
        context.log(`${name}: asynchronous invocation failed: ${(error as Error).message}`),
      )
      .finally(() => context.background.delete(run));
    context.background.add(run);
    return { status: 202, headers };
  }

  const result = await context.runner.invoke(spec, payload, clientContext);
  if (result.functionError)
    context.log(`${name}: invocation ${result.requestId} failed: ${result.payload.toString().slice(0, 500)}`);
  return {
    status: 200,
    body: result.payload,
    headers: {
      ...headers,
      'x-amzn-RequestId': result.requestId,
      ...(result.functionError ? { 'X-Amz-Function-Error': result.functionError } : {}),
      ...(headerOf(req, 'x-amz-log-type') === 'Tail' ? { 'X-Amz-Log-Result': result.log } : {}),
    },
  };
}

/** `X-Amz-Client-Context` is base64 of JSON; the runtime gets the JSON. */
function decodeClientContext(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const text = Buffer.from(value, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw invalidParameter('Client context must be a valid Base64-encoded JSON object.');
  }
  return text;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the whole body; over `limit` bytes the rest is read and dropped and `tooBig()` is thrown. */
async function readBody(
  req: IncomingMessage,
  limit: number,
  tooBig: (size: number) => ApiError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw tooBig(size);
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const body = await readBody(req, MAX_REQUEST_BYTES, () =>
    tooLarge(`Request must be smaller than ${MAX_REQUEST_BYTES} bytes for this operation`),
  );
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'SerializationException', 'The request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'SerializationException', 'The request body must be a JSON object');
  }
  return value as Json;
}
