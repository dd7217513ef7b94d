/**
 * The few error classes a caller branches on. Each message says what went wrong in the
 * user's words; `hint` says what to do next. `cli/exit.ts` maps them to exit statuses.
 */
export class DrkitError extends Error {
  /** A stable code for `--json` output and for scripts. */
  readonly code: string = 'error'
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The plan, a command's arguments or the environment are wrong; nothing was changed. Exit 2. */
export class PlanError extends DrkitError {
  override readonly code = 'plan'
  constructor(
    message: string,
    hint?: string,
    readonly issues: string[] = [message],
    options?: ErrorOptions,
  ) {
    super(message, hint, options)
  }
}

/** Stored data does not match its hash, or cannot be decoded. Exit 1. */
export class IntegrityError extends DrkitError {
  override readonly code = 'integrity'
}

/** Another process holds a lock that this operation needs. Exit 1. */
export class LockedError extends DrkitError {
  override readonly code = 'locked'
}

/** Something that is asked for does not exist: a snapshot, a resource's data, the repository. Exit 1. */
export class NotFoundError extends DrkitError {
  override readonly code = 'not-found'
}

/** A restore or write was refused to protect existing data (for example an existing target without --force). Exit 1. */
export class RefusedError extends DrkitError {
  override readonly code = 'refused'
}

/** A point in time outside the recoverable window. Exit 1. */
export class OutsideWindowError extends DrkitError {
  override readonly code = 'outside-window'
}

/** A state that should never happen: a bug in drkit. */
export class InternalError extends DrkitError {
  override readonly code = 'internal'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'This is a bug in drkit: please report it with the command you ran and this message.', options)
  }
}
