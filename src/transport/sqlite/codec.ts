/** WireMessage ⇄ the columns of a stored message or broadcast. */
import { DecodeError } from '../../errors.js';
import type { WireMessage } from '../../protocol/types.js';

/** The stored form of a message's metadata. */
export interface EncodedMessage {
  contentType: string;
  contentEncoding: string;
  headers: string;
  properties: string;
  body: Buffer;
}

/** Serializes a message for storage (throws on headers JSON cannot hold, before any write). */
export function encodeMessage(message: WireMessage): EncodedMessage {
  return {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: JSON.stringify(message.headers),
    properties: JSON.stringify(message.properties),
    body: message.body,
  };
}

function parseObject(text: string, what: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError(`A stored message has malformed ${what}`, {
      hint: 'purge the queue; the row was not written by celeriac',
    });
  }
  return value as Record<string, unknown>;
}

/** Rebuilds a message from its stored columns. */
export function decodeMessage(row: {
  content_type: string;
  content_encoding: string;
  headers: string;
  properties: string;
  body: Buffer;
}): WireMessage {
  return {
    body: row.body,
    contentType: row.content_type,
    contentEncoding: row.content_encoding,
    headers: parseObject(row.headers, 'headers'),
    properties: parseObject(row.properties, 'properties'),
  };
}
