/** Keeps layer versions and functions in the data dir: zips as files, metadata as JSON written atomically. */

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StorageError } from './errors.ts';

/** One statement of a layer version's resource policy. */
export interface LayerStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: string | { AWS: string };
  Action: string;
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

/** What is stored about one layer version (the zip is next to it). */
export interface LayerVersionRecord {
  LayerName: string;
  Version: number;
  Description?: string;
  LicenseInfo?: string;
  CompatibleRuntimes?: string[];
  CompatibleArchitectures?: string[];
  CreatedDate: string;
  CodeSha256: string;
  CodeSize: number;
  RevisionId: string;
  Statements: LayerStatement[];
}

/** A function's attached layer as stored: its ARN and the zip's size. */
export interface FunctionLayer {
  Arn: string;
  CodeSize: number;
}

/** What is stored about one function: the fields of its FunctionConfiguration that are not derived. */
export interface FunctionRecord {
  FunctionName: string;
  Runtime?: string;
  Role: string;
  Handler?: string;
  Description: string;
  Timeout: number;
  MemorySize: number;
  Architectures: string[];
  Variables?: Record<string, string>;
  Layers: FunctionLayer[];
  CodeSha256: string;
  CodeSize: number;
  LastModified: string;
  RevisionId: string;
}

/** Sha256 of some bytes, base64, as Lambda reports `CodeSha256`. */
export function codeSha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

/** Lambda's timestamp format: `2018-11-14T23:03:52.894+0000`. */
export function lambdaTimestamp(date = new Date()): string {
  return date.toISOString().replace('Z', '+0000');
}

/** A new random revision id (Lambda uses UUIDs). */
export function newRevisionId(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Writes a file so that readers see the old content or the new, never half of it. */
function writeAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, data);
  fs.renameSync(temp, file);
}

