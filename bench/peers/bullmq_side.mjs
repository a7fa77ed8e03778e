// The BullMQ side of bench/peers/run.py. Every mode prints one JSON line on stdout.
// Times are wall-clock milliseconds since the epoch (performance.timeOrigin + performance.now(), so
// sub-millisecond), comparable with the Python side's time.time_ns() on the same machine.
//
//   node bullmq_side.mjs fill       URL QUEUE JOBS BATCH         add JOBS jobs with addBulk (untimed setup)
//   node bullmq_side.mjs add-single URL QUEUE JOBS               sequential awaited add, timed
//   node bullmq_side.mjs add-bulk   URL QUEUE JOBS BATCH         addBulk in batches of BATCH, timed
//   node bullmq_side.mjs worker     URL QUEUE JOBS CONCURRENCY   one Worker; prints "ready", then a report
//   node bullmq_side.mjs produce    URL QUEUE JOBS RATE          add at a fixed rate, payload carries t_ms
//
// Default job options and retention everywhere (no removeOnComplete, attempts 1). The worker's
// handler awaits one PING on its own ioredis connection (not BullMQ's).
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";

const importedMs = performance.timeOrigin + performance.now();
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const JOB_NAME = "bench.noop.v1";

function connection(url) {
  // BullMQ's own connections: workers need maxRetriesPerRequest null.
  return new IORedis(url, { maxRetriesPerRequest: null });
}

async function fill(url, name, jobs, batch) {
  const queue = new Queue(name, { connection: connection(url) });
  for (let start = 0; start < jobs; start += batch) {
    const chunk = [];
    for (let i = start; i < Math.min(jobs, start + batch); i++) chunk.push({ name: JOB_NAME, data: { i } });
    await queue.addBulk(chunk);
  }
  await queue.close();
  return { jobs };
}

async function addSingle(url, name, jobs) {
  const queue = new Queue(name, { connection: connection(url) });
  await queue.waitUntilReady();
  const begin = performance.now();
  for (let i = 0; i < jobs; i++) await queue.add(JOB_NAME, { i });
  const seconds = (performance.now() - begin) / 1000;
  await queue.close();
  return { jobs, seconds };
}

async function addBulk(url, name, jobs, batch) {
  const queue = new Queue(name, { connection: connection(url) });
  await queue.waitUntilReady();
  const begin = performance.now();
  for (let start = 0; start < jobs; start += batch) {
    const chunk = [];
    for (let i = start; i < Math.min(jobs, start + batch); i++) chunk.push({ name: JOB_NAME, data: { i } });
    await queue.addBulk(chunk);
  }
  const seconds = (performance.now() - begin) / 1000;
  await queue.close();
  return { jobs, batch_size: batch, seconds };
}

async function work(url, name, jobs, concurrency) {
  const ioStarted = performance.now();
  const own = new IORedis(url);
  await own.ping(); // connected before the worker starts, as a service's own client would be
  const handlerIoSetupS = (performance.now() - ioStarted) / 1000;
  const queue = new Queue(name, { connection: connection(url) });
  const latencyMs = [];
  let handled = 0;
  let firstDoneMs = 0;
  let lastDoneMs = 0;
  let allHandled;
  const done = new Promise((resolve) => (allHandled = resolve));
  const worker = new Worker(
    name,
    async (job) => {
      if (job.data.t_ms !== undefined) latencyMs.push(now() - job.data.t_ms);
      await own.ping();
      handled += 1;
      if (handled === 1) firstDoneMs = now();
      if (handled >= jobs) {
        lastDoneMs = now();
        allHandled();
      }
    },
    { connection: connection(url), concurrency },
  );
  await worker.waitUntilReady();
  const readyMs = now();
  process.stdout.write("ready\n");
  await done;
  // The last completion is stored once nothing is waiting, delayed or active (as on the Python side).
  for (;;) {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "wait");
    if (Object.values(counts).every((n) => n === 0)) break;
    await sleep(2);
  }
  const drainedMs = now();
  await worker.close();
  await queue.close();
  own.disconnect();
  return {
    imported_ms: importedMs,
    ready_ms: readyMs,
    first_done_ms: firstDoneMs,
    last_done_ms: lastDoneMs,
    drained_ms: drainedMs,
    latency_ms: latencyMs,
    handler_io_setup_s: handlerIoSetupS,
    cpu_s: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  };
}

async function produce(url, name, jobs, rate) {
  const queue = new Queue(name, { connection: connection(url) });
  await queue.waitUntilReady();
  const gapMs = 1000 / rate;
  const begin = performance.now();
  for (let i = 0; i < jobs; i++) {
    await queue.add(JOB_NAME, { i, t_ms: now() });
    await sleep(begin + (i + 1) * gapMs - performance.now());
  }
  await queue.close();
  return { jobs, rate_per_s: rate };
}

const [mode, url, name, a, b] = process.argv.slice(2);
const modes = {
  fill: () => fill(url, name, Number(a), Number(b)),
  "add-single": () => addSingle(url, name, Number(a)),
  "add-bulk": () => addBulk(url, name, Number(a), Number(b)),
  worker: () => work(url, name, Number(a), Number(b)),
  produce: () => produce(url, name, Number(a), Number(b)),
};
if (!(mode in modes)) {
  process.stderr.write(`usage: node bullmq_side.mjs {${Object.keys(modes).join("|")}} URL QUEUE ...\n`);
  process.exit(2);
}
const result = await modes[mode]();
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
