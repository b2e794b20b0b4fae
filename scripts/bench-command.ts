/** `shlambda bench` (`npm run bench`): a benchmark, not a test; compares shlambda with a tutorial-style bootstrap and a no-spawn floor. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ContenderName,
  HANDLER_LANGUAGES,
  type HandlerLanguage,
  launchSpec,
  prepareFiles,
} from './bench/contenders.ts';
import { type Summary, summarize } from './bench/statistics.ts';
import { runTrial, SPACED_GAP_MS, type TrialSamples } from './bench/trial.ts';
import { ensureLayerBuilt } from './build-command.ts';
import { hostArchitecture, layerZipPath, PROJECT_ROOT } from './layer-paths.ts';
import { unzipTo } from './unzip.ts';

const HELP = `Usage: shlambda bench [--rounds N] [--warm N] [--spaced N] [--soak N] [--languages bash,python,php,ruby,perl] [--out FILE]

Runs, interleaved round by round, the built layer's bootstrap, a tutorial-style bash + curl bootstrap
and a no-spawn Node floor against the local Runtime API, for each handler language with a small and a
1 MB event. Warm invocations come back to back (each the moment the runtime asks); with the small event,
--spaced more come ${SPACED_GAP_MS} ms after the runtime asked, as sporadic traffic does. Then, once per
language, shlambda and the floor serve --soak small invocations back to back, and their resident memory
is measured after them: a warm environment serves thousands. Prints tables and writes JSON (default
bench-results/bench.json).`;

const CONTENDERS: ContenderName[] = ['shlambda', 'tutorial', 'floor'];
const EVENTS = {
  small: Buffer.from('{"hello":"world"}'),
  '1MB': Buffer.from(JSON.stringify({ data: 'x'.repeat(1024 * 1024 - 11) })),
} as const;
type EventName = keyof typeof EVENTS;

export async function runBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '5' },
      warm: { type: 'string', default: '30' },
      spaced: { type: 'string', default: '10' },
      soak: { type: 'string', default: '2000' },
      languages: { type: 'string', default: 'bash,python,php' },
      out: { type: 'string', default: path.join(PROJECT_ROOT, 'bench-results', 'bench.json') },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const rounds = Number(values.rounds);
  const warm = Number(values.warm);
  const spaced = Number(values.spaced);
  const soak = Number(values.soak);
  const languages = values.languages.split(',') as HandlerLanguage[];
  const unknown = languages.filter((language) => !HANDLER_LANGUAGES.includes(language));
  if (unknown.length > 0) {
    console.error(
      `shlambda bench: unknown language ${unknown.join(', ')}; choose from ${HANDLER_LANGUAGES.join(', ')}`,
    );
    return 2;
  }

  const zip = layerZipPath(hostArchitecture());
  await ensureLayerBuilt(hostArchitecture(), zip, (line) => console.error(line));
  const benchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-bench-'));
  const layerDir = path.join(benchDir, 'opt');
  await unzipTo(zip, layerDir);
  const taskRootFor = prepareFiles(benchDir);

  const samples = new Map<string, TrialSamples[]>();
  const soaked: SoakRow[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotating the order keeps any drift of the machine from favouring one contender.
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length] as ContenderName);
      for (const language of languages) {
        for (const eventName of Object.keys(EVENTS) as EventName[]) {
          for (const contender of order) {
            const launch = launchSpec(contender, language, {
              layerDir,
              benchDir,
              taskRoot: taskRootFor(language),
              runtimeApi: '',
            });
            const warmCount = eventName === 'small' ? warm : Math.max(5, Math.round(warm / 3));
            const trial = await runTrial(
              launch,
              EVENTS[eventName],
              warmCount,
              eventName === 'small' ? spaced : 0,
            );
            const key = `${contender}|${language}|${eventName}`;
            samples.set(key, [...(samples.get(key) ?? []), trial]);
          }
        }
      }
      console.error(`bench: round ${round + 1}/${rounds} done`);
    }
    // Memory after many invocations: V8 grows its heap, and pages in its optimizing compiler, only once
    // code has run hot, so the few dozen invocations of a round understate a warm environment's.
    for (const language of soak > 0 ? languages : []) {
      for (const contender of ['shlambda', 'floor'] as const) {
        const launch = launchSpec(contender, language, {
          layerDir,
          benchDir,
          taskRoot: taskRootFor(language),
          runtimeApi: '',
        });
        const trial = await runTrial(launch, EVENTS.small, soak, 0);
        soaked.push({ contender, language, rssMiB: trial.rssKiB / 1024 });
      }
      console.error(`bench: ${soak} invocations of ${language} done`);
    }
  } finally {
    fs.rmSync(benchDir, { recursive: true, force: true });
  }

  const rows = [...samples].map(([key, trials]) => {
    const [contender, language, event] = key.split('|') as [ContenderName, HandlerLanguage, EventName];
    return { contender, language, event, ...summarize(trials) };
  });
  const machine = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
  printTable(rows);
  printTargets(rows, soaked, soak);
  fs.mkdirSync(path.dirname(values.out), { recursive: true });
  fs.writeFileSync(
    values.out,
    `${JSON.stringify({ machine, rounds, warm, spaced, soak, rows, soaked }, null, 2)}\n`,
  );
  console.log(
    `\n${machine.date} on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGiB} GiB); JSON: ${values.out}`,
  );
  return 0;
}

type Row = { contender: ContenderName; language: HandlerLanguage; event: EventName } & Summary;
/** Resident memory after the soak's invocations. */
type SoakRow = { contender: 'shlambda' | 'floor'; language: HandlerLanguage; rssMiB: number };

