// `tt-agent rng [MODULE|URI]`: the token's hardware RNG, health-tested, into the kernel's
// entropy pool (RNDADDENTROPY, needs CAP_SYS_ADMIN) or into a file / stdout (--output).
// A foreground process: run it under systemd (contrib/tt-agent-rng.service) as a daemon.
import * as fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { examplesEpilog } from './help-examples';
import { resolveModuleSpec } from '../pkcs11';
import { DEFAULT_CONFIG_PATH, loadRngSettings, parseRatio, type RngFlags } from '../rng/config';
import { Feeder, HealthTestAbort, type Log, type LogLevel } from '../rng/feeder';
import { HealthTests } from '../rng/health';
import { FileSink, KernelPoolSink, StreamSink, type EntropySink } from '../rng/kernel';
import { TokenRandomSource } from '../rng/token-source';
import { UserError } from './user-error';

interface RngArgs {
  module?: string;
  config?: string;
  slot?: number;
  'entropy-ratio'?: string;
  chunk?: string;
  interval?: number;
  once?: string;
  output?: string;
  foreground?: boolean;
  verbose?: boolean;
}

export const command: CommandModule<object, RngArgs> = {
  command: 'rng [module]',
  describe: "feed the token's hardware random generator into the kernel entropy pool",
  builder: (y: Argv<object>) =>
    y
      .positional('module', {
        type: 'string',
        describe: `PKCS#11 module path, p11-kit module name, or pkcs11: URI (default: pkcs11_library from ${DEFAULT_CONFIG_PATH})`,
      })
      .option('config', { type: 'string', describe: `TokenRNG configuration file (default ${DEFAULT_CONFIG_PATH}, if present)` })
      .option('slot', { type: 'number', describe: 'PKCS#11 slot ID of the token (TokenRNG reader_slot)' })
      .option('entropy-ratio', { type: 'string', describe: 'bits credited per byte, 0 to 8 (default 2; 0 mixes without credit)' })
      .option('chunk', { type: 'string', describe: 'bytes per C_GenerateRandom call (default 128; K/M suffixes)' })
      .option('interval', { type: 'number', describe: 'seconds between chunks where the kernel entropy count is fixed (default 60)' })
      .option('once', { type: 'string', describe: 'read this many bytes (K/M suffixes) as fast as the token allows, then exit' })
      .option('output', { type: 'string', nargs: 1, describe: "write the tested bytes to FILE ('-': stdout) instead of the kernel; no root needed" })
      .option('foreground', { alias: 'D', type: 'boolean', describe: 'accepted for compatibility: the feeder always stays in the foreground' })
      .option('verbose', { alias: 'v', type: 'boolean', describe: 'log every chunk (as debug = yes in the file)' })
      .epilog(
        examplesEpilog([
          ['tt-agent rng opensc', 'feed the kernel from the first OpenSC token (as root)'],
          ['tt-agent rng softhsm2 --once 1M --output random.bin', '1 MiB of tested token output into a file'],
        ]),
      ) as Argv<RngArgs>,
  handler: async (argv) => {
    process.exitCode = await runRng(argv);
  },
};

