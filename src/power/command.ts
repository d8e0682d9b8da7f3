// `pxe-pilot nodes power <mac> status|on|off|cycle|reset`: asks the running daemon, which holds the
// credentials and drives the BMC; prints the state, or what went wrong, and exits 1 on a failure.
import { macArgument } from '../cli/arguments.ts';
import { AdminClient, resolveTarget } from '../cli/client.ts';
import { configFileOf, EXIT_FAILED, UsageError, type CommandContext } from '../cli/command.ts';
import { POWER_ACTIONS, type PowerAction } from './driver.ts';
import type { PowerResult } from './control.ts';

interface PowerValues {
  config?: string;
  url?: string;
  json: boolean;
  'network-boot': boolean;
}

export async function nodePower({ values, operands, out, err }: CommandContext<PowerValues>): Promise<number> {
  const mac = macArgument(operands[0]!);
  const action = operands[1]!;
  if (!(POWER_ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`the action must be one of ${POWER_ACTIONS.join(', ')}, not ${JSON.stringify(action)}`);
  if (values['network-boot'] && action === 'status') throw new UsageError('--network-boot goes with on, off, cycle or reset');
  const client = new AdminClient(resolveTarget({ url: values.url, config: configFileOf(values), configGiven: values.config !== undefined }));
  const result =
    action === 'status'
      ? await client.json<PowerResult>('GET', `/nodes/${mac}/power`)
      : await client.json<PowerResult>('POST', `/nodes/${mac}/power`, {
          action: action as PowerAction,
          ...(values['network-boot'] ? { networkBoot: true } : {}),
        });
  if (values.json) out.write(JSON.stringify(result, null, 2) + '\n');
  else if (result.ok) out.write(`${mac} (${result.bmc}): ${result.message}\n`);
  else err.write(`${mac} (${result.bmc}): ${result.error?.failure ?? 'failed'}: ${result.message}\n`);
  return result.ok ? 0 : EXIT_FAILED;
}
