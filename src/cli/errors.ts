/** A bad flag or option, named in the message with what it allows; the CLI prints it and exits with status 2. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly code = 'SCALESIGNAL_BAD_FLAG';

  constructor(
    /** The CLI flag at fault, e.g. `--path`. */
    readonly flag: string,
    detail: string,
  ) {
    super(`${flag} ${detail}`);
  }
}
