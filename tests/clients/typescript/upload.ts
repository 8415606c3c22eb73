/**
 * A multi-chunk upload through the client that @hey-api/openapi-ts generates from tests/schema.yaml.
 *
 * Run by tests/test_generated_clients.py against a live server:
 *   BASE_URL=http://127.0.0.1:8000 TOKEN=... FILE=payload.bin CHUNK_SIZE=65536 node dist/upload.js
 * It creates an upload, appends, loses track of its progress (a stale chunk is refused with the
 * offset the server expects), asks the server where to resume, finishes, completes with the md5 and
 * prints the final upload as JSON on stdout. Any unexpected answer exits non-zero.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createClient } from "./generated/client";
import {
  type ChunkedUpload,
  uploadsAppend,
  uploadsComplete,
  uploadsCreate,
  uploadsRetrieve,
} from "./generated";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const client = createClient({
  baseUrl: env("BASE_URL"),
  headers: { Authorization: `Token ${env("TOKEN")}` },
});
const data = readFileSync(env("FILE"));
const chunkSize = Number(env("CHUNK_SIZE"));
const total = data.length;

function chunkAt(start: number): { file: Blob; range: string } {
  const end = Math.min(start + chunkSize, total);
  return {
    file: new Blob([data.subarray(start, end)]),
    range: `bytes ${start}-${end - 1}/${total}`,
  };
}

function expect<T>(value: T | undefined, what: string, response: Response): T {
  if (value === undefined) throw new Error(`${what}: unexpected HTTP ${response.status}`);
  return value;
}

async function append(id: string, start: number): Promise<ChunkedUpload> {
  const { file, range } = chunkAt(start);
  const result = await uploadsAppend({
    client,
    path: { id },
    headers: { "Content-Range": range },
    body: { file, filename: "payload.bin" },
  });
  return expect(result.data, `append at ${start}`, result.response);
}

async function main(): Promise<void> {
  const first = chunkAt(0);
  const created = await uploadsCreate({
    client,
    headers: { "Content-Range": first.range },
    body: { file: first.file, filename: "payload.bin" },
  });
  const upload = expect(created.data, "create", created.response);
  let offset = (await append(upload.id, upload.offset)).offset;

  // Simulated interruption: the client lost its progress and resends the first chunk.
  const stale = chunkAt(0);
  const refused = await uploadsAppend({
    client,
    path: { id: upload.id },
    headers: { "Content-Range": stale.range },
    body: { file: stale.file },
  });
  if (refused.response.status !== 400 || refused.error?.code !== "offset_mismatch") {
    throw new Error(`stale chunk: expected 400 offset_mismatch, got ${refused.response.status}`);
  }
  if (refused.error.expected_offset !== offset) {
    throw new Error(`stale chunk: expected_offset ${refused.error.expected_offset} != ${offset}`);
  }

  // Resume where the server says.
  const current = await uploadsRetrieve({ client, path: { id: upload.id } });
  offset = expect(current.data, "retrieve", current.response).offset;
  while (offset < total) {
    offset = (await append(upload.id, offset)).offset;
  }

  const md5 = createHash("md5").update(data).digest("hex");
  const completed = await uploadsComplete({ client, path: { id: upload.id }, body: { md5 } });
  const done = expect(completed.data, "complete", completed.response);
  process.stdout.write(JSON.stringify(done) + "\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
