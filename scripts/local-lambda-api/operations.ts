/** The Lambda control-plane actions (layers and functions) against the store, with Lambda's validation and JSON shapes. */

// Request and response shapes: https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html

import { functionArn, layerArn, layerVersionArn, type Place, parseLayerVersionArn } from './arns.ts';
import { conflict, invalidParameter, notFound, preconditionFailed } from './errors.ts';
import { isBucketName } from './s3-objects.ts';
import {
  codeSha256,
  type FunctionRecord,
  type LayerStatement,
  type LayerVersionRecord,
  lambdaTimestamp,
  newRevisionId,
  type Store,
} from './store.ts';

/** A JSON request body, already parsed. */
export type Json = Record<string, unknown>;

const ARCHITECTURES = ['x86_64', 'arm64'];
const RUNTIME =
  /^(provided(\.al2|\.al2023)?|nodejs\d+\.x|python3\.\d+|java\d+(\.al2)?|dotnet\d+|ruby\d\.\d+)$/;
const ROLE = /^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-/]+$/;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_LAYERS = 5;
/** Variables Lambda sets itself and refuses in `Environment.Variables` (the reserved ones of
 *  https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime;
 *  `LANG`, `PATH` and `LD_LIBRARY_PATH` are not; `TZ` is listed, but Lambda takes it, a common way to
 *  set a function's time zone). */
const RESERVED_VARIABLES: ReadonlySet<string> = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/** Where a stored zip can be downloaded from this API (the `Location` Lambda gives as a presigned S3 URL). */
export type LocationOf = (kind: 'layers' | 'functions', name: string, version?: number) => string;

/** The actions; each returns the JSON to answer or throws an ApiError. */
export class Operations {
  readonly #store: Store;
  readonly #place: Place;
  readonly #location: LocationOf;

  constructor(store: Store, place: Place, location: LocationOf) {
    this.#store = store;
    this.#place = place;
    this.#location = location;
  }

  // ---- layers ----

