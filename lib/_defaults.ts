/**
 * Every default of the library, in one place, each with its unit: times in
 * seconds, sizes in bytes. Options that leave a value out get these.
 *
 * @module
 */

/** A write buffer's high-water mark (asyncio's): 64 KiB. */
export const HIGH_WATER = 64 * 1024;

/** The buffer limit of a stream reader (asyncio's `limit`): 64 KiB. */
export const STREAM_LIMIT = 64 * 1024;

/** Seconds a server gives a TLS handshake or a PROXY header. */
export const SERVER_HANDSHAKE_TIMEOUT = 10;

/** Seconds a client gives a TLS handshake (asyncio's `ssl_handshake_timeout`). */
export const CLIENT_HANDSHAKE_TIMEOUT = 60;

/**
 * Seconds between connection attempts to a name's addresses (RFC 8305's
 * Connection Attempt Delay, asyncio's `happy_eyeballs_delay`).
 */
export const HAPPY_EYEBALLS_DELAY = 0.25;

/** Seconds a server waits after an accept error a retry cannot cure (EMFILE). */
export const ACCEPT_BACKOFF = 0.1;

/** The most bytes one read of a connection asks for. */
export const READ_SIZE = 128 * 1024;

/**
 * The fewest bytes one read asks for, and what a new connection starts
 * with: an idle connection holds one read buffer this small.
 */
export const MIN_READ_SIZE = 256;

/** Queued chunks are joined into one socket write up to this many bytes. */
export const COALESCE_LIMIT = 256 * 1024;

/** The most bytes one read of a TLS server's TCP connection takes. */
export const TLS_READ_SIZE = 64 * 1024;

/** The fewest a TLS server's TCP read asks for (an idle connection's). */
export const TLS_MIN_READ_SIZE = 2 * 1024;

/**
 * Decrypted bytes waiting to be read past which a TLS server stops reading
 * its TCP connection.
 */
export const TLS_PLAINTEXT_HIGH_WATER = 64 * 1024;

/** Seconds a TLS close waits for its close_notify to be written. */
export const CLOSE_NOTIFY_WAIT = 1;

/** The longest line a `LineReceiver` accepts (its `maxLength`). */
export const LINE_MAX_LENGTH = 16384;

/**
 * The longest message a `LengthPrefixedReceiver` accepts (its `maxLength`,
 * as Twisted's).
 */
export const MESSAGE_MAX_LENGTH = 99999;

/**
 * The largest block small kept chunks are copied into, back to back (a
 * protocol that keeps its chunks, or parses and drops them without
 * releasing them): each is new memory, so a large one spreads the cost of
 * allocating it over many chunks.
 */
export const SLAB_SIZE = 64 * 1024;

/**
 * The largest slab while the protocol releases its chunks: its memory is
 * read into again, and a small one keeps the memory a connection cycles
 * through small enough to stay in the CPU's cache.
 */
export const RELEASED_SLAB_SIZE = 8 * 1024;

/**
 * While chunks are kept, a read of at least this many bytes is copied into
 * memory of its own, exactly its size (`slice()`); smaller ones are copied
 * into a slab, one after another (a large read would otherwise get a zeroed
 * slab of its own).
 */
export const COPY_ALONE_SIZE = 4 * 1024;

/**
 * The largest read while chunks are kept: each is copied into new memory,
 * and the C library gives an allocation from 128 KiB up fresh pages
 * (`mmap`), each a page fault on first touch (bench/NOTES.md has the
 * counts).
 */
export const KEPT_READ_SIZE = 64 * 1024;

/** Seconds before a reconnecting client's first retry (Twisted's). */
export const RETRY_INITIAL_DELAY = 1;

/** What each failed attempt in a row multiplies a client's retry delay by. */
export const RETRY_FACTOR = 1.6;

/** The longest a reconnecting client waits between attempts: an hour. */
export const RETRY_MAX_DELAY = 3600;

/** How far each retry delay is spread at random: +-20 %. */
export const RETRY_JITTER = 0.2;
