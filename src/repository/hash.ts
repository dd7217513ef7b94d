/** SHA-256 of the bytes, as 64 lowercase hex digits: the name of every chunk, pack and file. */
export { sha256 } from './frames.js'
