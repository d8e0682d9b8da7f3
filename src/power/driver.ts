// What every power driver (IPMI, Redfish, Wake-on-LAN) offers, and how a failure is classified:
// the class decides what the operator reads and whether the poller tries again.

export const POWER_ACTIONS = ['status', 'on', 'off', 'cycle', 'reset'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];
export type PowerChange = Exclude<PowerAction, 'status'>;
export type PowerState = 'on' | 'off' | 'unknown';

/**
 * wrong-credentials: the BMC refused the user or password (not retried until the file changes);
 * unreachable: no answer within the timeout; no-credentials: no usable credentials file;
 * unsupported: the driver cannot do this (Wake-on-LAN cannot power off); refused: the BMC answered
 * with an error.
 */
export type PowerFailure = 'wrong-credentials' | 'unreachable' | 'no-credentials' | 'unsupported' | 'refused';

export class PowerError extends Error {
  constructor(
    readonly failure: PowerFailure,
    message: string,
  ) {
    super(message);
    this.name = 'PowerError';
  }
}

/** What the machine's firmware was when it last booted from us: decides the boot override's mode. */
export type BootFirmware = 'uefi' | 'bios' | null;

export interface PowerDriver {
  /** The BMC as shown to people (its URL, never its credentials). */
  readonly describe: string;
  status(signal: AbortSignal): Promise<PowerState>;
  change(action: PowerChange, signal: AbortSignal): Promise<void>;
  /** Sets the next boot (once) to the network; returns what was set, in words. */
  bootFromNetwork(firmware: BootFirmware, signal: AbortSignal): Promise<string>;
}
