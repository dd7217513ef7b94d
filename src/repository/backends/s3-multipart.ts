import { createHash } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { InternalError } from '../../errors.js'

export const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('base64')

/** S3 takes at most 10,000 parts of at least 5 MiB (but the last). */
const maxParts = 10_000
const minPartSize = 5 * 1024 * 1024
const partsInFlight = 4

export interface MultipartRequest {
  client: S3Client
  bucket: string
  key: string
  body: Uint8Array
  partSize: number
  /** '*' makes completion fail with 412 when the key exists (a conditional write). */
  ifNoneMatch?: string
  signal?: AbortSignal
}

/**
 * Uploads body in parts, a few at a time, each with its Content-MD5, then completes the upload: the
 * object appears whole at completion or not at all. On failure the upload is aborted (best effort;
 * a bucket lifecycle rule for incomplete uploads removes what an abort could not).
 */
export async function putMultipart(req: MultipartRequest): Promise<void> {
  const { client, bucket, key, body, signal } = req
  const partSize = Math.max(req.partSize, minPartSize, Math.ceil(body.length / maxParts))
  const opts = { abortSignal: signal }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), opts)
  if (!UploadId) throw new InternalError(`the S3 store gave no upload id for ${key}`)
  try {
    const count = Math.ceil(body.length / partSize)
    const parts: CompletedPart[] = new Array(count)
    let next = 0
    let failed = false
    const worker = async () => {
      for (let i = next++; i < count && !failed; i = next++) {
        const part = body.subarray(i * partSize, Math.min((i + 1) * partSize, body.length))
        const command = new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          Body: part,
          ContentLength: part.length,
          ContentMD5: md5(part),
        })
        const { ETag } = await client.send(command, opts).catch((err: unknown) => {
          failed = true
          throw err
        })
        parts[i] = { PartNumber: i + 1, ETag }
      }
    }
    // Settled, not all: the abort below must come after the last part in flight, or that part would outlive it.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(partsInFlight, count) }, worker))
    const rejected = settled.find((s) => s.status === 'rejected')
    if (rejected) throw rejected.reason
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
        ...(req.ifNoneMatch && { IfNoneMatch: req.ifNoneMatch }),
      }),
      opts,
    )
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined)
    throw err
  }
}