export async function runRng(argv: RngArgs): Promise<number> {
  const flags: RngFlags = {
    module: argv.module,
    slot: argv.slot,
    chunkSize: argv.chunk !== undefined ? parseByteCount(argv.chunk, '--chunk') : undefined,
    entropyRatio: argv['entropy-ratio'] !== undefined ? parseRatio(argv['entropy-ratio'], '--entropy-ratio') : undefined,
    intervalSeconds: argv.interval,
    debug: argv.verbose ? true : undefined,
  };
  if (argv.slot !== undefined && !(Number.isInteger(argv.slot) && argv.slot >= 0)) {
    throw new UserError(`--slot ${argv.slot} is not a slot number`, 'Give the slot ID as a whole number (tt-agent list shows them).', 2);
  }
  const once = argv.once !== undefined ? parseByteCount(argv.once, '--once') : undefined;
  const settings = loadRngSettings(flags, argv.config);
  const log = makeLogger(settings.debug);
  for (const w of settings.warnings) log('warn', w);

  const sink = openSink(argv.output);
  const resolved = resolveModuleSpec(settings.module);
  if (resolved.source === 'default' || resolved.source === 'env') {
    const why = resolved.source === 'env' ? 'from TT_AGENT_MODULE' : `the default: none named here or as pkcs11_library in ${settings.configFile ?? DEFAULT_CONFIG_PATH}`;
    log('info', `using PKCS#11 module ${resolved.modulePath} (${why})`);
  }
  const source = new TokenRandomSource({ modulePath: resolved.modulePath, uri: resolved.uri, slot: settings.slot, log });
  const feeder = new Feeder({
    source,
    sink,
    health: HealthTests.forEntropyRatio(settings.entropyRatio),
    chunkSize: settings.chunkSize,
    entropyRatio: settings.entropyRatio,
    intervalMs: settings.intervalSeconds * 1000,
    log,
  });
  const stop = new AbortController();
  const onStop = () => stop.abort();
  const onStats = () => feeder.logStats();
  process.on('SIGINT', onStop).on('SIGTERM', onStop).on('SIGUSR1', onStats);
  try {
    source.open();
    log('debug', `module ${resolved.modulePath}${settings.configFile ? `, settings from ${settings.configFile}` : ''}`);
    if (once !== undefined) {
      await feeder.once(once, stop.signal);
    } else {
      log('info', `feeding ${sink.description} from ${resolved.modulePath}; SIGUSR1 logs statistics`);
      await feeder.run(stop.signal);
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return once === undefined ? 0 : 130;
    if (isBrokenPipe(err)) return 0; // `tt-agent rng --output - | head -c N` is a normal way to stop
    if (err instanceof HealthTestAbort && sink instanceof FileSink) sink.discard();
    throw err;
  } finally {
    process.off('SIGINT', onStop).off('SIGTERM', onStop).off('SIGUSR1', onStats);
    if (feeder.stats.bytesRead > 0) feeder.logStats();
    await source.close();
    await sink.close().catch(() => undefined);
  }
}

function openSink(output: string | undefined): EntropySink {
  if (output === '-') return new StreamSink(process.stdout, 'stdout', false);
  if (output !== undefined) return new FileSink(output);
  if (!hasCapSysAdmin()) {
    throw new UserError('feeding the kernel needs root (CAP_SYS_ADMIN)', 'Run as root, or use --output FILE to write the tested bytes to a file.');
  }
  return new KernelPoolSink();
}

/** CAP_SYS_ADMIN (bit 21) in the effective set, from /proc/self/status. */
function hasCapSysAdmin(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 21n)) !== 0n;
  } catch {
    return process.getuid?.() === 0;
  }
}

/** "1048576", "64K", "64KiB", "1M": a byte count. */
export function parseByteCount(text: string, flag: string): number {
  const m = /^(\d+)\s*(k|kib|kb|m|mib|mb)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * ({ k: 1024, m: 1024 * 1024 }[(m[2] ?? '').charAt(0).toLowerCase()] ?? 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UserError(`${flag} ${text} is not a byte count`, `Give a whole number of bytes, optionally with K or M, e.g. ${flag} 64K.`, 2);
  }
  return n;
}

// Under systemd, stderr goes to the journal: a "<N>" priority prefix and no timestamp
// (sd-daemon(3)); on a terminal, a timestamp and the level.
const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

function makeLogger(debug: boolean): Log {
  const journal = process.env.JOURNAL_STREAM !== undefined;
  return (level, message) => {
    if (level === 'debug' && !debug) return;
    const line = journal
      ? `<${PRIORITY[level]}>${message}\n`
      : `${new Date().toISOString()} tt-agent rng ${level}: ${message}\n`;
    process.stderr.write(line);
  };
}

function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}