  publishLayerVersion(name: string, body: Json): Json {
    const content = object(body.Content, 'Content');
    const zip = zipFrom(content, 'Content', this.#store);
    const record = this.#store.publishLayer(name, zip, {
      Description: optionalString(body.Description, 'Description'),
      LicenseInfo: optionalString(body.LicenseInfo, 'LicenseInfo'),
      CompatibleRuntimes: optionalList(body.CompatibleRuntimes, 'CompatibleRuntimes', (runtime) => {
        if (!RUNTIME.test(runtime))
          throw invalidParameter(`Unknown runtime in CompatibleRuntimes: ${runtime}`);
      }),
      CompatibleArchitectures: optionalList(
        body.CompatibleArchitectures,
        'CompatibleArchitectures',
        (arch) => {
          if (!ARCHITECTURES.includes(arch)) {
            throw invalidParameter(
              `Unknown architecture in CompatibleArchitectures: ${arch} (x86_64 or arm64)`,
            );
          }
        },
      ),
    });
    return this.#layerVersion(record);
  }

  getLayerVersion(name: string, version: number): Json {
    return this.#layerVersion(this.#layer(name, version));
  }

  listLayerVersions(name: string, query: URLSearchParams): Json {
    const runtime = query.get('CompatibleRuntime');
    const arch = query.get('CompatibleArchitecture');
    const versions = this.#store
      .layerVersions(name)
      .map((version) => this.#layer(name, version))
      .filter(
        (record) => !runtime || !record.CompatibleRuntimes || record.CompatibleRuntimes.includes(runtime),
      )
      .filter(
        (record) => !arch || !record.CompatibleArchitectures || record.CompatibleArchitectures.includes(arch),
      )
      .map((record) => this.#layerVersionItem(record));
    return { LayerVersions: versions };
  }

  listLayers(): Json {
    const layers = [];
    for (const name of this.#store.layerNames()) {
      const latest = this.#store.layerVersions(name)[0];
      if (latest === undefined) continue;
      layers.push({
        LayerName: name,
        LayerArn: layerArn(this.#place, name),
        LatestMatchingVersion: this.#layerVersionItem(this.#layer(name, latest)),
      });
    }
    return { Layers: layers };
  }

  deleteLayerVersion(name: string, version: number): void {
    // Lambda answers 204 even when the version does not exist.
    this.#store.deleteLayer(name, version);
  }

  addLayerVersionPermission(name: string, version: number, body: Json, revisionId: string | null): Json {
    const record = this.#layer(name, version);
    if (revisionId && revisionId !== record.RevisionId) {
      throw preconditionFailed(
        `The RevisionId provided does not match the latest RevisionId for layer ${name}`,
      );
    }
    const sid = requiredString(body.StatementId, 'StatementId');
    if (!/^[a-zA-Z0-9_-]{1,100}$/.test(sid)) throw invalidParameter(`Invalid StatementId: ${sid}`);
    const action = requiredString(body.Action, 'Action');
    if (action !== 'lambda:GetLayerVersion' && action !== 'lambda:ListLayerVersions') {
      throw invalidParameter(
        `Action must be lambda:GetLayerVersion or lambda:ListLayerVersions, got ${action}`,
      );
    }
    const principal = requiredString(body.Principal, 'Principal');
    if (!/^(\d{12}|\*|arn:aws[a-zA-Z-]*:iam::\d{12}:root)$/.test(principal)) {
      throw invalidParameter(`Principal must be an account ID, an account root ARN or *, got ${principal}`);
    }
    const organizationId = optionalString(body.OrganizationId, 'OrganizationId');
    if (organizationId && principal !== '*') throw invalidParameter('OrganizationId requires Principal "*"');
    if (record.Statements.some((statement) => statement.Sid === sid)) {
      throw conflict(
        `The statement id (${sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
      );
    }
    const statement: LayerStatement = {
      Sid: sid,
      Effect: 'Allow',
      Principal:
        principal === '*'
          ? '*'
          : { AWS: /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal },
      Action: action,
      Resource: layerVersionArn(this.#place, name, version),
      ...(organizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': organizationId } } } : {}),
    };
    record.Statements.push(statement);
    record.RevisionId = newRevisionId();
    this.#store.saveLayer(record);
    return { Statement: JSON.stringify(statement), RevisionId: record.RevisionId };
  }

  getLayerVersionPolicy(name: string, version: number): Json {
    const record = this.#layer(name, version);
    if (record.Statements.length === 0) throw notFound('No policy is associated with the given resource.');
    return { Policy: policyDocument(record), RevisionId: record.RevisionId };
  }

  removeLayerVersionPermission(name: string, version: number, sid: string): void {
    const record = this.#layer(name, version);
    const kept = record.Statements.filter((statement) => statement.Sid !== sid);
    if (kept.length === record.Statements.length)
      throw notFound(`Statement ${sid} is not found in resource policy.`);
    record.Statements = kept;
    record.RevisionId = newRevisionId();
    this.#store.saveLayer(record);
  }

  #layer(name: string, version: number): LayerVersionRecord {
    const record = this.#store.getLayer(name, version);
    if (!record)
      throw notFound(`Layer version ${layerVersionArn(this.#place, name, version)} does not exist.`);
    return record;
  }

  #layerVersionItem(record: LayerVersionRecord): Json {
    return {
      LayerVersionArn: layerVersionArn(this.#place, record.LayerName, record.Version),
      Version: record.Version,
      Description: record.Description,
      CreatedDate: record.CreatedDate,
      CompatibleRuntimes: record.CompatibleRuntimes,
      CompatibleArchitectures: record.CompatibleArchitectures,
      LicenseInfo: record.LicenseInfo,
    };
  }

  #layerVersion(record: LayerVersionRecord): Json {
    return {
      Content: {
        Location: this.#location('layers', record.LayerName, record.Version),
        CodeSha256: record.CodeSha256,
        CodeSize: record.CodeSize,
      },
      LayerArn: layerArn(this.#place, record.LayerName),
      ...this.#layerVersionItem(record),
    };
  }

  // ---- functions ----

  createFunction(body: Json): Json {
    const name = requiredString(body.FunctionName, 'FunctionName');
    if (!FUNCTION_NAME.test(name)) {
      throw invalidParameter(`Invalid FunctionName ${name}: 1 to 64 letters, digits, hyphens or underscores`);
    }
    if (body.PackageType !== undefined && body.PackageType !== 'Zip') {
      throw invalidParameter('Only PackageType Zip is emulated by shlambda local (no container images)');
    }
    if (body.Runtime === undefined || body.Handler === undefined) {
      throw invalidParameter(
        'Runtime and Handler are mandatory parameters for functions created with deployment packages.',
      );
    }
    const code = zipFrom(object(body.Code, 'Code'), 'Code', this.#store);
    if (this.#store.functionExists(name)) throw conflict(`Function already exist: ${name}`);
    const architectures = architecturesOf(body.Architectures) ?? ['x86_64'];
    const record: FunctionRecord = {
      FunctionName: name,
      Runtime: runtimeOf(body.Runtime),
      Role: roleOf(body.Role),
      Handler: handlerOf(body.Handler),
      Description: optionalString(body.Description, 'Description') ?? '',
      Timeout: timeoutOf(body.Timeout) ?? 3,
      MemorySize: memoryOf(body.MemorySize) ?? 128,
      Architectures: architectures,
      Variables: variablesOf(body.Environment),
      Layers: [],
      CodeSha256: codeSha256(code),
      CodeSize: code.length,
      LastModified: lambdaTimestamp(),
      RevisionId: newRevisionId(),
    };
    const layers = this.#resolveLayers(body.Layers ?? []);
    record.Layers = layers.map((layer) => ({ Arn: layer.arn, CodeSize: layer.record.CodeSize }));
    this.#store.saveFunction(record, code, layers);
    return this.configuration(record);
  }

  getFunction(name: string): Json {
    const record = this.function(name);
    return {
      Configuration: this.configuration(record),
      Code: { RepositoryType: 'S3', Location: this.#location('functions', name) },
    };
  }

  getFunctionConfiguration(name: string): Json {
    return this.configuration(this.function(name));
  }

  listFunctions(log: (line: string) => void): Json {
    const functions = [];
    for (const name of this.#store.functionNames()) {
      try {
        const record = this.#store.getFunction(name);
        if (record) functions.push(this.configuration(record));
      } catch (error) {
        // One unreadable function must not hide the others.
        log((error as Error).message);
      }
    }
    return { Functions: functions };
  }

  updateFunctionCode(name: string, body: Json): Json {
    const record = this.function(name);
    checkRevision(record, body.RevisionId);
    const code = zipFrom(body, 'the request', this.#store);
    const architectures = architecturesOf(body.Architectures);
    if (architectures) record.Architectures = architectures;
    record.CodeSha256 = codeSha256(code);
    record.CodeSize = code.length;
    if (body.DryRun === true) return this.configuration(record);
    touch(record);
    this.#store.saveFunction(record, code);
    return this.configuration(record);
  }

  updateFunctionConfiguration(name: string, body: Json): Json {
    const record = this.function(name);
    checkRevision(record, body.RevisionId);
    if (body.Runtime !== undefined) record.Runtime = runtimeOf(body.Runtime);
    if (body.Handler !== undefined) record.Handler = handlerOf(body.Handler);
    if (body.Role !== undefined) record.Role = roleOf(body.Role);
    if (body.Description !== undefined)
      record.Description = optionalString(body.Description, 'Description') ?? '';
    record.Timeout = timeoutOf(body.Timeout) ?? record.Timeout;
    record.MemorySize = memoryOf(body.MemorySize) ?? record.MemorySize;
    if (body.Environment !== undefined) record.Variables = variablesOf(body.Environment);
    let layers: { name: string; version: number }[] | undefined;
    if (body.Layers !== undefined) {
      const resolved = this.#resolveLayers(body.Layers);
      record.Layers = resolved.map((layer) => ({ Arn: layer.arn, CodeSize: layer.record.CodeSize }));
      layers = resolved;
    }
    touch(record);
    this.#store.saveFunction(record, undefined, layers);
    return this.configuration(record);
  }

  deleteFunction(name: string): void {
    if (!this.#store.functionExists(name))
      throw notFound(`Function not found: ${functionArn(this.#place, name)}`);
    this.#store.deleteFunction(name);
  }

  /** The stored function, or ResourceNotFoundException. */
  function(name: string): FunctionRecord {
    const record = this.#store.getFunction(name);
    if (!record) throw notFound(`Function not found: ${functionArn(this.#place, name)}`);
    return record;
  }

  /** The FunctionConfiguration Lambda returns. State is Active at once: there is nothing to provision. */
  configuration(record: FunctionRecord): Json {
    return {
      FunctionName: record.FunctionName,
      FunctionArn: functionArn(this.#place, record.FunctionName),
      Runtime: record.Runtime,
      Role: record.Role,
      Handler: record.Handler,
      CodeSize: record.CodeSize,
      Description: record.Description,
      Timeout: record.Timeout,
      MemorySize: record.MemorySize,
      LastModified: record.LastModified,
      CodeSha256: record.CodeSha256,
      Version: '$LATEST',
      ...(record.Variables ? { Environment: { Variables: record.Variables } } : {}),
      TracingConfig: { Mode: 'PassThrough' },
      RevisionId: record.RevisionId,
      ...(record.Layers.length > 0 ? { Layers: record.Layers } : {}),
      State: 'Active',
      LastUpdateStatus: 'Successful',
      PackageType: 'Zip',
      Architectures: record.Architectures,
      EphemeralStorage: { Size: 512 },
      SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
      LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${record.FunctionName}` },
    };
  }

  /**
   * Checks each ARN (format, region, existence) and names the first bad one. Not the architecture: a
   * layer's CompatibleArchitectures only filters ListLayers, and Lambda attaches a layer of either to
   * a function of either (what fails is running its binaries, as it does here).
   */
  #resolveLayers(
    value: unknown,
  ): { name: string; version: number; arn: string; record: LayerVersionRecord }[] {
    if (!Array.isArray(value)) throw invalidParameter('Layers must be a list of layer version ARNs');
    if (value.length > MAX_LAYERS)
      throw invalidParameter(`A function can have at most ${MAX_LAYERS} layers, got ${value.length}`);
    const resolved = [];
    for (const arn of value) {
      const { name, version } = parseLayerVersionArn(this.#place, arn);
      const record = this.#store.getLayer(name, version);
      if (!record) throw notFound(`Layer version ${arn} does not exist.`);
      resolved.push({ name, version, arn: String(arn), record });
    }
    const names = new Set(resolved.map((layer) => layer.name));
    if (names.size !== resolved.length)
      throw invalidParameter('Two versions of the same layer cannot be attached to one function.');
    return resolved;
  }
}

function policyDocument(record: LayerVersionRecord): string {
  return JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: record.Statements });
}

function touch(record: FunctionRecord): void {
  record.LastModified = lambdaTimestamp();
  record.RevisionId = newRevisionId();
}

function checkRevision(record: FunctionRecord, revisionId: unknown): void {
  if (revisionId !== undefined && revisionId !== record.RevisionId) {
    throw preconditionFailed(
      `The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id`,
    );
  }
}

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidParameter(`${field} is required`);
  return value as Json;
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalidParameter(`${field} is required`);
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`${field} must be a string`);
  return value;
}

function optionalList(value: unknown, field: string, check: (item: string) => void): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidParameter(`${field} must be a list of strings`);
  }
  for (const item of value) check(item);
  return value.length > 0 ? value : undefined;
}

/** The zip of a `ZipFile` (base64 in JSON), or of an `S3Bucket`/`S3Key` put into this API's own S3
 *  (s3-objects.ts); images are not emulated. */
function zipFrom(content: Json, field: string, store: Store): Buffer {
  if (content.ImageUri !== undefined)
    throw invalidParameter('Container images are not emulated by shlambda local');
  let zip: Buffer;
  if (content.S3Bucket !== undefined || content.S3Key !== undefined) {
    const bucket = requiredString(content.S3Bucket, `S3Bucket in ${field}`);
    const key = requiredString(content.S3Key, `S3Key in ${field}`);
    if (!isBucketName(bucket))
      throw invalidParameter(`S3Bucket in ${field}: '${bucket}' is not a bucket name`);
    const found = store.getObject(bucket, key);
    if (typeof found === 'string') {
      // Lambda's own words for an object it cannot read.
      throw invalidParameter(
        found === 'bucket'
          ? `Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist (shlambda local: upload the zip to s3://${bucket}/ through this endpoint first)`
          : 'Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.',
      );
    }
    zip = found;
  } else {
    zip = Buffer.from(requiredString(content.ZipFile, `ZipFile in ${field}`), 'base64');
  }
  const magic = zip.subarray(0, 4).toString('latin1');
  if (magic !== 'PK\x03\x04' && magic !== 'PK\x05\x06') {
    throw invalidParameter(
      'Could not unzip uploaded file. Please check your file, then try to upload again.',
    );
  }
  return zip;
}

function runtimeOf(value: unknown): string {
  const runtime = requiredString(value, 'Runtime');
  if (!RUNTIME.test(runtime)) {
    throw invalidParameter(
      `Value ${runtime} at 'runtime' failed to satisfy constraint: the runtime is not supported or invalid`,
    );
  }
  return runtime;
}

function roleOf(value: unknown): string {
  const role = typeof value === 'string' ? value : '';
  if (!ROLE.test(role)) {
    throw invalidParameter(
      `Role ${JSON.stringify(value ?? null)} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); any such ARN works locally, e.g. arn:aws:iam::000000000000:role/lambda-role`,
    );
  }
  return role;
}

function handlerOf(value: unknown): string {
  const handler = requiredString(value, 'Handler');
  if (handler.length > 128 || /\s/.test(handler)) throw invalidParameter(`Invalid Handler: ${handler}`);
  return handler;
}

function timeoutOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 900) {
    throw invalidParameter(`Timeout must be a whole number of seconds from 1 to 900, got ${String(value)}`);
  }
  return value as number;
}

function memoryOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 128 || (value as number) > 10240) {
    throw invalidParameter(`MemorySize must be a whole number of MB from 128 to 10240, got ${String(value)}`);
  }
  return value as number;
}

function architecturesOf(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length !== 1 || !ARCHITECTURES.includes(value[0])) {
    throw invalidParameter(
      `Architectures must be exactly one of x86_64 or arm64, got ${JSON.stringify(value)}`,
    );
  }
  return [value[0] as string];
}

function variablesOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const variables = object(value, 'Environment').Variables;
  if (variables === undefined || variables === null) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(object(variables, 'Environment.Variables'))) {
    if (!/^[a-zA-Z]\w*$/.test(key)) throw invalidParameter(`Invalid environment variable name: ${key}`);
    if (typeof v !== 'string') throw invalidParameter(`Environment variable ${key} must be a string`);
    out[key] = v;
  }
  const reserved = Object.keys(out).filter((key) => RESERVED_VARIABLES.has(key));
  if (reserved.length > 0) {
    throw invalidParameter(
      `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    );
  }
  if (Buffer.byteLength(JSON.stringify(out)) > 4096) {
    throw invalidParameter(
      'Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.',
    );
  }
  return out;
}
