/**
 * Chunkers: cut a byte stream into the pieces the repository stores and deduplicates, either
 * content-defined (FastCDC, for files and dumps) or fixed-size pages (for database files).
 */
export { type CdcParams, chunkStream, defaultCdcParams } from './cdc.js'
export { chunkPages } from './page.js'
