/**
 * Body compression by Celery's names (spec §i.3). The `compression` header carries the
 * content type, not the name.
 *
 * Trap: Celery's `zlib` and `gzip` are the same codec. Both write a zlib stream (RFC 1950,
 * starts with 0x78) under the header `application/x-gzip`; this is not gzip (RFC 1952).
 * We also inflate real gzip data if a foreign producer sends it (magic 0x1f 0x8b).
 */
import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateSync,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import { DecodeError, EncodeError } from '../errors.js';

const GZIP = 'application/x-gzip';
const BROTLI = 'application/x-brotli';

/** Celery's compression names and aliases → the header (content type) Celery writes. */
const HEADER_BY_NAME: Readonly<Record<string, string>> = {
  zlib: GZIP,
  gzip: GZIP,
  brotli: BROTLI,
  bzip2: 'application/x-bz2',
  bzip: 'application/x-bz2',
  lzma: 'application/x-lzma',
  xz: 'application/x-lzma',
  zstd: 'application/zstd',
};

/** Codecs Celery has that Node 20's zlib module does not. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'application/x-bz2': 'bzip2',
  'application/x-lzma': 'lzma',
  'application/zstd': 'zstd',
};

const SUPPORTED_NAMES = "'zlib' (alias 'gzip') or 'brotli'";

function headerFor(nameOrType: string): string | undefined {
  const key = nameOrType.trim().toLowerCase();
  return HEADER_BY_NAME[key] ?? (Object.values(HEADER_BY_NAME).includes(key) ? key : undefined);
}

/**
 * Compresses a serialized body.
 * @param name Celery's name (`zlib`, `gzip`, `brotli`) or the content type itself.
 * @returns the compressed bytes and the value for the `compression` header.
 * @throws EncodeError for unknown names and for bzip2/lzma/zstd (not available on Node 20).
 */
export function compress(body: Buffer, name: string): { body: Buffer; header: string } {
  const header = headerFor(name);
  if (header === GZIP) return { body: deflateSync(body), header };
  if (header === BROTLI) return { body: brotliCompressSync(body), header };
  if (header !== undefined) {
    throw new EncodeError(
      `compression '${name}' (${UNSUPPORTED[header] ?? header}) is not supported on Node 20`,
      { hint: `use ${SUPPORTED_NAMES}; Python Celery reads both` },
    );
  }
  throw new EncodeError(`unknown compression '${name}'`, { hint: `use ${SUPPORTED_NAMES}` });
}

/**
 * Decompresses a body according to its `compression` header.
 * @throws DecodeError for corrupt data, unknown headers, and bzip2/lzma/zstd bodies.
 */
export function decompress(body: Buffer, header: string): Buffer {
  const type = headerFor(header);
  try {
    if (type === GZIP) {
      return body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : inflateSync(body);
    }
    if (type === BROTLI) return brotliDecompressSync(body);
  } catch (err) {
    throw new DecodeError(`cannot decompress ${header} body: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (type !== undefined) {
    throw new DecodeError(
      `message compressed with ${UNSUPPORTED[type] ?? type} (${header}), which celeriac cannot read on Node 20`,
      { hint: `make the producer use compression ${SUPPORTED_NAMES}, or none` },
    );
  }
  throw new DecodeError(`unknown compression '${header}'`, {
    hint: 'celeriac reads application/x-gzip (zlib) and application/x-brotli',
  });
}