function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StorageError(file, code === 'ENOENT' ? `is missing (the ${what})` : `cannot be read: ${code}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as T;
  } catch (error) {
    throw new StorageError(file, `is corrupt (the ${what} is not valid JSON: ${(error as Error).message})`);
  }
}

/** The data dir's layout and every read and write of it; synchronous so that each request sees a consistent state. */
export class Store {
  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = path.resolve(dataDir);
    fs.mkdirSync(path.join(this.dataDir, 'layers'), { recursive: true });
    fs.mkdirSync(path.join(this.dataDir, 'functions'), { recursive: true });
  }

  // ---- layers ----

  layerDir(name: string): string {
    return path.join(this.dataDir, 'layers', name);
  }

  layerZipPath(name: string, version: number): string {
    return path.join(this.layerDir(name), `${version}.zip`);
  }

  layerMetaPath(name: string, version: number): string {
    return path.join(this.layerDir(name), `${version}.json`);
  }

  /** Stores a new version of a layer and returns its record; version numbers are never reused, as on Lambda. */
  publishLayer(
    name: string,
    zip: Buffer,
    fields: Pick<
      LayerVersionRecord,
      'Description' | 'LicenseInfo' | 'CompatibleRuntimes' | 'CompatibleArchitectures'
    >,
  ): LayerVersionRecord {
    const counter = path.join(this.layerDir(name), 'latest-version');
    let latest = 0;
    if (fs.existsSync(counter)) {
      latest = Number.parseInt(fs.readFileSync(counter, 'utf8'), 10);
      if (!Number.isSafeInteger(latest) || latest < 0)
        throw new StorageError(counter, 'is corrupt (not a number)');
    }
    const version = latest + 1;
    writeAtomic(this.layerZipPath(name, version), zip);
    const record: LayerVersionRecord = {
      LayerName: name,
      Version: version,
      ...fields,
      CreatedDate: lambdaTimestamp(),
      CodeSha256: codeSha256(zip),
      CodeSize: zip.length,
      RevisionId: newRevisionId(),
      Statements: [],
    };
    writeAtomic(this.layerMetaPath(name, version), JSON.stringify(record, null, 2));
    writeAtomic(counter, String(version));
    return record;
  }

  /** The record of a layer version, undefined when it does not exist; throws StorageError when unreadable. */
  getLayer(name: string, version: number): LayerVersionRecord | undefined {
    const meta = this.layerMetaPath(name, version);
    if (!fs.existsSync(meta)) return undefined;
    return readJson<LayerVersionRecord>(meta, `metadata of layer ${name} version ${version}`);
  }

  saveLayer(record: LayerVersionRecord): void {
    writeAtomic(this.layerMetaPath(record.LayerName, record.Version), JSON.stringify(record, null, 2));
  }

  /** Version numbers of a layer that have metadata, highest first. */
  layerVersions(name: string): number[] {
    return safeReaddir(this.layerDir(name))
      .map((file) => /^(\d+)\.json$/.exec(file)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
  }

  layerNames(): string[] {
    return safeReaddir(path.join(this.dataDir, 'layers')).sort();
  }

  /** Removes a layer version; functions keep their own link to its zip. */
  deleteLayer(name: string, version: number): void {
    fs.rmSync(this.layerMetaPath(name, version), { force: true });
    fs.rmSync(this.layerZipPath(name, version), { force: true });
  }

  // ---- functions ----

  functionDir(name: string): string {
    return path.join(this.dataDir, 'functions', name);
  }

  functionMetaPath(name: string): string {
    return path.join(this.functionDir(name), 'function.json');
  }

  functionCodePath(name: string): string {
    return path.join(this.functionDir(name), 'code.zip');
  }

  /**
   * The function's own hard link to an attached layer's zip, so that deleting the layer version does not
   * break the function (Lambda keeps a copy for functions that use it).
   */
  functionLayerPath(name: string, layerName: string, version: number): string {
    return path.join(this.functionDir(name), 'layers', `${layerName}-${version}.zip`);
  }

  functionExists(name: string): boolean {
    return fs.existsSync(this.functionDir(name));
  }

  /** The record of a function, undefined when it does not exist; throws StorageError when unreadable. */
  getFunction(name: string): FunctionRecord | undefined {
    if (!this.functionExists(name)) return undefined;
    return readJson<FunctionRecord>(this.functionMetaPath(name), `metadata of function ${name}`);
  }

  /** Writes the code zip (when given), links the attached layers' zips, then the metadata. */
  saveFunction(
    record: FunctionRecord,
    code?: Buffer,
    layers?: readonly { name: string; version: number }[],
  ): void {
    const name = record.FunctionName;
    if (code) writeAtomic(this.functionCodePath(name), code);
    if (layers) {
      const wanted = new Set<string>();
      for (const layer of layers) {
        const link = this.functionLayerPath(name, layer.name, layer.version);
        wanted.add(path.basename(link));
        if (fs.existsSync(link)) continue;
        fs.mkdirSync(path.dirname(link), { recursive: true });
        const source = this.layerZipPath(layer.name, layer.version);
        try {
          fs.linkSync(source, link);
        } catch {
          fs.copyFileSync(source, link);
        }
      }
      for (const file of safeReaddir(path.join(this.functionDir(name), 'layers'))) {
        if (!wanted.has(file)) fs.rmSync(path.join(this.functionDir(name), 'layers', file), { force: true });
      }
    }
    writeAtomic(this.functionMetaPath(name), JSON.stringify(record, null, 2));
  }

  deleteFunction(name: string): void {
    fs.rmSync(this.functionDir(name), { recursive: true, force: true });
  }

  functionNames(): string[] {
    return safeReaddir(path.join(this.dataDir, 'functions')).sort();
  }

  // ---- S3 objects (PutObject uploads, read back as a zip's S3Bucket/S3Key) ----

  /** One file per object, named by its key's hash: keys hold slashes and any other character. */
  objectPath(bucket: string, key: string): string {
    return path.join(this.dataDir, 's3', bucket, createHash('sha256').update(key).digest('hex'));
  }

  putObject(bucket: string, key: string, data: Buffer): void {
    writeAtomic(this.objectPath(bucket, key), data);
  }

  /** The object's bytes; `bucket` when no object was ever put into that bucket, `key` when not that key. */
  getObject(bucket: string, key: string): Buffer | 'bucket' | 'key' {
    try {
      return fs.readFileSync(this.objectPath(bucket, key));
    } catch {
      return fs.existsSync(path.join(this.dataDir, 's3', bucket)) ? 'key' : 'bucket';
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((name) => !name.endsWith('.tmp'));
  } catch {
    return [];
  }
}
