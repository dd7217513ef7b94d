import type { KeyInfo } from '../repository/index.js'
import type { OpsContext } from './context.js'

/**
 * The keys of an encrypted repository: each wraps the one master key with one password,
 * so passwords are added, removed and changed without re-encrypting any data. The context
 * opens the repository with the current password; these ops never see it.
 */
export async function listKeys(ctx: OpsContext): Promise<KeyInfo[]> {
  return (await ctx.repository()).listKeys()
}

/** Adds a key for `password`; returns its id. */
export async function addKey(ctx: OpsContext, password: string): Promise<{ id: string }> {
  return { id: await (await ctx.repository()).addKey(password) }
}

/** Removes a key by id or unique prefix; the last key and the key in use are refused. */
export async function removeKey(ctx: OpsContext, idOrPrefix: string): Promise<{ id: string }> {
  return { id: await (await ctx.repository()).removeKey(idOrPrefix) }
}

/** Changes the password in use: a key for `password` is added, then the current key removed. */
export async function changePassword(ctx: OpsContext, password: string): Promise<{ added: string; removed: string }> {
  return (await ctx.repository()).changePassword(password)
}
