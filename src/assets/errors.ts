// The one error type of `pxe-pilot assets`: a message for the person at the terminal and an exit code.

/** 2: the input is wrong and the message says how to fix it; 1: anything else. */
export type AssetExitCode = 1 | 2;

export class AssetError extends Error {
  constructor(
    message: string,
    readonly exitCode: AssetExitCode = 2,
  ) {
    super(message);
    this.name = 'AssetError';
  }
}

/** The input is at fault; the message says what to do. */
export function badInput(message: string): AssetError {
  return new AssetError(message, 2);
}