function printTable(rows: Row[]): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '-');
  console.log(
    `| runtime | handler | event | latency p50 / p90 / p99 ms | billed p50 / p90 ms | spaced ${SPACED_GAP_MS} ms: latency / billed p50 | invocations/s | cold start ms | init ms | runtime RSS MiB | with handler MiB |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.contender} | ${r.language} | ${r.event} | ${f(r.latency.p50)} / ${f(r.latency.p90)} / ${f(r.latency.p99)} | ` +
        `${f(r.billed.p50)} / ${f(r.billed.p90)} | ${f(r.spacedLatency.p50)} / ${f(r.spacedBilled.p50)} | ${f(r.perSecond)} | ${f(r.coldMs)} | ${f(r.initMs)} | ${f(r.rssMiB)} | ${f(r.treeRssMiB)} |`,
    );
  }
}

/** The issue's targets: shlambda as a ratio of the tutorial-style bootstrap in the same run. */
function printTargets(rows: Row[], soaked: SoakRow[], soak: number): void {
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
  const soakedRss = (contender: SoakRow['contender'], language: HandlerLanguage) =>
    soaked.find((r) => r.contender === contender && r.language === language)?.rssMiB.toFixed(1) ?? '-';
  console.log(
    `\n| handler | event | latency p50 ratio (<= 0.10): back to back / spaced ${SPACED_GAP_MS} ms | billed p50 ratio (<= 0.15): back to back / spaced | cold start ratio (<= 1.0) | shlambda runtime RSS MiB (<= 60): in the rounds${soaked.length > 0 ? ` / after ${soak} (floor)` : ''} |`,
  );
  console.log('|---|---|---|---|---|---|');
  const soakColumn = (s: Row): string =>
    s.event === 'small' && soaked.length > 0
      ? ` / ${soakedRss('shlambda', s.language)} (${soakedRss('floor', s.language)})`
      : '';
  for (const s of rows.filter((r) => r.contender === 'shlambda')) {
    const t = rows.find(
      (r) => r.contender === 'tutorial' && r.language === s.language && r.event === s.event,
    );
    if (!t) continue;
    console.log(
      `| ${s.language} | ${s.event} | ${ratio(s.latency.p50, t.latency.p50)} / ${ratio(s.spacedLatency.p50, t.spacedLatency.p50)} | ` +
        `${ratio(s.billed.p50, t.billed.p50)} / ${ratio(s.spacedBilled.p50, t.spacedBilled.p50)} | ` +
        `${ratio(s.coldMs, t.coldMs)} | ${s.rssMiB.toFixed(1)}${soakColumn(s)} |`,
    );
  }
}
