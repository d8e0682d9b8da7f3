// What the command line asks for, decided without loading the subcommands themselves: cli.ts
// imports each subcommand's module only when it runs, so the daemon never holds their code.

export const STORE_USAGE = `  pxe-pilot store migrate [--config FILE]   apply pending state migrations, print the schema version
  pxe-pilot store copy --from sqlite:PATH --to postgresql:URL [--appliance NAME]
                                            copy an appliance's SQLite history into an empty PostgreSQL`;

/** The arguments after `assets` when the command line is `[--config F] assets …`, else null. */
export function assetsArgv(argv: string[]): string[] | null {
  if (argv[0] === 'assets') return argv.slice(1);
  if ((argv[0] === '--config' || argv[0] === '-c') && argv[2] === 'assets') return [argv[0], argv[1]!, ...argv.slice(3)];
  if (argv[0]?.startsWith('--config=') && argv[1] === 'assets') return [argv[0], ...argv.slice(2)];
  return null;
}
